"""A rebuild's changes waiting on disk until summed (storage.spill): the same reports
to the byte as held in memory, in one process or a pool, and nothing left behind."""

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from accounts import simulated, streamed
from conftest import DEMO, Ffkpi
from ffkpi.errors import ExitCode, StorageError
from ffkpi.history.rebuild import Waiting, in_order, rebuild
from ffkpi.sources import read_names
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, example_config_text, load_demo
from ffkpi.sources.files import read_input
from ffkpi.storage import spill
from ffkpi.usecases import parallel

WEEKS = [DEMO_AS_OF - timedelta(weeks=k) for k in range(60, -1, -1)]


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("run", [in_order, parallel._in_pool], ids=["here", "pool"])
@pytest.mark.parametrize("account", ["demo", "simulated, streamed"])
def test_changes_kept_on_disk_give_the_same_reports_to_the_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int, run: object, account: str
) -> None:
    if account == "demo":
        data = load_demo(history=True)
    else:
        path = tmp_path / "read.jsonl"
        path.write_bytes(streamed(simulated(23, signups=120)))
        data = read_input(path, history=True)
    config = demo_config()
    held = rebuild(data, config, WEEKS, reconcile_at=DEMO_AS_OF)
    monkeypatch.setattr(spill, "BATCH", 7)  # many batches a week, the last one part-full
    with spill.spilled() as keep:
        folder = keep(range(0), 1).folder  # type: ignore[attr-defined]
        kept = rebuild(
            data, config, WEEKS, parts=parts, run=run, reconcile_at=DEMO_AS_OF, keep=keep
        )
        assert list(folder.iterdir()) == []  # each week's file deleted once summed
    assert not folder.exists()
    assert kept == held
    assert repr(kept) == repr(held)
    assert [dict(r.customer_tiers or {}) for r in kept.reports] == [
        dict(r.customer_tiers or {}) for r in held.reports
    ]


def test_no_room_for_the_changes_is_one_line(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = cli_env / "no-such-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    result = ffkpi("history", "--demo", "-f", "json")
    assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
    assert result.stderr == (
        f"ffkpi: error: cannot keep the rebuild's changes in {missing}: No such file or "
        "directory (free some space there, or set TMPDIR to a folder with room)\n"
    )


def test_a_change_that_cannot_be_written_is_a_storage_error(tmp_path: Path) -> None:
    data, config = load_demo(history=True), demo_config()
    gone = spill.Spilled(tmp_path / "removed", 0)
    with pytest.raises(StorageError, match="cannot keep the rebuild's changes in"):
        rebuild(data, config, WEEKS, keep=lambda part, weeks: gone)


def test_changes_removed_while_the_rebuild_ran_are_an_error_not_a_lower_week(
    tmp_path: Path,
) -> None:
    data, config = load_demo(history=True), demo_config()
    with spill.spilled() as keep:

        def cleaned(part: range, weeks: int) -> Waiting:
            kept = keep(part, weeks)

            def seal() -> None:
                spill.Spilled.seal(kept)  # type: ignore[arg-type]
                next(kept.folder.iterdir()).unlink()  # type: ignore[attr-defined]

            kept.seal = seal  # type: ignore[method-assign]
            return kept

        with pytest.raises(StorageError, match="were removed or altered while ffkpi ran"):
            rebuild(data, config, WEEKS, keep=cleaned)


@pytest.mark.usefixtures("clock")
def test_no_room_for_a_reads_names_is_one_line_and_no_snapshot(
    ffkpi: Ffkpi, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the names a read holds, they are sorted on disk to write the customer file."""
    (cli_env / "ffkpi.toml").write_text(example_config_text())
    (cli_env / "read.jsonl").write_bytes(streamed(DEMO))
    monkeypatch.setattr(read_names, "HELD", 3)
    missing = cli_env / "no-such-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    result = ffkpi("snapshot", "--input", "read.jsonl", "--dir", "kpi")
    assert (result.exit_code, result.stdout) == (ExitCode.STORAGE, "")
    assert result.stderr == (
        f"ffkpi: error: cannot keep the read's customers' names in {missing}: No such file or "
        "directory (free some space there, or set TMPDIR to a folder with room)\n"
    )
    assert [p.name for p in (cli_env / "kpi").iterdir()] == [".ffkpi.lock"]  # nothing written
