"""The KPIs' built-in sources through `record --run`, `check` and the review, against
fake GitHub and HubSpot servers on 127.0.0.1: kpi-sources.md's worked case to the cent,
past weeks filled in about the pages their data needs, the deals export giving the
same figures as HubSpot on the same deals, and refusals each in one line."""

import csv
import gzip
import io
import json
import random
import re
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import DEMO, ROOT, Ffkpi, Slack
from fake_sources import (
    HUBSPOT_TOKEN,
    TOKEN,
    FakeGitHub,
    FakeHubSpot,
    HubspotObject,
    HubspotStage,
    PullRequest,
    iso,
)
from fake_stripe import SECRET_KEY, FakeStripe
from ffkpi.engine.calendar import week_name
from ffkpi.errors import ExitCode
from ffkpi.sources.hubspot import MQL_DATE
from sources.test_github import worked_case as worked_pulls
from sources.test_hubspot import PIPELINES, STAGES, deal_objects

REPOS = ["acme/app", "acme/api", "acme/web"]
KPIS = f"""
[kpis.engineering_throughput]
name = "Engineering throughput"
goal = 40
[kpis.engineering_throughput.github]
repositories = {json.dumps(REPOS)}

[kpis.mqls]
name = "MQLs"
goal = 120
[kpis.mqls.hubspot_contacts]

[kpis.carr_projected]
name = "CARR Projected"
unit = "money"
period = "quarter_to_date"
[kpis.carr_projected.hubspot_deals]
measure = "projected"

[kpis.carr_closed]
name = "CARR Closed"
unit = "money"
period = "quarter_to_date"
[kpis.carr_closed.hubspot_deals]
measure = "closed"
"""
TUESDAY = datetime(2026, 11, 17, 6, 5, tzinfo=UTC)  # the worked case's morning


def pulls(seed: int = 7) -> list[PullRequest]:
    """The worked case's pull requests, and 600 more merged from August to January."""
    rng = random.Random(seed)
    found = [
        PullRequest(
            "acme/web" if p.repository == "acme/api" else p.repository,
            p.number,
            p.created_at,
            p.merged_at,
            p.closed_at,
        )
        for p in worked_pulls()
    ]
    start = datetime(2026, 8, 1, tzinfo=UTC)
    for number in range(100, 700):
        made = start + timedelta(seconds=rng.randrange(160 * 86_400))
        merged = made + timedelta(hours=rng.randrange(1, 200)) if rng.random() < 0.9 else None
        if merged is not None and datetime(2026, 11, 9, tzinfo=UTC) <= merged < datetime(
            2026, 11, 18, tzinfo=UTC
        ):
            merged += timedelta(days=10)  # the worked case's weeks hold its own only
        found.append(
            PullRequest(
                rng.choice(REPOS),
                number,
                made,
                merged,
                None if merged else made + timedelta(days=2),
            )
        )
    return found


def contacts(seed: int = 11) -> list[HubspotObject]:
    rng = random.Random(seed)
    start = datetime(2026, 8, 1, tzinfo=UTC)
    made = [
        HubspotObject(
            str(n), {MQL_DATE: iso(start + timedelta(seconds=rng.randrange(160 * 86_400)))}
        )
        for n in range(900)
    ]
    return [*made, *(HubspotObject(f"lead{n}", {MQL_DATE: None}) for n in range(50))]


@pytest.fixture
def fakes(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeGitHub, FakeHubSpot]]:
    github = FakeGitHub(pulls())
    hubspot = FakeHubSpot(contacts=contacts(), deals=deal_objects(), pipelines=PIPELINES)
    monkeypatch.setenv("FFKPI_GITHUB_API", github.start())
    monkeypatch.setenv("FFKPI_HUBSPOT_API", hubspot.start())
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text() + KPIS)
    yield github, hubspot
    github.stop()
    hubspot.stop()


def recorded(folder: Path, week: str) -> dict[str, dict[str, str]]:
    path = folder / "snapshots" / "kpis" / f"{week}.toml"
    return tomllib.loads(path.read_text())["values"] if path.exists() else {}


