"""ffkpi init and ffkpi check: from a key to a config, and whether to trust the numbers."""

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import DEMO, ROOT, Ffkpi
from fake_stripe import ALL_PERMISSIONS, SECRET_KEY, FakeStripe
from ffkpi.errors import ExitCode
from ffkpi.storage.config_file import load_config
from ffkpi.usecases.onboarding import suggest_tiers


def test_tiers_are_suggested_from_the_names_alone() -> None:
    names = {
        "p1": "FlowFuse Cloud - Starter",
        "p2": "Starter - Small Instance Add-On",
        "p3": "FlowFuse Pro Platform - Cloud",
        "p4": "Pro - Large Instance Add-On",
        "p5": "Pro - Remote Instance Add-On",
        "p6": "Consulting",
    }
    assert suggest_tiers(names) == {
        "p1": "Starter",
        "p2": "Starter",
        "p3": "Pro",
        "p4": "Pro",
        "p5": "Pro",
        "p6": "Other",
    }


def test_init_writes_a_valid_commented_config(ffkpi: Ffkpi, cli_env: Path) -> None:
    result = ffkpi("init", "--demo", "--yes")
    assert (result.exit_code, result.stdout) == (0, "ffkpi.toml\n")
    assert "Recurring products, as of 2026-11-17 (USD)" in result.stderr
    # Without a terminal: the handbook's target, and what it compounds to.
    assert "a weekly growth target of 10.00 % compounds to 142.0x MRR in a year" in result.stderr
    assert "FlowFuse Team Platform - Cloud" in result.stderr
    text = (cli_env / "ffkpi.toml").read_text()
    assert text.startswith("# ffkpi configuration, written by `ffkpi init` from the demo account.")
    assert "# Subscription statuses that count. Stripe counts active and past_due." in text
    config = load_config(cli_env / "ffkpi.toml")
    assert config.growth.weekly_target == Decimal("0.10")
    given = ffkpi("init", "--demo", "--yes", "--target", "7.5", "--output", "seven.toml")
    assert given.exit_code == 0, given.stderr
    assert load_config(cli_env / "seven.toml").growth.weekly_target == Decimal("0.075")
    assert [(t.name, len(t.products)) for t in config.tiers] == [
        ("Starter", 3),
        ("Team", 5),
        ("Other", 2),
    ]
    mrr = ffkpi("mrr", "--demo", "-f", "json")
    assert mrr.exit_code == 0
    assert json.loads(mrr.stdout)["unlisted"] == []


def test_init_lists_each_product_as_the_config_it_writes_counts_it(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    """The metered add-on the written config counts (metered = "last_invoice") is not
    listed at 0, and the figures say they are net of discounts."""
    result = ffkpi("init", "--demo", "--yes", "--output", "new.toml")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stderr.splitlines() if "Team - Remote" in line)
    assert row.split()[-2:] == ["42", "1,497.00"]
    assert "MRR as the config written counts it in a tier with rule net: net of forever" in (
        result.stderr
    )
    assert "metered items at their newest finalized invoice." in result.stderr
    mrr = json.loads(ffkpi("mrr", "--demo", "-c", "new.toml", "-f", "json").stdout)
    remote = next(
        p for t in mrr["tiers"] for p in t["products"] if p["name"].startswith("Team - Remote")
    )
    assert remote["mrr"] == "1497.00"


def test_init_never_overwrites_without_force(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text("# mine\n")
    result = ffkpi("init", "--demo", "--yes")
    assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
    assert result.stderr == (
        "ffkpi: error: ffkpi.toml already exists (pass --force to replace it, or --output)\n"
    )
    assert (cli_env / "ffkpi.toml").read_text() == "# mine\n"
    forced = ffkpi("init", "--demo", "--yes", "--force")
    assert forced.exit_code == 0
    assert "[[tiers]]" in (cli_env / "ffkpi.toml").read_text()


def test_init_asks_for_a_rate_it_cannot_guess(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))
    result = ffkpi("init", "--input", "bundle.json", "--yes")
    assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
    assert result.stderr == (
        "ffkpi: error: subscriptions are billed in EUR and there is no rate for it "
        "(pass --fx eur=RATE (1 EUR in USD))\n"
    )
    given = ffkpi("init", "--input", "bundle.json", "--yes", "--fx", "eur=1.1")
    assert given.exit_code == 0, given.stderr
    assert load_config(cli_env / "ffkpi.toml").fx == {"eur": Decimal("1.1")}


