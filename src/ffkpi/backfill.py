"""Past weeks rebuilt from invoices: written into a snapshot folder (`ffkpi backfill`)
or shown in memory (`ffkpi history --input/--demo`).

A week that already has a snapshot is never touched: its reconstruction is only set
beside it, as a check. Each rebuilt week is written as `ffkpi snapshot` writes one,
marked source = "reconstructed", so running it twice changes nothing.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from ffkpi.config import Config
from ffkpi.errors import UsageError
from ffkpi.growth import History, WeekChanges, growth_history, week_changes
from ffkpi.history import Rebuilt, rebuild, weeks_back
from ffkpi.model import Dataset
from ffkpi.mrr import Report
from ffkpi.reconcile import Reconciliation, reconcile
from ffkpi.snapshots import (
    Customers,
    Reconstruction,
    Saved,
    Snapshot,
    read_snapshots,
    snapshot_document,
    week_of,
    write_snapshot,
)

DEFAULT_WEEKS = 52  # `history --input/--demo` without --since


def data_day(data: Dataset) -> date | None:
    """The day the data was read, if it says."""
    if data.read_at is None:
        return None
    return datetime.fromtimestamp(data.read_at, UTC).date()


def plan_weeks(since: date, until: date) -> list[date]:
    if since > until:
        raise UsageError(
            f"--since {since} is after the last week to rebuild, {until}",
            "pass an earlier --since, or a later --until",
        )
    return weeks_back(since, until)


def backfill_until(folder: Path, data: Dataset, today: date) -> date:
    """7 days before the newest snapshot in the folder, else the day before the data
    was read (yesterday for a live read): the weeks line up with the folder's."""
    if folder.is_dir():
        stored = read_snapshots(folder).snapshots
        if stored:
            return stored[-1].as_of - timedelta(days=7)
    return (data_day(data) or today) - timedelta(days=1)


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
    rebuilt = rebuild(data, config, days)
    existing = {s.week: s for s in read_snapshots(folder).snapshots} if folder.is_dir() else {}
    written: list[Saved] = []
    kept: list[Kept] = []
    for week, report in enumerate(rebuilt.reports):
        name = week_of(report.as_of)
        stored = existing.get(name)
        if stored is None:
            saved = write_snapshot(
                folder,
                report,
                config_digest=config.digest,
                created_at=created_at,
                version=version,
                lock_timeout=lock_timeout,
                source="reconstructed",
                reconstruction=_reconstruction(rebuilt, week),
            )
            if not saved.kept:
                written.append(saved)
                continue
            stored = {s.week: s for s in read_snapshots(folder).snapshots}[name]
        kept.append(
            Kept(
                name,
                folder / f"{name}.toml",
                stored.source,
                stored.currency,
                stored.mrr,
                report.mrr,
            )
        )
    return Backfill(folder, written, kept, rebuilt, reconcile(data, config, as_of))


def rebuilt_history(
    data: Dataset, config: Config, days: list[date], *, last: int | None, by_tier: bool
) -> History:
    """The weeks of `days` rebuilt in memory, as a history to show; nothing written."""
    rebuilt = rebuild(data, config, days)
    snapshots = tuple(
        _in_memory(report, config, _reconstruction(rebuilt, week))
        for week, report in enumerate(rebuilt.reports)
    )
    tiers = tuple(tier.name for tier in config.tiers)
    customers = [
        Customers(report.currency, tiers, report.customer_tiers, report.customer_totals)
        for report in rebuilt.reports
    ]
    return growth_history(snapshots, config, last=last, by_tier=by_tier, customers=customers)


def rebuilt_changes(data: Dataset, config: Config, days: list[date]) -> WeekChanges:
    """The last of `days` against the one before, rebuilt in memory (the earlier days
    tell new from reactivation)."""
    rebuilt = rebuild(data, config, days)
    snapshots = [
        _in_memory(report, config, _reconstruction(rebuilt, week))
        for week, report in enumerate(rebuilt.reports)
    ]
    tiers = tuple(tier.name for tier in config.tiers)
    customers: list[Customers | None] = [
        Customers(report.currency, tiers, report.customer_tiers, report.customer_totals)
        for report in rebuilt.reports
    ]
    return week_changes(snapshots, customers, snapshots[-1].week)


def _in_memory(report: Report, config: Config, reconstruction: Reconstruction) -> Snapshot:
    """A rebuilt week as the snapshot `ffkpi backfill` would write for it."""
    document = snapshot_document(
        report,
        config_digest=config.digest,
        created_at=datetime.now(UTC),
        version="",
        customers="",
        source="reconstructed",
        reconstruction=reconstruction,
    )
    return Snapshot.model_validate(document)
