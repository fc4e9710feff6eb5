"""`ffkpi backfill`: past weeks rebuilt from invoices, written into a snapshot folder
(shown in memory instead by `ffkpi history --input/--demo`: past.py).

Only weeks before the one the data was read in, which belongs to `ffkpi snapshot`. A
week that already has a snapshot is never touched: its reconstruction is only set
beside it, as a check. Each rebuilt week is written as `ffkpi snapshot` writes one,
marked source = "reconstructed", so running it twice changes nothing.
"""

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from ffkpi.config import Config
from ffkpi.engine.calendar import (
    DAY,
    first_of_running_week,
    last_complete_week,
    week_name,
    weeks_back,
)
from ffkpi.engine.model import Dataset
from ffkpi.errors import Interrupted, UsageError
from ffkpi.history.rebuild import Rebuilt
from ffkpi.history.reconcile import Reconciliation
from ffkpi.storage.customer_files import customer_file
from ffkpi.storage.snapshots import (
    Reconstruction,
    Saved,
    Skipped,
    Snapshot,
    read_snapshot,
    read_snapshots,
    write_snapshot,
)
from ffkpi.usecases import parallel
from ffkpi.usecases.week_files import rows_by_week


def backfill_days(since: date, until: date | None, read: date, weekday: int) -> list[date]:
    """The as-of days backfill writes, every 7 days back from `until` to `since`: all in
    ISO weeks before the one the data was read in, which is still running and belongs to
    `ffkpi snapshot` (later ones cannot be known). Without `until`, the last of them
    falls on `weekday`, in the week before the read's."""
    running = first_of_running_week(read)
    if until is None:
        until = last_complete_week(read, weekday)
    elif until >= running:
        raise UsageError(
            f"--until {until} is not before {week_name(read)}, the week the data was read in "
            f"({read}): that week belongs to `ffkpi snapshot`, and no later one can be known",
            f"pass --until {running - DAY} or earlier, or leave it out",
        )
    return weeks_back(since, until)


def cron_weekday(folder: Path, read: date) -> int:
    """The weekday the folder's weeks fall on: that of its newest snapshot taken by cron,
    else of its newest one, else the read's own (`ffkpi snapshot` takes the read's week
    as of the read's day)."""
    stored = read_snapshots(folder).snapshots if folder.is_dir() else ()
    taken = [s for s in stored if s.source == "snapshot"] or stored
    return taken[-1].as_of.weekday() if taken else read.weekday()


@dataclass(frozen=True, slots=True)
class Kept:
    """A week that had a snapshot already, beside its reconstruction."""

    week: str
    path: Path
    source: str  # the kept file's: snapshot or reconstructed
    currency: str
    stored: Decimal  # its MRR, as written
    rebuilt: Decimal


@dataclass(frozen=True, slots=True)
class Backfill:
    folder: Path
    written: list[Saved]
    kept: list[Kept]
    unreadable: list[Skipped]  # files named like a week in range, left untouched
    rebuilt: Rebuilt
    reconciliation: Reconciliation  # the instant of the read, rebuilt against the read


def _reconstruction(rebuilt: Rebuilt, week: int) -> Reconstruction:
    return Reconstruction(
        converted_subscriptions=rebuilt.converted[week],
        unknown_discounts=rebuilt.unknown_discounts,
    )


def backfill(
    folder: Path,
    data: Dataset,
    config: Config,
    days: list[date],
    *,
    as_of: date,
    created_at: datetime,
    version: str,
    lock_timeout: float,
) -> Backfill:
    """Write every week of `days` that has no snapshot yet; `as_of` is the day of the
    read, reconciled against its own reconstruction."""
    written: list[Saved] = []
    kept: list[Kept] = []
    unreadable: list[Skipped] = []
    writing: Path | None = None
    try:
        with ExitStack() as blocks:
            shards = blocks.enter_context(parallel.customer_shards(data))
            rebuilt = parallel.rebuilt(data, config, days, reconcile_at=as_of, shards=shards)
            existing = _existing(folder)
            missing = [
                w for w, r in enumerate(rebuilt.reports) if week_name(r.as_of) not in existing
            ]
            # Each week's customers wait, by shard, until its file is written.
            rows = blocks.enter_context(rows_by_week(rebuilt.customers, missing))
            for week, report in enumerate(rebuilt.reports):
                name = week_name(report.as_of)
                path = folder / f"{name}.toml"
                found = existing.get(name)
                if found is None and path.is_symlink():
                    found = Skipped(path, "a link to a file that does not exist")
                if found is None:
                    writing = path
                    saved = write_snapshot(
                        folder,
                        report,
                        customer_file(report, data.customer_names, rows(week)),
                        config_digest=config.digest,
                        created_at=created_at,
                        version=version,
                        lock_timeout=lock_timeout,
                        source="reconstructed",
                        reconstruction=_reconstruction(rebuilt, week),
                    )
                    writing = None
                    if not saved.kept:
                        written.append(saved)
                        continue
                    found = read_snapshot(path)  # another run wrote it meanwhile
                if isinstance(found, Skipped):
                    unreadable.append(found)
                    continue
                kept.append(Kept(name, path, found.source, found.currency, found.mrr, report.mrr))
    except KeyboardInterrupt:
        if writing is not None and writing.exists():
            written.append(Saved(writing, kept=False))  # its rename had just happened
        raise _interrupted(folder, written) from None
    assert rebuilt.reconciliation is not None
    return Backfill(folder, written, kept, unreadable, rebuilt, rebuilt.reconciliation)


def _existing(folder: Path) -> dict[str, Snapshot | Skipped]:
    """The folder's snapshots by week, and the files named like one that are not."""
    if not folder.is_dir():
        return {}
    stored = read_snapshots(folder)
    existing: dict[str, Snapshot | Skipped] = {entry.path.stem: entry for entry in stored.skipped}
    existing.update((s.week, s) for s in stored.snapshots)
    return existing


def _interrupted(folder: Path, written: list[Saved]) -> Interrupted:
    """Ctrl-C: each snapshot is committed by one rename, so the weeks written are whole
    and on disk, and nothing else is."""
    if not written:
        return Interrupted("interrupted; nothing was written", "run the same command again")
    return Interrupted(
        f"interrupted after writing {len(written)} whole week{'s' if len(written) > 1 else ''}"
        f", {written[0].path.stem} to {written[-1].path.stem}, to {folder}",
        "run the same command again to write the rest",
    )
