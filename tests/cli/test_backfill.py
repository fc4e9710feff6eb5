"""`ffkpi backfill` and `ffkpi history --input/--demo`: past weeks rebuilt from invoices,
written beside the snapshots cron takes (never over them), or shown in memory."""

import gzip
import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from accounts import simulated
from conftest import ROOT, Ffkpi
from fake_stripe import SECRET_KEY, FakeStripe, Faults
from ffkpi.engine.money import format_money
from ffkpi.errors import ExitCode
from ffkpi.storage.customer_files import read_customers
from ffkpi.storage.snapshots import read_snapshots
from ffkpi.usecases.past import load_history

SINCE, UNTIL = "2026-08-04", "2026-11-10"  # Tuesdays, 15 weeks


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def test_backfill_writes_each_week_as_a_reconstructed_snapshot(ffkpi: Ffkpi, cli_env: Path) -> None:
    result = ffkpi("backfill", "--demo", "--since", SINCE, "--until", UNTIL, "--dir", "kpi")
    assert result.exit_code == 0, result.stderr
    folder = cli_env / "kpi"
    weeks = sorted(folder.glob("*.toml"))
    assert weeks[0].stem == "2026-W32"
    assert len(weeks) == 15
    assert "written: 15 weeks, 2026-W32 to 2026-W46, to kpi" in result.stdout
    assert (
        "check: 2026-11-17 rebuilt from invoices equals the read, 100,266.13 USD" in result.stdout
    )
    assert "Rebuilt weeks cannot show: a change made without prorations" in result.stdout
    stored = read_snapshots(folder)
    assert (stored.skipped, stored.damaged) == ((), ())
    for snapshot in stored.snapshots:
        assert snapshot.source == "reconstructed"
        assert snapshot.as_of.weekday() == 1  # every Tuesday, as --until
        assert snapshot.reconstruction is not None
        customers = read_customers(folder, snapshot.week, snapshot.customers)
        assert customers.tiers == ("Starter", "Team")
        total = sum((sum(values, Decimal(0)) for values in customers.mrr.values()), Decimal(0))
        assert format_money(total, "usd") == format_money(snapshot.mrr, "usd")
        assert all(len(values) == 2 for values in customers.mrr.values())


def test_backfill_twice_changes_nothing(ffkpi: Ffkpi, cli_env: Path) -> None:
    args = ("backfill", "--demo", "--since", SINCE, "--until", UNTIL, "--dir", "kpi")
    assert ffkpi(*args).exit_code == 0
    before = folder_state(cli_env / "kpi")
    again = ffkpi(*args)
    assert again.exit_code == 0, again.stderr
    assert folder_state(cli_env / "kpi") == before
    assert "written: 0 weeks to kpi" in again.stdout
    assert "kept: 15 weeks that had a snapshot, left untouched" in again.stdout
    assert again.stdout.count("(equal)") == 15