@pytest.mark.slow
def test_init_from_live_stripe(
    ffkpi: Ffkpi, cli_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    _, url = start_fake()
    result = ffkpi(
        "init",
        "--yes",
        "--fx",
        "eur=1.08",
        "--api-base",
        url,
        "-q",
        env={"STRIPE_API_KEY": SECRET_KEY},
    )
    assert result.exit_code == 0, result.stderr
    assert len(load_config(cli_env / "ffkpi.toml").tiers) == 3


def test_check_on_the_demo_lists_what_the_report_leaves_out(ffkpi: Ffkpi, cli_env: Path) -> None:
    result = ffkpi("check", "--demo", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "ffkpi.check/1"
    assert document["ok"] is True
    by_topic: dict[str, list[dict[str, str]]] = {}
    for finding in document["findings"]:
        by_topic.setdefault(finding["topic"], []).append(finding)
    assert by_topic["config"][0]["level"] == "ok"
    assert {f["level"] for f in by_topic["products"]} == {"ok"}
    unlisted = [f["message"] for f in by_topic["unlisted"]]
    assert unlisted == [
        "FlowFuse Enterprise - Self-Hosted (prod_TdEnterprise001): 24 subscriptions, MRR "
        "30,000.00 USD in no tier, so outside the total",
        "Priority Support (prod_TdSupport000001): 17 subscriptions, MRR 5,100.00 USD in no "
        "tier, so outside the total",
    ]
    skipped = [f["message"] for f in by_topic["skipped"]]
    assert "15 subscriptions trialing: count 0" in skipped
    assert "13 subscriptions scheduled to cancel: count 0" in skipped
    assert "2 items in a trial of their own: count 0" in skipped


def test_check_finds_missing_products_near_misses_and_shared_names(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    text = (ROOT / "config.example.toml").read_text()
    text = text.replace("prod_TdTeamLarge0001", "prod_TdTeamLarge0011")
    text = text.replace(
        '{ name = "Starter - Small Instance Add-On" }',
        '{ name = "Starter - Smal Instance Add-On" }',
    )
    text = text.replace('[fx]\neur = "1.08"', "[fx]")
    (cli_env / "ffkpi.toml").write_text(text)
    result = ffkpi("check", "--demo", "-f", "json")
    assert result.exit_code == ExitCode.INVALID
    errors = [f["message"] for f in json.loads(result.stdout)["findings"] if f["level"] == "error"]
    assert errors == [
        "Starter: no product named 'Starter - Smal Instance Add-On' (did you mean "
        "'Starter - Small Instance Add-On'?)",
        "Team: no product prod_TdTeamLarge0011 in the account (did you mean "
        "prod_TdTeamLarge0001 (Team - Large Instance Add-On)?)",
        '9 subscriptions are billed in EUR and [fx] has no rate for it (add eur = "<rate>": '
        "1 EUR in USD)",
    ]


def test_check_with_an_invalid_config_is_one_error(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text("currency = 5\n")
    result = ffkpi("check", "--demo")
    assert result.exit_code == ExitCode.INVALID
    assert any(line.split()[:2] == ["error", "config"] for line in result.stdout.splitlines())
    assert "1 errors, 0 warnings, 0 ok" in result.stdout


@pytest.mark.slow
def test_check_restricted_key_permissions(
    ffkpi: Ffkpi, cli_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    lacking = "rk_live_51NoInvoicesNoCoupons"
    full = "rk_live_51EverythingFfkpiNeeds"
    _, url = start_fake(
        restricted={
            lacking: ALL_PERMISSIONS - {"rak_invoice_read", "rak_coupon_read"},
            full: ALL_PERMISSIONS,
        }
    )
    result = ffkpi("check", "-f", "json", "--api-base", url, "-q", env={"STRIPE_API_KEY": lacking})
    assert result.exit_code == ExitCode.STRIPE_AUTH
    findings = json.loads(result.stdout)["findings"]
    keys = [(f["level"], f["message"]) for f in findings if f["topic"] == "key"]
    assert keys[0] == ("ok", "the restricted key works (live mode)")
    assert [m for level, m in keys if level == "error"] == [
        "the restricted key has no read access to Coupons (GET /v1/coupons) (give the key the "
        "Coupons Read permission in the Stripe Dashboard (Developers > API keys), or use a "
        "key that has it)",
        "the restricted key has no read access to Invoices (GET /v1/invoices) (give the key "
        "the Invoices Read permission in the Stripe Dashboard (Developers > API keys), or use "
        "a key that has it)",
    ]
    assert lacking not in result.stdout + result.stderr
    good = ffkpi("check", "-f", "json", "--api-base", url, "-q", env={"STRIPE_API_KEY": full})
    assert good.exit_code == 0, good.stdout
    messages = [f["message"] for f in json.loads(good.stdout)["findings"]]
    assert (
        "it can read everything ffkpi needs: Coupons, Invoices, Prices, Products, Subscriptions"
        in messages
    )


def test_check_with_a_wrong_key(
    ffkpi: Ffkpi, cli_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]]
) -> None:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    _, url = start_fake()
    result = ffkpi("check", "--api-base", url, "-q", env={"STRIPE_API_KEY": "sk_live_51Wrong"})
    assert result.exit_code == ExitCode.STRIPE_AUTH
    assert "Stripe rejected the API key" in result.stdout
    assert "sk_live_51Wrong" not in result.stdout + result.stderr


def on_a_terminal(folder: Path, answers: str, *args: str) -> tuple[int, str, str]:
    """Runs `ffkpi ARGS` with a real pseudo-terminal as stdin, typing `answers`: its exit
    code, stdout and stderr."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "ffkpi", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=folder,
        env={"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "HOME": str(folder)},
    )
    os.close(slave)
    os.write(master, answers.encode())
    out, err = child.communicate(timeout=60)
    os.close(master)
    return child.returncode, out.decode(), err.decode()


def test_init_on_a_terminal_asks_for_tiers_and_rules(cli_env: Path) -> None:
    """A real pseudo-terminal: init sees a TTY, prompts, and writes the answers."""
    # Products in name order: move Priority Support to Team, keep the rest.
    products = ["", "", "", "Team", "", "", "", "", "", ""]
    # Tiers as the config lists them: Starter, Team (a wrong answer first), Other.
    rules = ["list_price", "gross", "net", ""]
    target = ["fast", "5 %"]  # the weekly growth target: a wrong answer, then 5 %
    typed = "\n".join(products + rules + target) + "\n"
    code, out, err = on_a_terminal(cli_env, typed, "init", "--demo")
    assert code == 0, err
    assert out == "ffkpi.toml\n"  # stdout carries the file name alone
    assert "Tier for Priority Support (prod_TdSupport000001) [Other]" in err
    assert "answer net or list_price" in err
    config = load_config(cli_env / "ffkpi.toml")
    tiers = {t.name: (t.rule, sorted(p.name or "" for p in t.products)) for t in config.tiers}
    assert tiers["Starter"][0] == "list_price"
    assert tiers["Team"] == (
        "net",
        [
            "FlowFuse Team Platform - Cloud",
            "Priority Support",
            "Team - Large Instance Add-On",
            "Team - Medium Instance Add-On",
            "Team - Remote Instance Add-On",
            "Team - Small Instance Add-On",
        ],
    )
    assert tiers["Other"] == ("net", ["FlowFuse Enterprise - Self-Hosted"])
    assert "Weekly MRR growth target, in % (a weekly growth target of 10.00 % compounds" in err
    assert "answer a percent from 0 to 1000, such as 10" in err
    assert config.growth.weekly_target == Decimal("0.05")
    assert "ffkpi: a weekly growth target of 5.00 % compounds to 12.6x MRR in a year\n" in err


def test_init_on_a_terminal_asks_again_for_a_bad_exchange_rate(cli_env: Path) -> None:
    (cli_env / "bundle.json").write_text(json.dumps(DEMO))  # some subscriptions bill in EUR
    # Two bad rates, a good one, then the suggested tier and rule for everything.
    answers = "abc\n-1\n1.1\n" + "\n" * 20
    code, out, err = on_a_terminal(cli_env, answers, "init", "--input", "bundle.json")
    assert (code, out) == (0, "ffkpi.toml\n"), err
    assert "Traceback" not in err
    assert err.count("1 EUR is how many USD?") == 3
    assert err.count("ffkpi: warning: answer a positive number, such as 1.08") == 2
    assert load_config(cli_env / "ffkpi.toml").fx == {"eur": Decimal("1.1")}


def test_init_with_a_bad_currency_or_rate_code_is_one_line_exit_3(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    bad_rate = ffkpi("init", "--demo", "--yes", "--fx", "e1r=1")
    bad_currency = ffkpi("init", "--demo", "--yes", "--currency", "xx")
    for result, value in ((bad_rate, "'e1r'"), (bad_currency, "'xx'")):
        assert (result.exit_code, result.stdout) == (ExitCode.INVALID, "")
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("ffkpi: error: --currency and --fx: ")
        assert f"{value} is not a three-letter currency code" in result.stderr
    assert not (cli_env / "ffkpi.toml").exists()
