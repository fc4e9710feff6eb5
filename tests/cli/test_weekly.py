"""`ffkpi weekly`, the job cron runs: one read kept beside the snapshot, the KPIs of the
same week, the review rendered and posted; a rerun redoes nothing; a failed step stops
the run with its code and no post goes out (review-rules.md, "The week's data")."""

import gzip
import json
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts import unstreamed
from conftest import DEMO, ROOT, Ffkpi, Slack
from fake_stripe import SECRET_KEY, FakeStripe
from ffkpi.engine.calendar import week_name
from ffkpi.errors import ExitCode

KPIS = """
[kpis.mqls]
name = "MQLs"
goal = 120
command = "echo $FFKPI_WEEK $FFKPI_SINCE $FFKPI_UNTIL >> windows.txt; echo 118"

[kpis.carr_closed]
name = "CARR Closed (this quarter)"
unit = "money"
period = "quarter_to_date"
command = "echo 'CRM unreachable' >&2; exit 3"
"""
LOG = re.compile(r"ffkpi: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ weekly (\w[\w ]*): ")


@pytest.fixture
def account(
    cli_env: Path, start_fake: Callable[..., tuple[FakeStripe, str]], slack: str
) -> dict[str, str]:
    """The demo account behind a fake Stripe, a config with two KPI commands, and the
    environment cron gives the weekly run (the key and the webhook)."""
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text() + KPIS)
    _, url = start_fake()
    return {"STRIPE_API_KEY": SECRET_KEY, "STRIPE_API_BASE": url, "FFKPI_SLACK_WEBHOOK": slack}


def steps(stderr: str) -> list[str]:
    """The steps the run logged, in order, one line each."""
    return [m[1] for line in stderr.splitlines() if (m := LOG.match(line))]


def test_a_weekly_run_posts_this_weeks_review_once(
    ffkpi: Ffkpi, cli_env: Path, account: dict[str, str], clock: datetime
) -> None:
    week = week_name(clock.date())
    result = ffkpi("weekly", "-q", env=account)
    # A KPI command failed: it is named, the run went on, and exits 7 at the end.
    assert result.exit_code == ExitCode.SOME_FAILED, result.stderr
    assert result.stdout == ""
    assert steps(result.stderr) == ["read", "snapshot", "kpis", "kpis", "review", "post"]
    assert "carr_closed: its command exited 3: CRM unreachable; it reads not recorded" in (
        result.stderr
    )
    assert result.stderr.splitlines()[-1] == (
        f"ffkpi: error: carr_closed of {week}: its command exited 3: CRM unreachable (nothing "
        "recorded for it)"
    )
    folder = cli_env / "snapshots"
    kept = folder / "reads" / f"{week}.json.gz"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # customers' names: the user alone
    listed = len(unstreamed(gzip.decompress(kept.read_bytes()))["subscriptions"])
    assert f"read: {listed:,} subscriptions from Stripe" in result.stderr
    assert listed == sum(s["status"] != "canceled" for s in DEMO["subscriptions"])
    # The KPI ran for the week's window: the seven days before the read's day.
    since, until = clock.date() - timedelta(days=7), clock.date() - timedelta(days=1)
    assert (cli_env / "windows.txt").read_text() == f"{week} {since} {until}\n"
    # The post is the running week's review, as `review --format slack` gives it.
    assert len(Slack.received) == 1
    shown = ffkpi("review", "--format", "slack")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(Slack.received[0]) == {"text": shown.stdout}
    assert shown.stdout.startswith(f"*KPI review {week}* (as of {clock.date()})")
    mrr = json.loads(
        ffkpi(
            "mrr", "-f", "json", "--api-base", account["STRIPE_API_BASE"], "-q", env=account
        ).stdout
    )["mrr"]
    review = json.loads(ffkpi("review", "-f", "json").stdout)
    assert review["mrr"] == mrr  # the week's MRR is the read's: `ffkpi mrr` now
    assert (folder / "reviews" / f"{week}.html").read_text().startswith("<!DOCTYPE html>")

    # Run again the same week: nothing read, nothing rewritten, no second post.
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"}
    again = ffkpi("weekly", "-q", env=account)
    assert again.exit_code == ExitCode.SOME_FAILED  # the failed KPI is tried again, only it
    assert f"read: skipped: {week} has its snapshot" in again.stderr
    assert "recorded none; 1 recorded already" in again.stderr
    assert "(unchanged)" in again.stderr
    assert "already posted at" in again.stderr
    assert len(Slack.received) == 1
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"}
    assert after == before
    assert (cli_env / "windows.txt").read_text().count("\n") == 1  # mqls not run again
    reposted = ffkpi("weekly", "-q", "--repost", env=account)
    assert reposted.exit_code == ExitCode.SOME_FAILED
    assert len(Slack.received) == 2


