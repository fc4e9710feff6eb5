"""The demo: a fictional self-service account shipped inside the package.

The data is written by scripts/make_demo.py; its config is config.example.toml.
"""

import gzip
import json
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib.resources import files
from typing import Any

from ffkpi.config import Config, KpiConfig, parse_config
from ffkpi.engine.calendar import kpi_window, parse_week, quarter_of
from ffkpi.engine.crm import Deal, Stage, carr_closed, carr_projected, within_days
from ffkpi.engine.model import Dataset
from ffkpi.sources.files import parse_input
from ffkpi.storage.kpis import Recorded

# The demo account is a snapshot taken on this day; trials and coupons end around it.
DEMO_AS_OF = date(2026, 11, 17)
_DATA = files("ffkpi") / "data"


def load_demo(*, history: bool | None = False) -> Dataset:
    """The demo account; with `history`, its two years of invoices as well."""
    raw = _DATA.joinpath("demo.json.gz").read_bytes()
    return parse_input(raw, "the demo data", history=history)


def example_config_text() -> str:
    return _DATA.joinpath("config.example.toml").read_text(encoding="utf-8")


def demo_config() -> Config:
    return parse_config(example_config_text(), "config.example.toml")


def demo_kpis() -> tuple[dict[str, KpiConfig], dict[str, dict[str, Recorded]]]:
    """The handbook's six other KPIs for the demo, and their values for its last twelve
    weeks: throughput, MQLs and CARR computed from the simulated GitHub and HubSpot
    accounts, the others made up (via "example": every output marks them)."""
    text = _DATA.joinpath("demo_kpis.toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    kpis = parse_config(
        'currency = "usd"\n[[tiers]]\nname = "x"\nrule = "net"\nproducts = [{ id = "x" }]\n'
        + text.split("\n[values.", 1)[0],
        "the demo's KPIs",
    ).kpis
    at = datetime.combine(DEMO_AS_OF, time(6), UTC)
    values = {
        week: {key: Recorded(Decimal(value), "example", at) for key, value in entries.items()}
        for week, entries in document["values"].items()
    }
    simulated = json.loads(gzip.decompress(_DATA.joinpath("demo_sources.json.gz").read_bytes()))
    for week, entries in values.items():
        day = parse_week(week) + timedelta(days=DEMO_AS_OF.weekday())  # its Tuesday
        for key, (value, note) in _computed(simulated, kpis, day).items():
            entries[key] = Recorded(value, "example", at, note)
    return dict(kpis), values


def _computed(
    simulated: dict[str, Any], kpis: dict[str, KpiConfig], day: date
) -> dict[str, tuple[Decimal, str]]:
    """Throughput, MQLs and CARR as of `day`, by the KPI sources' rules, from the
    simulated accounts; a deal as its stage stood on that day (its history)."""
    github, hubspot = simulated["github"], simulated["hubspot"]
    week = kpi_window(kpis["engineering_throughput"].period, day)
    merged = within_days((at for _, _, at in github["pulls"]), week.since, week.until)
    mqls = within_days(hubspot["mqls"], week.since, week.until)
    closed, projected, deals = simulated_carr(hubspot, day)
    repos = len(github["repositories"])
    return {
        "engineering_throughput": (
            Decimal(merged),
            f"simulated GitHub, {repos} repositories",
        ),
        "mqls": (Decimal(mqls), "simulated HubSpot contacts"),
        "carr_closed": (closed, f"simulated HubSpot, {deals} deals"),
        "carr_projected": (
            projected,
            f"simulated HubSpot, {deals} deals as they stood on {day}",
        ),
    }


def simulated_carr(hubspot: dict[str, Any], day: date) -> tuple[Decimal, Decimal, int]:
    """CARR closed and projected as of `day` from a simulated HubSpot account (its
    stages, and its deals with their history), and how many deals were open by then."""
    stages = {
        ("default", key): Stage(Decimal(probability), closed)
        for key, _, probability, closed in hubspot["stages"]
    }
    cutoff = int(datetime.combine(day + timedelta(days=1), time(), UTC).timestamp())
    deals = [deal for raw in hubspot["deals"] if (deal := _deal_on(raw, cutoff)) is not None]
    quarter = quarter_of(day)
    return (
        carr_closed(deals, stages, ["default"], quarter, day),
        carr_projected(deals, stages, ["default"], quarter, day),
        len(deals),
    )


def _deal_on(raw: dict[str, Any], cutoff: int) -> Deal | None:
    """A simulated deal as it stood before `cutoff` (its stage then), or None before it
    was opened."""
    stages = [stage for at, stage in raw["history"] if at < cutoff]
    if not stages:
        return None
    return Deal(
        id=raw["id"],
        pipeline=raw["pipeline"],
        stage=stages[-1],
        close_date=date.fromisoformat(raw["close"]),
        amount=Decimal(raw["amount"]),
    )