def test_a_week_with_a_snapshot_is_kept_and_its_reconstruction_shown_beside_it(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    taken = ffkpi("snapshot", "--demo", "--as-of", "2026-10-13", "--dir", "kpi")
    assert taken.exit_code == 0, taken.stderr
    week = cli_env / "kpi" / "2026-W42.toml"
    written = week.read_bytes()
    document = toml(week)
    document["mrr"] = "90000.00"  # as if cron had seen another figure that day
    week.write_text(week.read_text().replace(f'mrr = "{toml(week)["mrr"]}"', 'mrr = "90000.00"'))
    changed = week.read_bytes()
    assert changed != written
    result = ffkpi("backfill", "--demo", "--since", SINCE, "--until", UNTIL, "--dir", "kpi")
    assert result.exit_code == 0, result.stderr
    assert week.read_bytes() == changed  # never touched
    assert toml(week)["source"] == "snapshot"
    entry = result.stdout.split("\n  2026-W42 ")[1].split("\n  2026-W")[0]
    assert entry.startswith("snapshot: 90,000.00 USD, rebuilt ")
    assert "rebuilt - stored = " in " ".join(entry.split())  # wrapped at 80 columns
    assert "written: 14 weeks" in result.stdout
    with load_history(cli_env / "kpi", None, last=None, by_tier=False, strict=True) as read:
        history = read.history
    sources = {w.week: w.source for w in history.weeks}
    assert sources["2026-W42"] == "snapshot"
    assert sources["2026-W41"] == "reconstructed"
    assert history.limits  # a rebuilt week is shown: what it cannot show is stated


def test_backfill_until_defaults_to_the_week_before_the_reads_on_the_folders_weekday(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    assert ffkpi("snapshot", "--demo", "--dir", "kpi").exit_code == 0  # 2026-11-17, W47
    result = ffkpi("backfill", "--demo", "--since", "2026-10-01", "--dir", "kpi")
    assert result.exit_code == 0, result.stderr
    as_of = sorted(s.as_of.isoformat() for s in read_snapshots(cli_env / "kpi").snapshots)
    assert as_of == [
        "2026-10-06",
        "2026-10-13",
        "2026-10-20",
        "2026-10-27",
        "2026-11-03",
        "2026-11-10",
        "2026-11-17",
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("backfill", "--demo"), ExitCode.USAGE, "--since is required"),
        (
            ("backfill", "--demo", "--since", "2026-11-10", "--until", "2026-11-01"),
            ExitCode.USAGE,
            "--since 2026-11-10 is after the last week, 2026-11-01",
        ),
        (
            ("history", "--demo", "--since", "2024-01-02"),
            ExitCode.INVALID,
            "the data holds invoices for weeks from 2024-11-17 on, not 2024-01-02",
        ),
        (
            ("backfill", "--demo", "--input", "x.json", "--since", "2026-01-01"),
            ExitCode.USAGE,
            "--input and --demo were both given",
        ),
    ],
)
def test_bad_ranges_and_sources_are_one_line(
    ffkpi: Ffkpi, cli_env: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = ffkpi(*args, "--dir", "kpi")
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (cli_env / "kpi").exists()


@pytest.mark.parametrize("command", ["backfill", "history"])
def test_a_bundle_without_invoices_says_to_fetch_with_since(
    ffkpi: Ffkpi, cli_env: Path, command: str
) -> None:
    bundle = json.loads(gzip.decompress((ROOT / "src/ffkpi/data/demo.json.gz").read_bytes()))
    del bundle["invoice_items"]
    (cli_env / "today.json").write_text(json.dumps(bundle))
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    result = ffkpi(command, "--input", "today.json", "--since", SINCE, "--dir", "kpi")
    assert result.exit_code == ExitCode.INVALID
    assert "fetch it with ffkpi fetch --since YYYY-MM-DD" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (cli_env / "kpi").exists()


def test_history_of_the_demo_is_rebuilt_in_memory(ffkpi: Ffkpi, cli_env: Path) -> None:
    result = ffkpi("history", "--demo", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    weeks = document["weeks"]
    assert len(weeks) == 53  # --since: 52 weeks before the data's own day
    assert (weeks[0]["as_of"], weeks[-1]["as_of"]) == ("2025-11-18", "2026-11-17")
    assert {w["source"] for w in weeks[:-1]} == {"reconstructed"}
    # The week of the read is the read itself: `ffkpi mrr --demo`, as a snapshot takes it.
    assert (weeks[-1]["mrr"], weeks[-1]["source"]) == ("100266.13", "snapshot")
    assert document["reconstruction"]["cannot_show"][0].startswith("a change made without")
    assert list(cli_env.iterdir()) == []  # nothing written
    table = ffkpi("history", "--demo", "--weeks", "4", "--no-chart")
    assert table.exit_code == 0
    assert sum(bool(re.match(r"\s*\d{4}-W\d\d~ ", line)) for line in table.stdout.splitlines()) == 3
    assert "~ rebuilt from invoices; the other weeks are snapshots taken then" in table.stdout
    assert "Rebuilt weeks cannot show" in table.stdout
    chart = ffkpi("history", "--demo", "--weeks", "3").stdout
    assert "2026-W46~ █" in chart  # the chart says it too
    assert "2026-W47  █" in chart
    assert "~ rebuilt\n" in chart
    csv = ffkpi("history", "--demo", "--weeks", "3", "-f", "csv")
    header, first = (line.split(",") for line in csv.stdout.splitlines()[:2])
    assert header[9:12] == ["currency", "source", "customers"]
    assert first[9:11] == ["usd", "reconstructed"]
    assert csv.stdout.splitlines()[-1].split(",")[10] == "snapshot"
    assert "Rebuilt weeks cannot show" in csv.stderr  # once, beside the CSV


def test_history_of_a_folder_of_real_snapshots_states_no_limits(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    for day in ("2026-11-03", "2026-11-10"):
        assert ffkpi("snapshot", "--demo", "--as-of", day, "--dir", "kpi").exit_code == 0
    result = ffkpi("history", "--dir", "kpi", "-f", "json")
    document = json.loads(result.stdout)
    assert [w["source"] for w in document["weeks"]] == ["snapshot", "snapshot"]
    assert "reconstruction" not in document
    table = ffkpi("history", "--dir", "kpi", "--no-chart")
    assert "Source" not in table.stdout
    assert "cannot show" not in table.stdout


def test_check_tells_the_difference_with_its_causes(ffkpi: Ffkpi, cli_env: Path) -> None:
    bundle = simulated(3, signups=120, unknowable=30)
    (cli_env / "bundle.json").write_text(json.dumps(bundle))
    result = ffkpi(
        "check",
        "--input",
        "bundle.json",
        "--as-of",
        "2026-11-17",
        "--config",
        str(ROOT / "config.example.toml"),
    )
    history = [line for line in result.stdout.splitlines() if "history" in line]
    assert "today's MRR rebuilt from invoices is 18,786.41, the live MRR 18,882.05 USD" in (
        " ".join(result.stdout.split())
    )
    assert any("warning" in line for line in history)
    joined = " ".join(result.stdout.split())
    assert "5 subscriptions changed since their last invoice without prorations, -95.64" in joined


@pytest.mark.slow
def test_backfill_live_writes_what_backfill_of_its_bundle_writes(
    ffkpi: Ffkpi,
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_fake: Callable[..., tuple[FakeStripe, str]],
) -> None:
    """Against the fake Stripe with 5 % errors and dropped connections, lines past the
    ten a list embeds, and 429s above 200 requests/s."""
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    monkeypatch.setenv("STRIPE_API_KEY", SECRET_KEY)
    bundle = simulated(11, signups=80)
    faults = Faults(error_rate=0.05, drop_rate=0.02)
    fake, url = start_fake(bundle, faults=faults, rate_limit=200, lines_per_invoice=2)
    live = ffkpi(
        "backfill",
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--dir",
        "live",
        "--api-base",
        url,
        "-q",
        "--max-rps",
        "400",
        "--retry-for",
        "60",
    )
    assert live.exit_code == 0, live.stderr
    assert fake.requests("/v1/invoiceitems")
    (cli_env / "bundle.json").write_text(json.dumps(bundle))
    offline = ffkpi(
        "backfill", "--input", "bundle.json", "--since", SINCE, "--until", UNTIL, "--dir", "offline"
    )
    assert offline.exit_code == 0, offline.stderr

    def weeks(folder: str) -> list[tuple[Any, ...]]:
        return [
            (s.week, s.mrr, s.tiers, read_customers(cli_env / folder, s.week, s.customers).mrr)
            for s in read_snapshots(cli_env / folder).snapshots
        ]

    assert weeks("live") == weeks("offline")
    assert len(weeks("live")) == 15
    assert weeks("live")[-1][1] > 0


def test_snapshots_written_before_backfill_stay_readable(ffkpi: Ffkpi, cli_env: Path) -> None:
    """A snapshot of schema 1's day: no source (a real week), its customer file with each
    customer's total rounded to the cent."""
    folder = cli_env / "kpi"
    folder.mkdir()
    sidecar = gzip.compress(
        json.dumps(
            {"schema": "ffkpi.customers/1", "currency": "usd", "customers": {"cus_1": "12.50"}}
        ).encode()
    )
    digest = hashlib.sha256(sidecar).hexdigest()
    (folder / f"2026-W45.customers.{digest[:16]}.json.gz").write_bytes(sidecar)
    (folder / "2026-W45.toml").write_text(
        'schema = "ffkpi.snapshot/1"\nweek = "2026-W45"\nas_of = 2026-11-03\n'
        'config_digest = "x"\ncurrency = "usd"\nmrr = "12.50"\narr = "150.00"\n'
        f'customers = "2026-W45.customers.{digest[:16]}.json.gz sha256:{digest}"\n'
    )
    (snapshot,) = read_snapshots(folder).snapshots
    assert snapshot.source == "snapshot"
    customers = read_customers(folder, snapshot.week, snapshot.customers)
    assert (customers.tiers, customers.mrr) == (None, {"cus_1": (Decimal("12.50"),)})
    result = ffkpi("history", "--dir", "kpi", "-f", "json")
    assert json.loads(result.stdout)["weeks"][0]["source"] == "snapshot"


def test_an_invoice_of_a_subscription_the_data_lacks_is_an_error_naming_both(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    bundle = json.loads(gzip.decompress((ROOT / "src/ffkpi/data/demo.json.gz").read_bytes()))
    invoice = bundle["invoices"][5]
    invoice["parent"]["subscription_details"]["subscription"] = "sub_NotInTheData"
    (cli_env / "bundle.json").write_text(json.dumps(bundle))
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    result = ffkpi("history", "--input", "bundle.json")
    assert result.exit_code == ExitCode.INVALID
    assert f"invoice {invoice['id']} of subscription sub_NotInTheData, which the data does not" in (
        result.stderr
    )
    assert len(result.stderr.splitlines()) == 1


def test_the_docs_show_backfill_of_the_demo_literally(ffkpi: Ffkpi, cli_env: Path) -> None:
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    assert ffkpi("snapshot", "--demo").exit_code == 0
    result = ffkpi("backfill", "--demo", "--since", "2026-09-01")
    assert result.exit_code == 0, result.stderr
    page = (ROOT / "docs" / "commands.md").read_text()
    assert f"$ ffkpi backfill --demo --since 2026-09-01\n{result.stdout}$ " in page


def test_the_docs_show_history_of_the_demo_literally(ffkpi: Ffkpi) -> None:
    result = ffkpi("history", "--demo", "--weeks", "4", "--no-chart")
    assert result.exit_code == 0, result.stderr
    page = (ROOT / "docs" / "commands.md").read_text()
    assert f"$ ffkpi history --demo --weeks 4 --no-chart\n{result.stdout}```" in page


def test_backfill_waits_for_a_run_holding_the_folder_then_writes_nothing(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    import fcntl

    from ffkpi.storage.files import LOCK_NAME

    folder = cli_env / "kpi"
    folder.mkdir()
    with (folder / LOCK_NAME).open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = ffkpi(
            "backfill",
            "--demo",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--dir",
            "kpi",
            "--lock-timeout",
            "0.3",
        )
    assert result.exit_code == ExitCode.STORAGE
    assert len(result.stderr.splitlines()) == 1
    assert list(folder.glob("*.toml")) == []
    assert list(folder.glob("*.gz")) == []


def test_history_of_a_folder_shows_the_weeks_between_since_and_until(
    ffkpi: Ffkpi, cli_env: Path
) -> None:
    assert (
        ffkpi("backfill", "--demo", "--since", SINCE, "--until", UNTIL, "--dir", "kpi").exit_code
        == 0
    )
    result = ffkpi(
        "history", "--dir", "kpi", "--since", "2026-09-01", "--until", "2026-09-30", "-f", "json"
    )
    weeks = json.loads(result.stdout)["weeks"]
    assert [w["as_of"] for w in weeks] == [
        "2026-09-01",
        "2026-09-08",
        "2026-09-15",
        "2026-09-22",
        "2026-09-29",
    ]
    assert weeks[0]["movements"] is not None  # against 2026-08-25, outside the span shown