def test_a_dry_run_says_what_it_would_do_and_does_nothing(
    ffkpi: Ffkpi, cli_env: Path, account: dict[str, str], clock: datetime
) -> None:
    result = ffkpi("weekly", "--dry-run", env=account)
    assert result.exit_code == 0, result.stderr
    assert steps(result.stderr) == ["read", "snapshot", "kpis", "review", "post"]
    assert "would run mqls, carr_closed" in result.stderr
    assert "would post the review to Slack" in result.stderr
    assert not (cli_env / "snapshots").exists()
    assert Slack.received == []


def test_a_failed_read_stops_the_run_with_its_code_and_no_post(
    ffkpi: Ffkpi, cli_env: Path, account: dict[str, str], clock: datetime
) -> None:
    refused = {**account, "STRIPE_API_KEY": "sk_test_ffkpiNotTheFakesKey0000"}
    result = ffkpi("weekly", "-q", env=refused)
    assert result.exit_code == ExitCode.STRIPE_AUTH
    assert steps(result.stderr) == ["read and snapshot"]
    assert "weekly read and snapshot: failed, exit 4:" in result.stderr
    assert "nothing after it ran" in result.stderr
    assert Slack.received == []
    assert not list((cli_env / "snapshots").glob("*.toml"))
    assert not (cli_env / "windows.txt").exists()  # no KPI ran


def test_a_file_read_in_another_week_is_refused(
    ffkpi: Ffkpi, cli_env: Path, account: dict[str, str], clock: datetime
) -> None:
    (cli_env / "read.json").write_text(json.dumps(DEMO))  # read on 2026-11-17
    result = ffkpi("weekly", "--input", "read.json", env=account)
    assert result.exit_code == ExitCode.USAGE
    assert (
        f"ffkpi: error: read.json was read on 2026-11-17, in 2026-W47, not in the running week "
        f"{week_name(clock.date())}: the weekly run posts only this week's data (read Stripe "
        "now (drop --input), or give it a file fetched this week)\n"
    ) in result.stderr
    assert not list((cli_env / "snapshots").glob("*.toml"))
    assert Slack.received == []


def set_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch.setattr("ffkpi.clock.now", lambda: at)


def two_weeks(
    ffkpi: Ffkpi,
    monkeypatch: pytest.MonkeyPatch,
    account: dict[str, str],
    clock: datetime,
    change: Callable[[], None],
) -> str:
    """The weekly run a week before the clock, then `change`, then this week's run."""
    set_clock(monkeypatch, clock - timedelta(weeks=1))
    assert ffkpi("weekly", "-q", env=account).exit_code == ExitCode.SOME_FAILED
    change()
    set_clock(monkeypatch, clock)
    assert ffkpi("weekly", "-q", env=account).exit_code == ExitCode.SOME_FAILED
    return week_name(clock.date())


def growth_of(ffkpi: Ffkpi, week: str) -> tuple[str | None, str | None]:
    """The week's growth as `history` and as `review` state it."""
    history = json.loads(ffkpi("history", "-f", "json").stdout)["weeks"]
    review = json.loads(ffkpi("review", "-f", "json", "--week", week).stdout)["growth"]
    return next(w["growth"] for w in history if w["week"] == week), review["rate"]


