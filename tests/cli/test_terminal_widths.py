"""Every command's text at the terminal's width: tables in parts that fit, notes wrapped
between words (a number never apart from its "%"), charts that draw every week."""

import json
import re
from pathlib import Path

import pytest

import stripe_fixtures as sf
from conftest import ROOT, Ffkpi

pytestmark = pytest.mark.slow  # the quick run (-m "not slow") leaves it to CI

COMMANDS = [
    ("mrr", "--demo"),
    ("arr", "--demo"),
    ("history", "--demo", "--by-tier"),
    ("movements", "--demo"),
    ("check", "--demo"),
    ("backfill", "--demo", "--since", "2026-10-01", "--dir", "kpi"),
    ("init", "--demo", "--yes", "--output", "new.toml"),
]


@pytest.fixture
def configured(cli_env: Path) -> Path:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    return cli_env


@pytest.mark.parametrize("columns", [50, 80, 120])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_line_fits_the_terminal(
    ffkpi: Ffkpi,
    configured: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    columns: int,
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = ffkpi(*command)
    assert result.exit_code in (0, 3), result.output  # check: 3 for the demo's findings
    text = result.stdout + result.stderr
    # A message ("ffkpi: ...") is one line by design, whatever the width.
    lines = [line for line in text.splitlines() if not line.startswith("ffkpi: ")]
    too_wide = [line for line in lines if len(line) > columns]
    assert too_wide == []
    assert "…" not in text


def test_figures_of_a_table_in_parts_are_all_there(
    ffkpi: Ffkpi, configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    narrow = ffkpi("mrr", "--demo").stdout
    for figure in ("5,712.50", "68,550.00", "100,266.13", "1,203,193.60", "1189"):
        assert figure in narrow
    assert narrow.count("Tier / product") == 2  # the names again beside ARR
    monkeypatch.setenv("COLUMNS", "80")
    assert ffkpi("mrr", "--demo").stdout.count("Tier / product") == 1


def test_notes_wrap_between_words_and_keep_numbers_with_their_percent(
    ffkpi: Ffkpi, configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = set()
    for columns in range(44, 90, 3):
        monkeypatch.setenv("COLUMNS", str(columns))
        out = ffkpi("history", "--demo", "--weeks", "4").stdout
        assert not re.search(r"^%", out, re.MULTILINE), columns
        rates = out.split("Last 4 weeks")[1].split("\n\n")[0]
        assert not re.search(r"\d$", rates, re.MULTILINE), columns
        notes = out.split("Rebuilt weeks cannot show:")[1]
        words |= {(columns, w) for w in notes.split()}
    # the same words at every width: none broken in two
    by_width: dict[int, set[str]] = {}
    for columns, word in words:
        by_width.setdefault(columns, set()).add(word)
    assert len({frozenset(ws) for ws in by_width.values()}) == 1


def test_a_three_digit_growth_fits_80_columns(ffkpi: Ffkpi, cli_env: Path) -> None:
    """Not on a terminal Rich assumes 80 columns: weeks more than doubling still fit."""
    (cli_env / "ffkpi.toml").write_text(
        'currency = "usd"\n[[tiers]]\nname = "All"\nrule = "net"\nproducts = [{ id = "prod_a" }]\n'
    )
    amounts = ["100", "25000", "9999999", "99999999"]
    for n, (day, amount) in enumerate(zip(["03", "10", "17", "24"], amounts, strict=True)):
        page = sf.list_page(
            [sf.subscription_of("sub_1", "cus_1", (sf.price(f"p{n}", "prod_a", int(amount)), 1))]
        )
        (cli_env / "in.json").write_text(json.dumps(page))
        assert ffkpi("snapshot", "-i", "in.json", "--as-of", f"2026-11-{day}").exit_code == 0
    result = ffkpi("history")
    assert result.exit_code == 0, result.stderr
    assert "24900.00 %" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_the_chart_draws_a_bar_for_every_week(ffkpi: Ffkpi, configured: Path) -> None:
    """Scaled to MRR and to what each week needed, not to the first week grown at 10 % a
    week (142 times higher a year on)."""
    result = ffkpi("history", "--demo")
    chart = result.stdout.split("weekly target\n")[1].split("█ MRR")[0]
    rows = chart.splitlines()
    assert len(rows) == 53
    assert all("█" in row for row in rows)
    assert all("│" in row for row in rows[1:])  # the first has no week before it shown


def test_the_movements_chart_never_prints_minus_zero(ffkpi: Ffkpi, configured: Path) -> None:
    result = ffkpi("history", "--demo", "--since", "2024-11-20")
    assert result.exit_code == 0, result.stderr
    assert "-0.00" not in result.stdout
    assert " 0.00\n" in result.stdout  # a week in the demo's first months with nothing out
