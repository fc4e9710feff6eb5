"""Write the demo's simulated GitHub and HubSpot accounts: src/ffkpi/data/demo_sources.json.gz.

Example data, for `ffkpi review --demo` to compute the handbook's throughput, MQLs and
CARR as it would from the real services: pull requests merged across five
repositories, contacts with the date they became MQLs, and deals named after the demo
account's own customers (their contracts' ARR), each with the history of its stage so
that a past week's projection is the pipeline as it stood then. Deterministic: the
same bytes on every run. Run: uv run python scripts/make_demo_sources.py
"""

import calendar
import gzip
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from ffkpi.sources.demo import simulated_carr

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "ffkpi" / "data" / "demo_sources.json.gz"
AS_OF = date(2026, 11, 17)  # keep in step with ffkpi.sources.demo.DEMO_AS_OF
START = date(2026, 5, 1)
REPOSITORIES = ["acme/app", "acme/api", "acme/agent", "acme/docs", "acme/website"]
# the handbook's stages: id, label, probability, closed
STAGES = [
    ("opportunity", "Opportunity", "0.1", False),
    ("valueidentified", "Value Identified", "0.3", False),
    ("valuevalidated", "Value Validated", "0.5", False),
    ("procurement", "Procurement", "0.7", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]


def instant(day: date, rng: random.Random) -> int:
    return calendar.timegm(day.timetuple()) + rng.randrange(86_400)


def pulls(rng: random.Random) -> list[list[object]]:
    made: list[list[object]] = []
    day, number = START, 1
    while day < AS_OF:
        weekday = day.weekday()
        mean = 0.6 if weekday >= 5 else 7.2 + (day - START).days / 120  # the team grows
        for _ in range(max(0, round(rng.gauss(mean, 2.0)))):
            made.append([rng.choice(REPOSITORIES), number, instant(day, rng)])
            number += 1
        day += timedelta(days=1)
    return made


def mqls(rng: random.Random) -> list[int]:
    made: list[int] = []
    day = START
    while day < AS_OF:
        mean = 14.0 + (day - START).days / 40 + (4 if day.weekday() < 5 else -9)
        made += [instant(day, rng) for _ in range(max(0, round(rng.gauss(mean, 3.5))))]
        day += timedelta(days=1)
    return made


def deals(rng: random.Random, customers: list[str]) -> list[dict[str, object]]:
    """A deal for some of the customers: opened, moved through the stages, then won
    (its close date the day it was won) or lost, or still open at the demo's day."""
    made: list[dict[str, object]] = []
    for n, name in enumerate(rng.sample(customers, 40)):
        opened = START + timedelta(days=rng.randrange((AS_OF - START).days))
        amount = rng.choice([6_000, 9_600, 12_000, 18_000, 24_000, 36_000, 48_000, 60_000])
        history = [[instant(opened, rng), "opportunity"]]
        day, stage = opened, 0
        outcome = rng.random()
        while stage < 3:
            day += timedelta(days=rng.randrange(5, 25))
            stage += 1
            history.append([instant(day, rng), STAGES[stage][0]])
        day += timedelta(days=rng.randrange(5, 30))
        ends = "closedwon" if outcome < 0.55 else "closedlost"
        history.append([instant(day, rng), ends])
        made.append(
            {
                "id": str(9_000_001 + n),
                "name": name,
                "pipeline": "default",
                "amount": str(amount),
                "close": day.isoformat(),  # planned, then the day it was decided
                "history": history,
            }
        )
    return made


# The review's worked case (review-rules.md) on the demo's day: CARR closed 168,000 and
# projected 402,000 of the 450,000 goal. Two deals of the last days make them exact.
CLOSED, PROJECTED = 168_000, 402_000


def carr(made: list[dict[str, object]]) -> tuple[Decimal, Decimal]:
    """CARR closed and projected on the demo's day, as `review --demo` computes them."""
    closed, projected, _ = simulated_carr({"stages": STAGES, "deals": made}, AS_OF)
    return closed, projected


def calibrated(made: list[dict[str, object]], customers: list[str]) -> list[dict[str, object]]:
    closed, projected = carr(made)
    won, weighted = CLOSED - closed, PROJECTED - CLOSED - (projected - closed)
    assert won > 0, (closed, projected)
    assert weighted > 0, (closed, projected)
    opened = calendar.timegm(date(2026, 9, 14).timetuple())
    decided = calendar.timegm((AS_OF - timedelta(days=1)).timetuple()) + 50_000
    made.append(
        {
            "id": "9000901",
            "name": customers[0],
            "pipeline": "default",
            "amount": str(won),
            "close": (AS_OF - timedelta(days=1)).isoformat(),
            "history": [
                [opened, "opportunity"],
                [opened + 30 * 86_400, "procurement"],
                [decided, "closedwon"],
            ],
        }
    )
    made.append(
        {
            "id": "9000902",
            "name": customers[1],
            "pipeline": "default",
            "amount": str(weighted * 2),  # at Value Validated, 0.5
            "close": date(2026, 12, 18).isoformat(),
            "history": [
                [opened + 20 * 86_400, "opportunity"],
                [opened + 40 * 86_400, "valuevalidated"],
            ],
        }
    )
    assert carr(made) == (CLOSED, PROJECTED)
    return made


def main() -> None:
    rng = random.Random(20261117)
    bundle = json.loads(gzip.decompress((OUT.parent / "demo.json.gz").read_bytes()))
    customers = sorted({c["name"] for c in bundle["customers"] if c.get("name")})
    document = {
        "example": "simulated GitHub and HubSpot accounts of the demo: made-up data",
        "github": {"repositories": REPOSITORIES, "pulls": pulls(rng)},
        "hubspot": {
            "mqls": mqls(rng),
            "stages": [list(s) for s in STAGES],
            "deals": calibrated(deals(rng, customers), customers),
        },
    }
    text = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    OUT.write_bytes(gzip.compress(text, mtime=0))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