def test_a_new_growth_target_keeps_growth(
    ffkpi: Ffkpi,
    cli_env: Path,
    account: dict[str, str],
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = cli_env / "ffkpi.toml"
    slower = config.read_text().replace('weekly_target = "0.10"', 'weekly_target = "0.05"')
    week = two_weeks(ffkpi, monkeypatch, account, clock, lambda: config.write_text(slower))
    in_history, in_review = growth_of(ffkpi, week)
    assert in_history is not None
    assert in_review == in_history
    review = json.loads(ffkpi("review", "-f", "json").stdout)
    assert review["growth"]["target"] == "0.0500"
    assert review["data_notes"] == []


@pytest.mark.parametrize("kept", [True, False], ids=["read-kept", "no-read-kept"])
def test_a_product_added_to_a_tier_recomputes_or_withholds_growth_alike(
    ffkpi: Ffkpi,
    cli_env: Path,
    account: dict[str, str],
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
    kept: bool,
) -> None:
    config = cli_env / "ffkpi.toml"
    support = '  { id = "prod_TdSupport000001", name = "Priority Support" },\n]'
    wider = config.read_text().replace(
        'name = "Team - Remote Instance Add-On" },\n]',
        ('name = "Team - Remote Instance Add-On" },\n' + support),
    )
    assert wider != config.read_text()

    def change() -> None:
        config.write_text(wider)
        if not kept:
            for read in (cli_env / "snapshots" / "reads").iterdir():
                read.unlink()

    week = two_weeks(ffkpi, monkeypatch, account, clock, change)
    in_history, in_review = growth_of(ffkpi, week)
    assert in_review == in_history  # history and review agree, either way
    weeks = json.loads(ffkpi("history", "-f", "json").stdout)["weeks"]
    if kept:
        assert in_history is not None
        assert weeks[0]["source"] == "recomputed"
        notes = json.loads(ffkpi("review", "-f", "json").stdout)["data_notes"]
        assert any("recomputed from the reads kept then" in note for note in notes)
    else:
        assert in_history is None
        review = json.loads(ffkpi("review", "-f", "json").stdout)
        assert "its read is not kept" in review["growth"]["why_none"]
        assert weeks[0]["config_changed"] is True


def test_outside_revenue_and_a_misspelt_product_show_in_every_format(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "config.example.toml").read_text()
    (cli_env / "ffkpi.toml").write_text(
        text.replace('{ name = "Starter - Remote Instance Add-On" }', '{ name = "Starter Remote" }')
    )
    set_clock(monkeypatch, datetime(2026, 11, 17, 6, tzinfo=UTC))
    taken = ffkpi("snapshot", "--demo")
    assert taken.exit_code == 0
    warned = [line for line in taken.stderr.splitlines() if "warning" in line]
    assert warned == [
        "ffkpi: warning: tier Starter: no product named 'Starter Remote' (did you mean "
        "prod_TdStarterRemo1 (Starter - Remote Instance Add-On)?): its MRR is left out of the "
        "total; fix the config, then run ffkpi check"
    ]
    for fmt in ("markdown", "slack", "html", "json"):
        for source in ((), ("--demo",)):
            shown = ffkpi("review", *source, "--format", fmt)
            assert shown.exit_code == 0, shown.stderr
            assert "no product named" in shown.stdout, (fmt, source)
            assert "Starter Remote" in shown.stdout
            assert "Priority Support" in shown.stdout
            assert "35,619.00" in shown.stdout or "35619.00" in shown.stdout, (fmt, source)
    document = json.loads(ffkpi("review", "--format", "json").stdout)
    outside = document["outside_tiers"]
    assert outside["mrr"] == "35619.00"  # Enterprise, Support and the unmatched add-on
    assert [p["name"] for p in outside["products"]][:2] == [
        "FlowFuse Enterprise - Self-Hosted",
        "Priority Support",
    ]
