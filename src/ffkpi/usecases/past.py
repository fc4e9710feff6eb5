"""The weeks `history` and `movements` show: read from the snapshot folder, or rebuilt
from invoices in memory (nothing written); and the days each covers by default."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ffkpi.config import Config
from ffkpi.engine.calendar import day_in_week, parse_week, week_name, weeks_back, year_back
from ffkpi.engine.model import NO_NAMES, Dataset, Names
from ffkpi.engine.mrr import compute_report
from ffkpi.errors import StorageError, UsageError
from ffkpi.history.growth import History, WeekMovers, growth_history, week_movers
from ffkpi.history.rebuild import data_day, refuse_after_read
from ffkpi.history.reconcile import Reconciliation
from ffkpi.history.series import WeekFigures, rebuilt_week
from ffkpi.history.shards import Feeder
from ffkpi.sources.files import read_input
from ffkpi.storage import spill
from ffkpi.storage.customer_files import customer_file, read_customers, write_customers
from ffkpi.storage.reads import kept_read
from ffkpi.storage.snapshots import Series, Skipped, largest_customers, read_series
from ffkpi.usecases import parallel
from ffkpi.usecases.week_files import counted_week


def rebuilt_days(data: Dataset, since: date | None, until: date | None, today: date) -> list[date]:
    """The as-of days `history --input/--demo` shows: every 7 days back from `until`
    (default: the day the data was read) to `since` (default: a year before)."""
    until = until or data_day(data) or today
    return weeks_back(since or year_back(until), until)


def chosen_week(as_of: date | None, week: str | None, until: date | None) -> str | None:
    """The week `movements` shows, named, from --as-of or --week (None: the newest)."""
    if as_of is not None and week is not None:
        raise UsageError("--as-of and --week were both given", "pass one of them")
    if until is not None:
        raise UsageError("movements shows one week, not a span", "pass --as-of or --week")
    if week is not None:
        parse_week(week)  # a malformed name is a usage error
        return week
    return None if as_of is None else week_name(as_of)


def movement_days(
    data: Dataset, since: date | None, as_of: date | None, week: str | None, today: date
) -> list[date]:
    """The as-of days that tell a week's movements: the week (--as-of itself, whatever
    weekday it is; or --week, on the read's weekday; default the day the data was read)
    and the ones before it, back to `since` (default: a year before), which tell new
    from reactivation."""
    read = data_day(data) or today
    if as_of is not None:
        refuse_after_read(data, as_of)
        day = as_of
    else:
        day = day_in_week(week, read.weekday()) if week is not None else read
    return weeks_back(since or year_back(day), day)


@contextmanager
def rebuilt_weeks(
    data: Dataset, config: Config, days: list[date], *, reconciled: bool = False
) -> Iterator[tuple[list[WeekFigures], Reconciliation | None]]:
    """The weeks of `days` rebuilt from invoices, as a series, for the block's length
    (their customers wait by shard until read: parallel.customer_shards); the week of
    the read's own day is the read itself, as `ffkpi mrr` and `ffkpi snapshot` count it
    (a rebuild cannot see what changed since the last invoices: history-rules.md). And,
    `reconciled`, where the read's own week, rebuilt, would differ from the read, why
    (reconcile.py): tallied as the rebuild goes, not in a pass of its own."""
    read = data_day(data)
    at_read = read is not None and bool(days) and max(days) == read
    with parallel.customer_shards(data) as shards:
        rebuilt = parallel.rebuilt(
            data, config, days, reconcile_at=read if reconciled and at_read else None, shards=shards
        )
        weeks = [
            rebuilt_week(report, config.digest, converted, rebuilt.unknown_discounts)
            for report, converted in zip(rebuilt.reports, rebuilt.converted, strict=True)
        ]
        differs = False
        if at_read:  # the last week is the read's own, its customers beside the rebuilt
            customers = rebuilt.customers
            report = compute_report(
                data,
                config,
                weeks[-1].as_of,
                customers=False,
                sink=lambda counted: customers.add_read(counted.customer, counted.tiers),
            )
            differs = report.mrr != rebuilt.reports[-1].mrr
            own = customers.read_week()
            report = dataclasses.replace(report, customer_tiers=own, customer_totals=own.in_all())
            weeks[-1] = rebuilt_week(report, config.digest, None, 0, origin="snapshot")
        yield weeks, rebuilt.reconciliation if differs else None


def rebuilt_history(
    data: Dataset, config: Config, days: list[date], *, last: int | None, by_tier: bool
) -> History:
    """The weeks of `days` rebuilt in memory, as a history to show; nothing written."""
    with rebuilt_weeks(data, config, days) as (series, _):
        return growth_history(series, config, last=last, by_tier=by_tier)


def rebuilt_movers(data: Dataset, config: Config, days: list[date]) -> WeekMovers:
    """The last of `days` against the one before, rebuilt in memory (the earlier days
    tell new from reactivation)."""
    with rebuilt_weeks(data, config, days) as (series, _):
        return week_movers(series, series[-1].week)


@dataclass(frozen=True, slots=True)
class FolderHistory:
    """A snapshot folder's history, and what in the folder could not be read."""

    history: History
    skipped: tuple[Skipped, ...]  # files that are not snapshots
    damaged: tuple[Skipped, ...]  # snapshots whose customer file is gone or altered
    names: Names  # the customers' names the weeks kept, a newer week's winning


