"""Hostile and unlucky input: what names, ids, terminals, keys and files must never do.

One scenario per promise: a report always shows its numbers, errors are one line with
a documented exit code and no traceback, the key is never printed or sent anywhere
unsafe, nothing half-written is left, customer data is not handed to other users.
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import stripe_fixtures as sf
from conftest import ROOT, Ffkpi
from fake_stripe import SECRET_KEY, FakeStripe
from ffkpi.errors import ExitCode
from ffkpi.stripe.http import StripeHttp, check_api_base

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
        totals = [line.split() for line in result.stdout.splitlines() if "Total" in line]
        # At 40 columns the table comes in two parts, each with the names again.
        assert [figure for line in totals for figure in line[1:]] == ["59.97", "719.64"]
        assert all(len(line) <= int(columns) for line in result.stdout.splitlines())

    def test_the_demo_at_40_columns_keeps_every_figure(
        self, ffkpi: Ffkpi, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("COLUMNS", "40")
        result = ffkpi("mrr", "--demo")
        assert "…" not in result.stdout
        assert "100,266.13" in result.stdout
        assert "1,203,193.60" in result.stdout


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
    [
        ["mrr", "--demo"],
        ["mrr", "--demo", "-f", "json"],
        ["snapshot", "-i", "bundle.json", "--as-of", "2026-11-17"],
    ],
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


class TestTheKey:
    """Item 6: the exact key in use is masked everywhere; a malformed one is refused."""

    @pytest.mark.parametrize(
        ("key", "kind"),
        [
            ("sk_live_51Abc\nTailOfTheKey", "a line break at character 14"),
            ("sk_live_51Abc TailOfTheKey", "a space at character 14"),
            ("\ufeffsk_live_51AbcTailOfTheKey", "a byte order mark at character 1"),
            ("sk_live_51Abc\x1b[2JTailOfTheKey", "the character U+001B at character 14"),
        ],
        ids=["newline", "space", "bom", "control"],
    )
    def test_a_malformed_key_is_refused_at_once(
        self, ffkpi: Ffkpi, cli_env: Path, key: str, kind: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        result = ffkpi("mrr", "--api-base", "http://127.0.0.1:9", env={"STRIPE_API_KEY": key})
        assert (result.exit_code, result.stdout) == (ExitCode.STRIPE_AUTH, "")
        assert result.stderr == (
            f"ffkpi: error: the key is malformed: STRIPE_API_KEY holds {kind} (copy the key "
            "again from the Stripe Dashboard (Developers > API keys), on one line)\n"
        )
        assert "TailOfTheKey" not in result.stderr

    def test_a_malformed_key_in_a_file_names_the_file(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        key_file = cli_env / "stripe.key"
        key_file.write_bytes("\ufeffsk_live_51AbcTailOfTheKey\n".encode())
        key_file.chmod(0o600)
        result = ffkpi("mrr", "--api-key-file", "stripe.key")
        assert result.exit_code == ExitCode.STRIPE_AUTH
        assert "the key is malformed: the first line of stripe.key holds a byte order mark" in (
            result.stderr
        )

    def test_the_key_in_use_is_masked_whatever_its_form(self) -> None:
        from ffkpi.text import keep_secret, one_line, scrub

        assert scrub("request req_sk_live_51GluedToAWord") == "request req_sk_live_***"
        keep_secret("a-key-of-no-known-shape-1234")
        assert one_line("sent a-key-of-no-known-shape-1234 twice") == "sent *** twice"

    @pytest.mark.slow
    def test_the_sdk_log_never_prints(
        self, cli_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
    ) -> None:
        import subprocess
        import sys

        folder = cli_env
        (folder / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
        _, url = start_fake()
        result = subprocess.run(
            [sys.executable, "-m", "ffkpi", "mrr", "--api-base", url, "-q", "-f", "json"],
            capture_output=True,
            text=True,
            check=False,
            cwd=folder,
            env={"PATH": "", "NO_COLOR": "1", "STRIPE_LOG": "debug", "STRIPE_API_KEY": SECRET_KEY},
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == (
            f"ffkpi: requests go to {url}, not to Stripe's API\n"
            "ffkpi: test mode: this key reads Stripe's test data, not live revenue\n"
        )


class TestTheApiBase:
    """Item 7: the key never crosses a network in clear text; a bad base fails at once."""

    @pytest.fixture
    def no_request(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Fails the test if any request would be sent: refusals happen before any."""

        def sent(*args: Any) -> None:
            raise AssertionError("a request was sent")

        monkeypatch.setattr(StripeHttp, "_attempt", sent)

    @pytest.mark.parametrize(
        "base", ["http://api.example.com", "http://192.0.2.1:8080", "http://[2001:db8::1]"]
    )
    def test_plain_http_off_this_machine_is_refused(
        self, ffkpi: Ffkpi, cli_env: Path, no_request: None, base: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        result = ffkpi("mrr", "--api-base", base, env={"STRIPE_API_KEY": "sk_live_51Abc"})
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert result.stderr == (
            f"ffkpi: error: --api-base / $STRIPE_API_BASE '{base}' is plain HTTP: the key "
            "would cross the network unencrypted (use https://, or http:// only to this "
            "machine (localhost, 127.0.0.1, ::1))\n"
        )

    @pytest.mark.parametrize(
        "base", ["http://localhost:8080", "http://127.0.0.2", "http://[::1]:9", "https://x.test"]
    )
    def test_https_anywhere_and_http_to_this_machine_are_taken(self, base: str) -> None:
        assert check_api_base(base + "/") == base

    @pytest.mark.parametrize(
        "base", ["not a url", "api.stripe.com", "https://", "https://h:x/", "http://[::1"]
    )
    def test_a_malformed_base_is_a_usage_error(
        self, ffkpi: Ffkpi, cli_env: Path, no_request: None, base: str
    ) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        result = ffkpi("mrr", env={"STRIPE_API_KEY": "sk_live_51Abc", "STRIPE_API_BASE": base})
        assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
        assert result.stderr.startswith(f"ffkpi: error: --api-base / $STRIPE_API_BASE {base!r}")
        assert "is not a URL" in result.stderr

    def test_a_base_that_is_not_stripes_is_announced(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "ffkpi.toml").write_text(account("x")["config"])
        result = ffkpi(
            "mrr",
            "--api-base",
            "https://127.0.0.1:9/",
            "--retry-for",
            "0",
            env={"STRIPE_API_KEY": "sk_live_51Abc"},
        )
        assert result.exit_code == ExitCode.STRIPE_UNAVAILABLE
        assert result.stderr.splitlines()[0] == (
            "ffkpi: requests go to https://127.0.0.1:9, not to Stripe's API"
        )