def test_the_worked_case_through_record_run(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ffkpi.clock.now", lambda: TUESDAY)
    result = ffkpi("record", "--run")
    assert result.exit_code == 0, result.stderr
    week = recorded(cli_env, "2026-W47")
    assert {key: entry["value"] for key, entry in week.items()} == {
        "engineering_throughput": "3",
        "mqls": str(expected_mqls(date(2026, 11, 10), date(2026, 11, 16))),
        "carr_projected": "213000.00",
        "carr_closed": "108000.00",
    }
    assert {entry["via"] for entry in week.values()} == {"source"}
    assert week["carr_closed"]["note"] == "HubSpot, 6 deals of 2026-Q4 read 2026-11-17 06:05 UTC"
    assert week["mqls"]["note"].startswith("HubSpot, ")
    assert week["engineering_throughput"]["note"].endswith(
        "of 3 repositories read 2026-11-17 06:05 UTC"
    )
    github, hubspot = fakes
    # one read each: a search a page, stages and a property check for the deals shared
    # by both CARR KPIs, a property check and the pages of contacts for the MQLs
    assert github.searches() == 1
    assert hubspot.searches() == 2
    assert len(hubspot.log) == 5
    # the review says where each value came from
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    page = ffkpi("review", "--input", "bundle.json", "--format", "html").stdout
    assert "HubSpot, 6 deals of 2026-Q4 read 2026-11-17 06:05 UTC</div>" in page
    # and shows each KPI's past, once `record --run --since` has filled it
    filled = ffkpi("record", "--run", "engineering_throughput", "mqls", "--since", "2026-09-01")
    assert filled.exit_code == 0, filled.stderr
    document = json.loads(ffkpi("review", "--input", "bundle.json", "--format", "json").stdout)
    throughput = document["kpis"][0]
    again = recorded(cli_env, "2026-W47")["engineering_throughput"]
    assert (throughput["value"], throughput["note"]) == (again["value"], again["note"])
    assert again["note"].startswith("GitHub, 246 merged pull requests")  # the run's read
    assert throughput["last_weeks"] == [
        recorded(cli_env, f"2026-W{n}")["engineering_throughput"]["value"]
        for n in range(48 - len(throughput["last_weeks"]), 48)
    ]
    assert len(throughput["last_weeks"]) >= 8


def expected_mqls(since: date, until: date) -> int:
    low = datetime(since.year, since.month, since.day, tzinfo=UTC)
    high = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    return sum(
        1
        for c in contacts()
        if c.properties[MQL_DATE]
        and low <= datetime.fromisoformat(c.properties[MQL_DATE].replace("Z", "+00:00")) < high
    )


def expected_throughput(since: date, until: date) -> int:
    low = datetime(since.year, since.month, since.day, tzinfo=UTC)
    high = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    return sum(1 for p in pulls() if p.merged_at is not None and low <= p.merged_at < high)


def test_past_weeks_in_the_pages_their_data_needs(
    ffkpi: Ffkpi, cli_env: Path, fakes: tuple[FakeGitHub, FakeHubSpot], clock: datetime
) -> None:
    result = ffkpi("record", "--run", "--since", "2026-09-01")
    assert result.exit_code == ExitCode.SOME_FAILED  # projected CARR: the running week only
    today = clock.date()
    weeks = 0
    tuesday = date(2026, 9, 1)
    while tuesday - timedelta(days=tuesday.weekday()) <= today:
        as_of = min(tuesday, today)
        name = f"{as_of.isocalendar().year}-W{as_of.isocalendar().week:02d}"
        week = recorded(cli_env, name)
        since, until = as_of - timedelta(days=7), as_of - timedelta(days=1)
        assert week["engineering_throughput"]["value"] == str(expected_throughput(since, until)), (
            name
        )
        assert week["mqls"]["value"] == str(expected_mqls(since, until)), name
        running = name == f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
        assert ("carr_projected" in week) is running, name
        weeks += 1
        tuesday += timedelta(days=7)
    assert weeks >= 14
    github, hubspot = fakes
    merged = sum(1 for p in pulls() if p.merged_at is not None)
    assert github.searches() <= -(-merged // 100) + 1  # the pages, never a search a week
    assert hubspot.searches() <= -(-900 // 200) + 2
    assert re.fullmatch(  # one line for the weeks a projection cannot tell
        r"ffkpi: error: carr_projected of \d+ weeks, 2026-W36 to 2026-W\d\d: projected CARR is a "
        r"forecast of its moment: HubSpot's deals as they stand now tell only the running "
        r"week's \(nothing recorded for it\)\n",
        result.stderr,
    )


def export(deals: list[HubspotObject]) -> str:
    """The deals as HubSpot's export writes them: labels, not ids."""
    labels = {stage.id: stage.label for stage in STAGES}
    pipelines = {key: label for key, (label, _) in PIPELINES.items()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Close Date", "Amount"])
    for deal in deals:
        p = deal.properties
        writer.writerow(
            [
                deal.id,
                f"Deal {deal.id}",
                pipelines[p["pipeline"]],
                labels[p["dealstage"]],
                (p["closedate"] or "")[:10],
                p["amount"],
            ]
        )
    return out.getvalue()


def random_deals(seed: int) -> list[HubspotObject]:
    rng = random.Random(seed)
    made = []
    for n in range(300):
        closes = datetime(2026, 6, 1, 12, tzinfo=UTC) + timedelta(days=rng.randrange(300))
        amount = f"{rng.randrange(1_000, 200_000)}.{rng.randrange(100):02d}"
        made.append(
            HubspotObject(
                f"r{n}",
                {
                    "pipeline": "default",
                    "dealstage": rng.choice(STAGES).id,
                    "closedate": iso(closes),
                    "amount": amount,
                },
            )
        )
    return [*deal_objects(), *made]


def test_the_deals_export_gives_hubspots_figures(
    ffkpi: Ffkpi, cli_env: Path, fakes: tuple[FakeGitHub, FakeHubSpot], clock: datetime
) -> None:
    _, hubspot = fakes
    deals = random_deals(3)
    hubspot.objects["deals"] = deals
    (cli_env / "deals.csv").write_text(export(deals))
    stages = "\n".join(
        f'stages."{s.label}" = {{ probability = {s.probability}, '
        f"closed = {str(s.closed).lower()} }}"
        for s in STAGES
    )
    table = "\n".join(
        f'[kpis.{key}_csv]\nname = "{key} from the export"\nunit = "money"\n'
        f'period = "quarter_to_date"\n[kpis.{key}_csv.deals_csv]\nmeasure = "{key[5:]}"\n'
        f'path = "deals.csv"\npipelines = ["Sales Pipeline"]\n{stages}\n'
        for key in ("carr_closed", "carr_projected")
    )
    config = cli_env / "ffkpi.toml"
    config.write_text(config.read_text() + table)
    result = ffkpi(
        "record",
        "--run",
        "carr_closed",
        "carr_closed_csv",
        "carr_projected",
        "carr_projected_csv",
        "--since",
        "2026-07-07",
    )
    assert result.exit_code == ExitCode.SOME_FAILED, result.stderr
    compared = 0
    for path in sorted((cli_env / "snapshots" / "kpis").glob("*.toml")):
        week = tomllib.loads(path.read_text())["values"]
        for key in ("carr_closed", "carr_projected"):
            if key in week:
                assert week[key]["value"] == week[f"{key}_csv"]["value"], path.name
                compared += 1
    assert compared >= 20


def test_a_refused_token_is_exit_4_and_the_others_are_recorded(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ffkpi.clock.now", lambda: TUESDAY)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked0000000000")
    result = ffkpi("record", "--run")
    assert result.exit_code == ExitCode.STRIPE_AUTH
    assert result.stderr == (
        "ffkpi: error: engineering_throughput of 2026-W47: GitHub refused the token: Bad "
        "credentials (set GITHUB_TOKEN to a token that can read the repositories (or gh auth "
        "login)) (nothing recorded for it)\n"
    )
    assert set(recorded(cli_env, "2026-W47")) == {"mqls", "carr_projected", "carr_closed"}
    assert "ghp_revoked" not in result.stdout + result.stderr


def test_hubspot_down_is_exit_5(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ffkpi.clock.now", lambda: TUESDAY)
    monkeypatch.setattr("ffkpi.sources.web.Api._pause", lambda self, seconds: None)
    _, hubspot = fakes
    hubspot.failing_first = 10_000
    result = ffkpi("record", "--run", "mqls")
    assert result.exit_code == ExitCode.STRIPE_UNAVAILABLE
    assert result.stderr.count("\n") == 1
    assert (
        "mqls of 2026-W47: HubSpot is failing: 502 Bad gateway on GET /crm/v3/properties/contacts/"
        in result.stderr
    )


def test_check_verifies_each_source(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ffkpi.clock.now", lambda: TUESDAY)
    result = ffkpi("check", "--demo", "--format", "json")
    assert result.exit_code == 0, result.stderr
    findings = [f for f in json.loads(result.stdout)["findings"] if f["topic"].startswith("kpis.")]
    said = {(f["topic"], f["message"]) for f in findings}
    assert ("kpis.engineering_throughput", "the GitHub token works (searches a minute: 30)") in said
    assert (
        "kpis.engineering_throughput",
        "GitHub repositories found: acme/app, acme/api, acme/web",
    ) in said
    assert any(m.startswith("3 for 2026-W47 (2026-11-10 to 2026-11-16); GitHub, ") for _, m in said)
    assert any(m.startswith("213,000.00 for 2026-W47") for _, m in said)
    (cli_env / "ffkpi.toml").write_text(
        (cli_env / "ffkpi.toml")
        .read_text()
        .replace('"acme/web"', '"acme/wbe"')
        .replace(
            '.hubspot_deals]\nmeasure = "closed"',
            '.hubspot_deals]\nmeasure = "closed"\npipelines = ["default", "enterprise"]',
        )
    )
    broken = ffkpi("check", "--demo", "--format", "json")
    assert broken.exit_code == ExitCode.STRIPE_AUTH, broken.stdout  # a token short of a repository
    errors = {
        (f["topic"], f["message"].split(" (")[0])
        for f in json.loads(broken.stdout)["findings"]
        if f["level"] == "error"
    }
    assert errors == {
        (
            "kpis.engineering_throughput",
            "GitHub: acme/wbe does not exist or this token cannot read it",
        ),
        ("kpis.carr_closed", "HubSpot has no deal pipeline enterprise"),
    }


def test_the_demo_computes_what_its_simulated_accounts_would_answer(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's throughput, MQLs and CARR are what `record --run` reads from GitHub and
    HubSpot serving its simulated accounts (as they stand on the demo's day)."""
    simulated = json.loads(
        gzip.decompress((ROOT / "src/ffkpi/data/demo_sources.json.gz").read_bytes())
    )
    cutoff = datetime(2026, 11, 18, tzinfo=UTC).timestamp()
    github, hubspot = fakes
    github.pulls = [
        PullRequest(
            repo, number, datetime.fromtimestamp(at - 3_600, UTC), datetime.fromtimestamp(at, UTC)
        )
        for repo, number, at in simulated["github"]["pulls"]
    ]
    github.repositories = set(simulated["github"]["repositories"])
    hubspot.objects["contacts"] = [
        HubspotObject(str(n), {MQL_DATE: iso(datetime.fromtimestamp(at, UTC))})
        for n, at in enumerate(simulated["hubspot"]["mqls"])
    ]
    deals = []
    for deal in simulated["hubspot"]["deals"]:
        seen = [stage for at, stage in deal["history"] if at < cutoff]
        if seen:
            properties = {
                "pipeline": "default",
                "dealstage": seen[-1],
                "closedate": f"{deal['close']}T12:00:00Z",
                "amount": deal["amount"],
            }
            deals.append(HubspotObject(deal["id"], properties))
    hubspot.objects["deals"] = deals
    hubspot.pipelines = {
        "default": (
            "Sales Pipeline",
            [
                HubspotStage(key, label, p, closed)
                for key, label, p, closed in simulated["hubspot"]["stages"]
            ],
        )
    }
    config = cli_env / "ffkpi.toml"
    config.write_text(
        config.read_text().replace(
            json.dumps(REPOS), json.dumps(simulated["github"]["repositories"])
        )
    )
    monkeypatch.setattr("ffkpi.clock.now", lambda: TUESDAY)
    assert ffkpi("record", "--run", "--since", "2026-09-01").exit_code == ExitCode.SOME_FAILED
    demo = json.loads(ffkpi("review", "--demo", "--format", "json").stdout)
    compared = 0
    for kpi in demo["kpis"]:
        if kpi["key"] not in ("engineering_throughput", "mqls", "carr_closed", "carr_projected"):
            continue
        read = recorded(cli_env, "2026-W47")[kpi["key"]]["value"]
        assert kpi["value"] == read, kpi["key"]
        previous = recorded(cli_env, "2026-W46").get(kpi["key"])
        if previous is not None:  # projected CARR: the running week only
            assert kpi["previous"] == previous["value"], kpi["key"]
        compared += 1
    assert compared == 4


def test_the_weekly_run_computes_the_sources_and_posts_them(
    ffkpi: Ffkpi,
    cli_env: Path,
    fakes: tuple[FakeGitHub, FakeHubSpot],
    start_fake: Callable[..., tuple[FakeStripe, str]],
    slack: str,
    clock: datetime,
) -> None:
    _, url = start_fake()
    env = {"STRIPE_API_KEY": SECRET_KEY, "STRIPE_API_BASE": url, "FFKPI_SLACK_WEBHOOK": slack}
    result = ffkpi("weekly", "-q", env=env)
    assert result.exit_code == 0, result.stderr
    week = week_name(clock.date())
    since, until = clock.date() - timedelta(days=7), clock.date() - timedelta(days=1)
    values = recorded(cli_env, week)
    assert values["engineering_throughput"]["value"] == str(expected_throughput(since, until))
    assert values["mqls"]["value"] == str(expected_mqls(since, until))
    assert {v["via"] for v in values.values()} == {"source"}
    assert len(Slack.received) == 1
    post = json.loads(Slack.received[0])["text"]
    assert f"*MQLs*: {values['mqls']['value']};" in post
