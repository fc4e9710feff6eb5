"""How close the KPI sources come to the floor their APIs' rate limits set.

A year of weekly engineering throughput over five repositories (GitHub's issue search:
100 results a page, 1,000 a query, 30 searches a minute) and a year of weekly MQLs
(HubSpot's CRM search: 200 a page, 10,000 a query, five searches a second), read by
`record --run --since` a year back, against the fake GitHub and HubSpot of the tests on
127.0.0.1, each request answered after a realistic latency.

The floor of a source is the least time its pages can take: the pages its results fill
(results / page size, as if there were no per-query cap), one after another, each taking
the latency or the rate limit's spacing, whichever is longer, plus any wait a spent
per-minute limit forces. The ratio is the run's time over that floor.

Usage: uv run python benchmarks/kpi_sources.py [--latency 0.12] [--pulls 2600] [--mqls 6200]
"""

import argparse
import math
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_sources import (  # noqa: E402
    HUBSPOT_TOKEN,
    TOKEN,
    FakeGitHub,
    FakeHubSpot,
    HubspotObject,
    PullRequest,
    iso,
)
from ffkpi.config import KpiConfig  # noqa: E402
from ffkpi.sources.hubspot import MQL_DATE  # noqa: E402
from ffkpi.usecases.kpis import run_days  # noqa: E402
from ffkpi.usecases.sources import Got, Sources  # noqa: E402

REPOSITORIES = [f"acme/repo{n}" for n in range(5)]
TODAY = date(2026, 11, 17)
START = datetime(2025, 11, 1, tzinfo=UTC)


def year(count: int, seed: int) -> list[datetime]:
    rng = random.Random(seed)
    span = (datetime(2026, 11, 17, tzinfo=UTC) - START).total_seconds()
    return sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in range(count))


def floor(pages: int, latency: float, spacing: float, per_minute: int | None) -> float:
    """The least time `pages` requests can take one after another."""
    each = max(latency, spacing)
    if per_minute is None or pages <= per_minute:
        return pages * each
    return (math.ceil(pages / per_minute) - 1) * 60.0 + (pages % per_minute or per_minute) * each


def timed(kpi: KpiConfig, days: list[date], env: dict[str, str]) -> tuple[float, int, int]:
    """Seconds to read the source and compute every week, the weeks valued, requests."""
    started = time.perf_counter()
    sources = Sources(days, base=ROOT, env=env, now=datetime.now(UTC), running=TODAY)
    valued = sum(1 for day in days if isinstance(sources.value(kpi, day), Got))
    elapsed = time.perf_counter() - started
    requests = sum(sources.requests.values())
    sources.close()
    return elapsed, valued, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.12, help="seconds a response takes")
    parser.add_argument("--pulls", type=int, default=2_600, help="pull requests merged in a year")
    parser.add_argument("--mqls", type=int, default=6_200, help="MQLs in a year")
    args = parser.parse_args()

    merged = year(args.pulls, 1)
    pulls = [
        PullRequest(REPOSITORIES[n % 5], n, at - timedelta(hours=5), at)
        for n, at in enumerate(merged)
    ]
    contacts = [
        HubspotObject(str(n), {MQL_DATE: iso(at)}) for n, at in enumerate(year(args.mqls, 2))
    ]
    github = FakeGitHub(pulls, latency=args.latency)
    hubspot = FakeHubSpot(contacts=contacts, latency=args.latency)
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "HUBSPOT_TOKEN": HUBSPOT_TOKEN,
        "FFKPI_GITHUB_API": github.start(),
        "FFKPI_HUBSPOT_API": hubspot.start(),
    }
    days = run_days(ROOT / "no-such-folder", TODAY, None, TODAY - timedelta(weeks=52), None)
    throughput = KpiConfig.model_validate(
        {"name": "Throughput", "github": {"repositories": REPOSITORIES}}
    )
    mqls = KpiConfig.model_validate({"name": "MQLs", "hubspot_contacts": {}})
    try:
        gh_time, gh_weeks, gh_requests = timed(throughput, days, env)
        hs_time, hs_weeks, hs_requests = timed(mqls, days, env)
    finally:
        github.stop()
        hubspot.stop()
    first = days[0] - timedelta(days=7)
    in_span = [at for at in merged if first <= at.date() < TODAY]
    gh_pages = math.ceil(len(in_span) / 100)
    hs_in_span = sum(
        1
        for c in contacts
        if first <= datetime.fromisoformat(str(c.properties[MQL_DATE])).date() < TODAY
    )
    hs_pages = math.ceil(hs_in_span / 200)
    gh_floor = floor(gh_pages, args.latency, 0.0, 30)
    hs_floor = floor(hs_pages, args.latency, 0.2, None)
    print(f"{len(days)} weeks, {args.latency * 1000:.0f} ms a response")
    print(
        f"GitHub throughput: {len(in_span):,} pull requests over 5 repositories, {gh_weeks} weeks "
        f"valued; {gh_requests} requests for {gh_pages} pages; {gh_time:.2f} s, floor "
        f"{gh_floor:.2f} s: {gh_time / gh_floor:.2f}x"
    )
    print(
        f"HubSpot MQLs: {hs_in_span:,} contacts, {hs_weeks} weeks valued; {hs_requests} requests "
        f"for {hs_pages} pages; {hs_time:.2f} s, floor {hs_floor:.2f} s: {hs_time / hs_floor:.2f}x"
    )
    total, total_floor = gh_time + hs_time, gh_floor + hs_floor
    print(f"both: {total:.2f} s, floor {total_floor:.2f} s: {total / total_floor:.2f}x")


if __name__ == "__main__":
    main()
