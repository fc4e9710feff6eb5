"""Every figure is dated by its read (review-rules.md, "The week's data"): a file's read
day is the as-of day by default, a later one is refused, and the same command gives the
same answer under any clock."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import DEMO, ROOT, Ffkpi
from ffkpi.errors import ExitCode

READ = "2026-11-17"  # the demo bundle's fetched_at: three weeks before the first clock


@pytest.fixture
def old_read(cli_env: Path, clock: datetime) -> Path:
    """The demo account as `ffkpi fetch` saved it on 2026-11-17, and its config."""
    (cli_env / "ffkpi.toml").write_text((ROOT / "config.example.toml").read_text())
    path = cli_env / "read.json"
    path.write_text(json.dumps(DEMO))
    return path


def test_mrr_is_the_reads_own_figure_whatever_the_day(ffkpi: Ffkpi, old_read: Path) -> None:
    result = ffkpi("mrr", "-i", "read.json", "-f", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert (document["as_of"], document["mrr"]) == (READ, "100266.13")


@pytest.mark.parametrize("command", ["mrr", "snapshot", "history", "movements", "review"])
def test_a_day_after_the_read_is_refused(ffkpi: Ffkpi, old_read: Path, command: str) -> None:
    option = "--until" if command == "history" else "--as-of"
    result = ffkpi(command, "-i", "read.json", option, "2026-11-24")
    assert (result.exit_code, result.stdout) == (ExitCode.USAGE, "")
    assert result.stderr == (
        f"ffkpi: error: the data was read on {READ}, so it cannot show 2026-11-24 "
        f"(read Stripe again with ffkpi fetch, or pass {option} {READ} or earlier)\n"
    )
    assert not (old_read.parent / "snapshots").exists()


def test_a_snapshot_of_an_old_read_is_of_its_week(ffkpi: Ffkpi, old_read: Path) -> None:
    result = ffkpi("snapshot", "-i", "read.json")
    assert (result.exit_code, result.stdout) == (0, "snapshots/2026-W47.toml\n")
    running = ffkpi("history", "-f", "json")  # the folder's one week: the read's
    assert [w["week"] for w in json.loads(running.stdout)["weeks"]] == ["2026-W47"]
    assert result.stderr.startswith(f"ffkpi: the data was read on {READ}: a snapshot of 2026-W47")
    again = ffkpi("snapshot", "-i", "read.json")
    assert again.exit_code == 0
    assert "2026-W47 already has a snapshot, left untouched" in again.stderr
    assert sorted(p.name for p in (old_read.parent / "snapshots").glob("*.toml")) == [
        "2026-W47.toml"
    ]


def test_an_as_of_day_is_that_day_on_any_weekday(ffkpi: Ffkpi, old_read: Path) -> None:
    """2026-11-15 is a Sunday: it stays 2026-11-15, never the read's Tuesday of its week."""
    result = ffkpi("movements", "-i", "read.json", "--as-of", "2026-11-15", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["as_of"], document["previous_as_of"]) == ("2026-11-15", "2026-11-08")


def test_a_file_that_does_not_say_when_it_was_read_is_dated_by_its_time(
    ffkpi: Ffkpi, old_read: Path
) -> None:
    unsaid = {key: value for key, value in DEMO.items() if key != "fetched_at"}
    old_read.write_text(json.dumps(unsaid))
    modified = int(datetime(2026, 11, 10, 8, 30, tzinfo=UTC).timestamp())
    os.utime(old_read, (modified, modified))
    result = ffkpi("mrr", "-i", "read.json", "-f", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["as_of"] == "2026-11-10"
    assert result.stderr == (
        "ffkpi: the file does not say when it was read: dated by its modification time, "
        "2026-11-10 08:30 UTC\n"
    )
    later = ffkpi("mrr", "-i", "read.json", "--as-of", "2026-11-11")
    assert later.exit_code == ExitCode.USAGE
    assert "read on 2026-11-10 (its file's modification time)" in later.stderr


def test_a_review_of_an_older_read_says_so_at_the_top(
    ffkpi: Ffkpi, old_read: Path, clock: datetime
) -> None:
    running = f"{clock.isocalendar()[0]}-W{clock.isocalendar()[1]:02d}"
    result = ffkpi("review", "-i", "read.json", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["week"], document["mrr"]) == ("2026-W47", "100266.13")  # the read's own
    assert document["data_notes"][0] == (
        f"the data was read on {READ}, in 2026-W47: not the running week, {running}"
    )
    markdown = ffkpi("review", "-i", "read.json").stdout
    assert f"> **Data note:** the data was read on {READ}, in 2026-W47" in markdown
    slack = ffkpi("review", "-i", "read.json", "-f", "slack").stdout
    assert f":warning: the data was read on {READ}, in 2026-W47" in slack.split("• ")[0]
