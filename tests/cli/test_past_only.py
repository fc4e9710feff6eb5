"""Weeks that are not the past: never rebuilt, never written. And a backfill that was
interrupted, or meets a file it cannot read, says what is on disk and finishes when run
again."""

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import Ffkpi
from ffkpi.errors import ExitCode, UsageError
from ffkpi.storage.snapshots import read_snapshots
from ffkpi.usecases import backfill as backfill_module
from ffkpi.usecases.backfill import backfill_days

READ = "2026-11-17"  # the demo's read: a Tuesday in 2026-W47


def weeks_in(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


class TestNeverAWeekAfterTheRead:
    """Issue items 6 and 7."""

    @pytest.mark.parametrize("until", ["2030-01-01", "2026-11-17", "2026-11-16", "2026-11-22"])
    def test_backfill_refuses_the_reads_week_and_later(
        self, ffkpi: Ffkpi, cli_env: Path, until: str
    ) -> None:
        result = ffkpi("backfill", "--demo", "--since", "2026-10-01", "--until", until)
        assert result.exit_code == ExitCode.USAGE
        assert result.stderr == (
            f"ffkpi: error: --until {until} is not before 2026-W47, the week the data was read "
            f"in ({READ}): that week belongs to `ffkpi snapshot`, and no later one can be known "
            "(pass --until 2026-11-15 or earlier, or leave it out)\n"
        )
        assert not (cli_env / "snapshots").exists()

    def test_the_last_day_before_the_reads_week_is_written(
        self, ffkpi: Ffkpi, cli_env: Path
    ) -> None:
        result = ffkpi("backfill", "--demo", "--since", "2026-11-01", "--until", "2026-11-15")
        assert result.exit_code == 0, result.stderr
        assert weeks_in(cli_env / "snapshots") == ["2026-W44", "2026-W45", "2026-W46"]

    def test_a_first_backfill_leaves_the_reads_week_to_snapshot(
        self, ffkpi: Ffkpi, cli_env: Path
    ) -> None:
        result = ffkpi("backfill", "--demo", "--since", "2026-10-01")
        assert result.exit_code == 0, result.stderr
        stored = read_snapshots(cli_env / "snapshots").snapshots
        assert [s.as_of.isoformat() for s in stored][-1] == "2026-11-10"  # the read's weekday
        taken = ffkpi("snapshot", "--demo")
        assert taken.exit_code == 0, taken.stderr
        assert taken.stdout == "snapshots/2026-W47.toml\n"
        assert "already has a snapshot" not in taken.stderr
        newest = read_snapshots(cli_env / "snapshots").snapshots[-1]
        assert (newest.week, newest.source) == ("2026-W47", "snapshot")

    @pytest.mark.parametrize("command", ["history", "movements"])
    def test_history_and_movements_refuse_a_day_after_the_read(
        self, ffkpi: Ffkpi, command: str
    ) -> None:
        option = "--until" if command == "history" else "--as-of"
        result = ffkpi(command, "--demo", option, "2026-12-01")
        assert result.exit_code == ExitCode.USAGE
        assert result.stderr == (
            f"ffkpi: error: the data was read on {READ}, so it cannot show 2026-12-01 "
            f"(read Stripe again with ffkpi fetch, or pass {option} {READ} or earlier)\n"
        )
        assert result.stdout == ""

    def test_the_reads_own_day_is_shown_as_read(self, ffkpi: Ffkpi) -> None:
        result = ffkpi("history", "--demo", "--until", READ, "--weeks", "1", "-f", "csv")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines()[1].startswith("total,2026-W47,2026-11-17,100266.13,")

    @pytest.mark.parametrize(
        ("until", "weekday", "last"),
        [
            (None, 1, date(2026, 11, 10)),  # the folder's Tuesdays
            (None, 6, date(2026, 11, 15)),  # the Sunday just before the read's week
            (None, 0, date(2026, 11, 9)),
            (date(2026, 11, 15), 1, date(2026, 11, 15)),
        ],
    )
    def test_days_of_a_backfill(self, until: date | None, weekday: int, last: date) -> None:
        days = backfill_days(date(2026, 10, 1), until, date(2026, 11, 17), weekday)
        assert days[-1] == last
        assert {(d - days[0]).days % 7 for d in days} == {0}

    def test_a_read_on_a_monday_leaves_its_own_week_too(self) -> None:
        with pytest.raises(UsageError):
            backfill_days(date(2026, 10, 1), date(2026, 11, 16), date(2026, 11, 16), 0)
        assert backfill_days(date(2026, 10, 1), None, date(2026, 11, 16), 0)[-1] == date(
            2026, 11, 9
        )

    def test_fetch_since_in_the_future_is_refused_before_any_read(
        self, ffkpi: Ffkpi, cli_env: Path
    ) -> None:
        result = ffkpi(
            "fetch", "--since", "2999-01-01", "--output", "b.json", env={"STRIPE_API_KEY": ""}
        )
        assert result.exit_code == ExitCode.USAGE
        assert result.stderr.startswith("ffkpi: error: --since 2999-01-01 is after today, "), (
            result.stderr
        )
        assert not (cli_env / "b.json").exists()


class TestInterruptedBackfill:
    """Issue item 8: the same command finishes the job, and every message says what is
    on disk."""

    ARGS = ("backfill", "--demo", "--since", "2026-09-01", "--dir", "kpi")

    def test_rerunning_after_a_kill_writes_the_newest_weeks(
        self, ffkpi: Ffkpi, cli_env: Path
    ) -> None:
        assert ffkpi(*self.ARGS).exit_code == 0
        folder = cli_env / "kpi"
        whole = weeks_in(folder)
        for stem in whole[-3:]:  # as if killed at three quarters
            for path in folder.glob(f"{stem}.*"):
                path.unlink()
        again = ffkpi(*self.ARGS)
        assert again.exit_code == 0, again.stderr
        assert weeks_in(folder) == whole
        assert f"written: 3 weeks, {whole[-3]} to {whole[-1]}, to kpi" in again.stdout
        assert f"kept: {len(whole) - 3} weeks that had a snapshot" in again.stdout

    def test_ctrl_c_says_which_weeks_are_on_disk(
        self, ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write = backfill_module.write_snapshot
        calls = []

        def interrupted_at_the_fourth(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 4:
                raise KeyboardInterrupt
            return write(*args, **kwargs)

        monkeypatch.setattr(backfill_module, "write_snapshot", interrupted_at_the_fourth)
        result = ffkpi(*self.ARGS)
        assert result.exit_code == ExitCode.INTERRUPTED
        folder = cli_env / "kpi"
        on_disk = weeks_in(folder)
        assert len(on_disk) == 3
        assert result.stderr == (
            f"ffkpi: error: interrupted after writing 3 whole weeks, {on_disk[0]} to "
            f"{on_disk[-1]}, to {folder.name} (run the same command again to write the rest)\n"
        )
        monkeypatch.setattr(backfill_module, "write_snapshot", write)
        finished = ffkpi(*self.ARGS)
        assert finished.exit_code == 0, finished.stderr
        assert "kept: 3 weeks that had a snapshot" in finished.stdout


class TestUnreadableWeeks:
    """Issue item 9: named, left untouched, and the other weeks written."""

    @pytest.mark.parametrize("kind", ["corrupt", "folder", "dangling link", "foreign schema"])
    def test_an_unreadable_entry_named_like_a_week_is_left_untouched(
        self, ffkpi: Ffkpi, cli_env: Path, kind: str
    ) -> None:
        folder = cli_env / "kpi"
        folder.mkdir()
        entry = folder / "2026-W40.toml"
        if kind == "corrupt":
            entry.write_text("mrr = [unclosed\n")
        elif kind == "folder":
            entry.mkdir()
        elif kind == "dangling link":
            os.symlink(cli_env / "gone.toml", entry)
        else:
            entry.write_text('schema = "someone.else/9"\n')
        before = os.readlink(entry) if entry.is_symlink() else None
        result = ffkpi("backfill", "--demo", "--since", "2026-09-01", "--dir", "kpi")
        assert result.exit_code == 0, result.stderr
        assert "unreadable: 1 week whose file is not a snapshot, left untouched" in result.stdout
        assert "  2026-W40.toml: " in result.stdout
        assert "written: 10 weeks, 2026-W36 to 2026-W46" in result.stdout
        assert "2026-W40" in weeks_in(folder)
        if kind == "dangling link":
            assert os.readlink(entry) == before
        elif kind == "corrupt":
            assert entry.read_text() == "mrr = [unclosed\n"
        json_run = ffkpi(
            "backfill", "--demo", "--since", "2026-09-01", "--dir", "kpi", "-f", "json"
        )
        assert '"week": "2026-W40"' in json_run.stdout


class TestSmaller:
    """Issue item 10."""

    def test_history_of_a_folder_with_since_after_until(self, ffkpi: Ffkpi) -> None:
        assert ffkpi("backfill", "--demo", "--since", "2026-10-01").exit_code == 0
        result = ffkpi("history", "--since", "2026-11-01", "--until", "2026-10-01")
        assert result.exit_code == ExitCode.USAGE
        assert result.stderr == (
            "ffkpi: error: --since 2026-11-01 is after --until 2026-10-01 (pass an earlier "
            "--since, or a later --until)\n"
        )

    def test_movements_of_an_empty_folder(self, ffkpi: Ffkpi, cli_env: Path) -> None:
        (cli_env / "kpi").mkdir()
        result = ffkpi("movements", "--dir", "kpi")
        assert result.exit_code == ExitCode.STORAGE
        assert result.stderr == (
            "ffkpi: error: no snapshots in kpi yet (run `ffkpi snapshot` once a week, or "
            "`ffkpi backfill`)\n"
        )
