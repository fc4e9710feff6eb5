"""The commands of past weeks: history, backfill and movements."""

from datetime import date, datetime
from typing import Annotated

import typer

from ffkpi import __version__, clock, render
from ffkpi.cli.commands import LockTimeout
from ffkpi.cli.options import (
    DirOption,
    Format,
    FormatOption,
    PastOptions,
    StripeOptions,
    TextFormat,
    day_option,
    grouped,
)
from ffkpi.cli.runs import load_past, one_source, run_config
from ffkpi.errors import UsageError
from ffkpi.history.rebuild import data_day
from ffkpi.storage.config_file import find_config, load_config
from ffkpi.storage.snapshots import snapshot_folder
from ffkpi.usecases.backfill import backfill as run_backfill
from ffkpi.usecases.backfill import backfill_days, cron_weekday
from ffkpi.usecases.past import (
    chosen_week,
    folder_movers,
    load_history,
    movement_days,
    rebuilt_days,
    rebuilt_history,
    rebuilt_movers,
)


@grouped
def history(
    past: PastOptions,
    directory: DirOption = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", min=1, help="Show only the last N weeks.")
    ] = None,
    by_tier: Annotated[bool, typer.Option("--by-tier", help="Also show each tier.")] = False,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Draw MRR as a chart.")] = True,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 6) on a file that is not a snapshot.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Show MRR and ARR week over week, with growth against the weekly target.

    From the snapshot folder (--since and --until limit the weeks shown); with --input
    FILE or --demo, every week is rebuilt from the invoices in memory instead (--since:
    default 52 weeks before --until; --until: default the day the data was read), and
    nothing is written. Each week says whether
    it was taken (snapshot) or rebuilt from invoices.

    Example:

        ffkpi history --weeks 12 --by-tier

        ffkpi history --demo --since 2025-11-18

    A snapshot whose customer file is missing or fails its SHA-256 is named in a
    warning (with --strict, exit 6).
    """
    one_source(past.input_file, past.demo)
    if past.input_file is not None or past.demo:
        config, _ = run_config(past)
        data = load_past(past, StripeOptions(), config)
        days = rebuilt_days(data, _day(past.since), _day(past.until), clock.today())
        shown = rebuilt_history(data, config, days, last=weeks, by_tier=by_tier)
        render.show_history(shown, fmt, chart=chart, empty="no week to rebuild")
        return
    path = find_config(past.config)
    cfg = load_config(path) if path is not None else None
    folder = snapshot_folder(directory, cfg, path)
    empty = f"no snapshots in {folder} yet (run `ffkpi snapshot` once a week, or `ffkpi backfill`)"
    with load_history(
        folder,
        cfg,
        last=weeks,
        by_tier=by_tier,
        strict=strict,
        since=_day(past.since),
        until=_day(past.until),
    ) as read:
        for skipped in read.skipped:
            render.warning(f"skipped {skipped.path}: {skipped.reason}")
        for damaged in read.damaged:
            render.warning(f"{damaged.path}: {damaged.reason} (its totals are shown)")
        render.show_history(read.history, fmt, chart=chart, empty=empty)


@grouped
def backfill(
    past: PastOptions,
    live: StripeOptions,
    directory: DirOption = None,
    lock_timeout: LockTimeout = 600,
    fmt: Annotated[
        TextFormat, typer.Option("--format", "-f", help="text for people, json for scripts.")
    ] = TextFormat.text,
) -> None:
    """Write the snapshots of past weeks, rebuilt from Stripe's invoices.

    One week every 7 days back from --until to --since, each in an ISO week before the
    one the data was read in (that week belongs to `ffkpi snapshot`); by default the
    last such week, on the weekday of the folder's snapshots. Each is counted by
    the rules of `ffkpi mrr` on the account as it stood, and written as that week's
    snapshot marked source = "reconstructed". A week that has a snapshot is never
    touched: its reconstruction is shown beside it. Running it twice changes nothing.

    Example:

        ffkpi backfill --since 2024-11-26

        ffkpi backfill --input stripe-history.jsonl --since 2025-01-07 --dir kpi
    """
    one_source(past.input_file, past.demo)
    if past.since is None:
        raise UsageError(
            "--since is required", "pass the first week to rebuild: --since YYYY-MM-DD"
        )
    config, path = run_config(past)
    folder = snapshot_folder(directory, config, path)
    since, until = past.since.date(), _day(past.until)
    if past.input_file is None and not past.demo:
        backfill_days(since, until, clock.today(), 6)  # a live read is today's: fail before it
    data = load_past(past, live, config)
    day = data_day(data) or clock.today()
    result = run_backfill(
        folder,
        data,
        config,
        backfill_days(since, until, day, cron_weekday(folder, day)),
        as_of=day,
        created_at=clock.now(),
        version=__version__,
        lock_timeout=lock_timeout,
    )
    render.show_backfill(result, as_json=fmt is TextFormat.json)


@grouped
def movements(
    past: PastOptions,
    directory: DirOption = None,
    as_of: Annotated[
        datetime | None,
        day_option("--as-of", "The week whose as-of day this is (default: the newest)."),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option("--week", metavar="YYYY-Www", help="The week, as history names it."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Name the customers behind a week's movements: new, expansion, reactivation,
    contraction and churn against the week before, largest first.

    From the snapshot folder; with --input FILE or --demo, the weeks are rebuilt from
    the invoices in memory (--since: where "new" starts, default 52 weeks before).

    Example:

        ffkpi movements --week 2026-W47

        ffkpi movements --demo --format json
    """
    one_source(past.input_file, past.demo)
    target = chosen_week(_day(as_of), week, _day(past.until))
    if past.input_file is not None or past.demo:
        config, _ = run_config(past)
        data = load_past(past, StripeOptions(), config)
        days = movement_days(data, _day(past.since), _day(as_of), target, clock.today())
        movers = rebuilt_movers(data, config, days)
        names = data.customer_names.of(move.customer for move in movers.moves)
        render.show_movements(movers, names, fmt)
    else:
        path = find_config(past.config)
        cfg = load_config(path) if path is not None else None
        folder = snapshot_folder(directory, cfg, path)
        movers, names = folder_movers(folder, target, cfg)
        render.show_movements(movers, names, fmt)


def _day(option: datetime | None) -> date | None:
    return None if option is None else option.date()