@contextmanager
def folder_series(folder: Path, config: Config | None) -> Iterator[tuple[Series, Names]]:
    """The folder's weeks, under today's MRR definition where a config is given, for the
    block's length; and the names their customer files keep, a newer week's winning.
    Each week's customers are read in turn from its file, beside the week before's, and
    what changed kept by shard (history/shards.py): no week's customers are held."""
    with parallel.folder_shards(largest_customers(folder)) as store, spill.recounted() as aside:
        made: list[Feeder] = []

        def each(week: WeekFigures, tiers: tuple[str, ...]) -> WeekFigures:
            if config is not None:
                week = under_definition(folder, week, config, aside)
            if not made:
                extra = [t.name for t in config.tiers] if config is not None else []
                made.append(Feeder(store, list(dict.fromkeys([*tiers, *extra]))))
            return dataclasses.replace(week, customers=made[0].keep(week.customers))

        series = read_series(folder, each)
        yield series, made[0].names if made else NO_NAMES


@contextmanager
def load_history(
    folder: Path,
    config: Config | None,
    *,
    last: int | None,
    by_tier: bool,
    strict: bool,
    since: date | None = None,
    until: date | None = None,
) -> Iterator[FolderHistory]:
    """The folder's weeks (the last `last`, from `since` to `until`), measured against
    the config's target, for the block's length (their names are looked up in their
    files); `strict` makes a file that is not a snapshot, or a customer file gone or
    altered, an error rather than a warning."""
    if since is not None and until is not None and since > until:
        raise UsageError(
            f"--since {since} is after --until {until}",
            "pass an earlier --since, or a later --until",
        )
    with folder_series(folder, config) as (series, names):
        if strict and series.skipped:
            skipped = series.skipped[0]
            raise StorageError(
                f"{skipped.path} is not a readable snapshot: {skipped.reason}",
                "move it out of the snapshot folder, or drop --strict to skip it",
            )
        if strict and series.damaged:
            damaged = series.damaged[0]
            raise StorageError(
                f"{damaged.path}: {damaged.reason}",
                "restore the file from a backup, or take the week again with "
                "`ffkpi snapshot --force --as-of DATE`",
            )
        history = growth_history(
            series.weeks, config, last=last, by_tier=by_tier, since=since, until=until
        )
        yield FolderHistory(history, series.skipped, series.damaged, names)


def under_definition(folder: Path, week: WeekFigures, config: Config, aside: Path) -> WeekFigures:
    """A folder's week under today's MRR definition (review-rules.md): made under another,
    it is recomputed from its kept read, where the weekly run kept it, and marked so;
    where no read is kept it stays as it was, and growth across the change is withheld
    (history.growth.comparable). A week recomputed keeps its customers as a snapshot
    does, in a customer file, here in `aside`: read from it like the folder's own."""
    if week.config_digest == config.earlier_digest:  # the target was in the digest
        week = dataclasses.replace(week, config_digest=config.digest)
    read = kept_read(folder, week.week)
    if week.config_digest != config.digest and read.is_file():
        data = read_input(read)
        with counted_week(data, config, week.as_of) as (report, rows):
            file = customer_file(report, data.customer_names, rows)
            path, digest, _ = write_customers(aside, week.week, file)
        customers = read_customers(aside, week.week, f"{path.name} sha256:{digest}")
        week = rebuilt_week(report, config.digest, None, 0, origin="recomputed")
        week = dataclasses.replace(week, customers=customers)
    return week


def folder_movers(
    folder: Path, week: str | None, config: Config | None
) -> tuple[WeekMovers, dict[str, str]]:
    """`week` of the snapshot folder (default: the newest) against the one before it,
    and the names the weeks kept of the customers who moved."""
    with folder_series(folder, config) as (read, names):
        series = read.weeks
        if not series:
            raise StorageError(
                f"no snapshots in {folder} yet",
                "run `ffkpi snapshot` once a week, or `ffkpi backfill`",
            )
        movers = week_movers(series, week or series[-1].week)
        return movers, names.of(move.customer for move in movers.moves)
