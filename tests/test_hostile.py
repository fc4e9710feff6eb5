"""Hostile and unlucky input: what names, ids, terminals, keys and files must never do.

One scenario per promise: a report always shows its numbers, errors are one line with
a documented exit code and no traceback, the key is never printed or sent anywhere
unsafe, nothing half-written is left, customer data is not handed to other users.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

import stripe_fixtures as sf
from conftest import Ffkpi
from ffkpi.errors import ExitCode

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\u202e"


def account(name: str, *, tier: str = "Self-service", product: str = "prod_a") -> dict[str, Any]:
    """One subscription of 3 x 19.99 to a product called `name`, and a config listing it."""
    subscription = sf.subscription_of("sub_1", "cus_1", (sf.price("price_1", product, 1999), 3))
    return {
        "subscriptions": [subscription],
        "products": [sf.product(product, name)],
        "config": f'currency = "usd"\n[[tiers]]\nname = {json.dumps(tier)}\nrule = "net"\n'
        f'products = [{{ id = "{product}" }}]\n',
    }


@pytest.fixture
def write_account(cli_env: Path) -> Any:
    def write(name: str, **kw: Any) -> Path:
        bundle = account(name, **kw)
        (cli_env / "ffkpi.toml").write_text(bundle.pop("config"))
        (cli_env / "bundle.json").write_text(json.dumps(bundle))
        return cli_env

    return write


class TestOutsideTextIsNeverMarkup:
    """Item 1: names from Stripe or files are text, never Rich markup."""

    @pytest.mark.parametrize(
        "name",
        ["Seats [/user]", "[bold]Big[/bold] plan", "[link=https://evil.example]Pro[/link]"],
    )
    def test_names_with_brackets_show_as_they_are(
        self, ffkpi: Ffkpi, write_account: Any, name: str
    ) -> None:
        write_account(name, tier=f"Self {name}")
        for command in ("mrr", "arr"):
            result = ffkpi(command, "-i", "bundle.json")
            assert result.exit_code == 0, result.stderr
            assert name in result.stdout  # printed literally, brackets and all
            assert "59.97" in result.stdout

    def test_init_lists_a_bracketed_name(self, ffkpi: Ffkpi, write_account: Any) -> None:
        write_account("Seats [/user]")
        result = ffkpi("init", "-i", "bundle.json", "--yes", "-o", "new.toml")
        assert result.exit_code == 0, result.stderr
        assert "Seats [/user]" in result.stderr

    def test_history_by_tier_with_a_bracketed_tier(self, ffkpi: Ffkpi, write_account: Any) -> None:
        write_account("Seats", tier="Self [/x] service")
        assert ffkpi("snapshot", "-i", "bundle.json", "--as-of", "2026-11-03").exit_code == 0
        result = ffkpi("history", "--by-tier")
        assert result.exit_code == 0, result.stderr
        assert "Self [/x] service: MRR week over week" in result.stdout


class TestFiguresAreNeverCut:
    """Item 2: at any width money stays whole; names wrap instead."""

    @pytest.mark.parametrize("columns", ["80", "40"])
    def test_a_long_name_leaves_every_figure_whole(
        self, ffkpi: Ffkpi, write_account: Any, monkeypatch: pytest.MonkeyPatch, columns: str
    ) -> None:
        monkeypatch.setenv("COLUMNS", columns)
        write_account("Enterprise " * 6 + "Platform")  # 65 characters
        result = ffkpi("mrr", "-i", "bundle.json")
        assert result.exit_code == 0
        assert "…" not in result.stdout
        total = next(line for line in result.stdout.splitlines() if "Total" in line)
        assert total.split()[-2:] == ["59.97", "719.64"]

    def test_the_demo_at_40_columns_keeps_every_figure(
        self, ffkpi: Ffkpi, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("COLUMNS", "40")
        result = ffkpi("mrr", "--demo")
        assert "…" not in result.stdout
        assert "114,716.33" in result.stdout
        assert "1,376,595.97" in result.stdout


class TestNoEscapeReachesTheTerminal:
    """Item 3: control characters and bidi overrides in names, ids and errors."""

    def test_names_with_escapes_are_shown_escaped(self, ffkpi: Ffkpi, write_account: Any) -> None:
        write_account(f"Pro{ESCAPES}")
        result = ffkpi("mrr", "-i", "bundle.json")
        assert result.exit_code == 0
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", result.stdout)
        assert r"Pro\x1b]0;pwned\x07\x1b[2J\u202e" in result.stdout

    def test_an_error_quoting_an_id_with_escapes_is_one_clean_line(
        self, ffkpi: Ffkpi, cli_env: Path
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        bad = {"object": "list", "data": [{"id": f"sub_{ESCAPES}"}]}
        (cli_env / "bad.json").write_text(json.dumps(bad))
        result = ffkpi("mrr", "-i", "bad.json")
        assert result.exit_code == ExitCode.INVALID
        assert len(result.stderr.splitlines()) == 1
        assert "\x1b" not in result.stderr
        assert "\u202e" not in result.stderr
        assert r"sub_\x1b]0;pwned\x07" in result.stderr

    @pytest.mark.parametrize("start", ["=", "+", "-", "@"])
    def test_csv_never_holds_a_live_formula(
        self, ffkpi: Ffkpi, write_account: Any, start: str
    ) -> None:
        write_account(f'{start}HYPERLINK("https://evil.example","Pro")', tier=f"{start}1+1")
        result = ffkpi("mrr", "-i", "bundle.json", "-f", "csv")
        row = result.stdout.splitlines()[1]
        assert row.startswith(f"'{start}1+1,prod_a,\"'{start}HYPERLINK(")
        assert row.endswith(",1,3,59.97,719.64")  # figures untouched


def test_history_never_compares_weeks_of_two_currencies(ffkpi: Ffkpi, write_account: Any) -> None:
    """Item 4: the currency is shown, growth restarts, the chart draws one currency."""
    folder = write_account("Pro")
    assert ffkpi("snapshot", "-i", "bundle.json", "--as-of", "2026-11-03").exit_code == 0
    config = (folder / "ffkpi.toml").read_text()
    (folder / "ffkpi.toml").write_text(
        config.replace('currency = "usd"', 'currency = "eur"\n[fx]\nusd = "0.9"')
    )
    assert ffkpi("snapshot", "-i", "bundle.json", "--as-of", "2026-11-10").exit_code == 0
    table = ffkpi("history")
    rows = [line.split() for line in table.stdout.splitlines() if "2026-11-" in line]
    assert rows[0][:3] == ["2026-W45*", "2026-11-03", "USD"]
    assert rows[1][:4] == ["2026-W46", "2026-11-10", "EUR", "53.97"]
    assert "%" not in " ".join(rows[1])  # no growth across the change
    assert "Weeks in different currencies are not compared" in table.stdout
    assert "MRR (EUR) against" in table.stdout
    assert "earlier weeks are in another currency" in table.stdout
    document = json.loads(ffkpi("history", "-f", "json").stdout)
    assert [(w["currency"], w["growth"]) for w in document["weeks"]] == [
        ("usd", None),
        ("eur", None),
    ]


@pytest.mark.parametrize(
    "args",
    [["mrr", "--demo"], ["mrr", "--demo", "-f", "json"], ["snapshot", "-i", "bundle.json"]],
    ids=["table", "json", "snapshot"],
)
def test_a_closed_pipe_ends_quietly(write_account: Any, args: list[str]) -> None:
    """Item 5: `ffkpi mrr | head -1`, or a reader that is gone before ffkpi writes."""
    import subprocess
    import sys

    folder = write_account("Pro")
    if "--demo" in args:
        (folder / "ffkpi.toml").unlink()  # the demo's own config
    child = subprocess.Popen(
        [sys.executable, "-m", "ffkpi", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=folder,
        env={"PATH": "", "NO_COLOR": "1"},
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()  # the reader is gone
    err = child.stderr.read()
    assert (child.wait(timeout=60), err) == (0, b"")
    if args[0] == "snapshot":
        assert list((folder / "snapshots").glob("*.toml"))  # the snapshot was written
