"""The demo: a fictional self-service account shipped inside the package.

The data is written by scripts/make_demo.py; its config is config.example.toml.
"""

import tomllib
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib.resources import files

from ffkpi.config import Config, KpiConfig, parse_config
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
    """The handbook's six other KPIs for the demo, and made-up values for its last twelve
    weeks (via "example": every output marks them)."""
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
    return dict(kpis), values
