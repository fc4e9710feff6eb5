"""The demo: a fictional self-service account shipped inside the package.

The data is written by scripts/make_demo.py; its config is config.example.toml.
"""

from datetime import date
from importlib.resources import files

from ffkpi.config import Config, parse_config
from ffkpi.engine.model import Dataset
from ffkpi.sources.files import parse_input

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
