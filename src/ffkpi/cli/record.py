"""`ffkpi record`: the review's other KPIs for a week."""

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from ffkpi import clock, render
from ffkpi.cli.commands import LockTimeout
from ffkpi.cli.options import CommandTimeoutOption, ConfigOption, DirOption, day_option
from ffkpi.errors import ExitCode, UsageError
from ffkpi.storage.config_file import find_config, load_config
from ffkpi.storage.kpis import read_week
from ffkpi.storage.kpis import record as write_values
from ffkpi.storage.snapshots import snapshot_folder
from ffkpi.usecases import kpis


def record(
    entries: Annotated[
        list[str] | None,
        typer.Argument(metavar="[KEY=VALUE ...]", help="Values, or with --run the keys to run."),
    ] = None,
    week: Annotated[
        str | None, typer.Option("--week", metavar="YYYY-Www", help="The week (default: this one).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note kept with the values.")] = "",
    run: Annotated[
        bool, typer.Option("--run", help="Run each KPI's command for its value.")
    ] = False,
    from_csv: Annotated[
        Path | None,
        typer.Option("--from-csv", dir_okay=False, help="Record rows week,kpi,value,note."),
    ] = None,
    listing: Annotated[
        bool, typer.Option("--list", help="Show the week's recorded values.")
    ] = False,
    timeout: CommandTimeoutOption = kpis.COMMAND_TIMEOUT,
    since: Annotated[
        datetime | None,
        day_option("--since", "With --run: run the commands for every week from this day's."),
    ] = None,
    until: Annotated[
        datetime | None, day_option("--until", "With --since: the last week (default: today's).")
    ] = None,
    config_path: ConfigOption = None,
    directory: DirOption = None,
    lock_timeout: LockTimeout = 600,
) -> None:
    """Record the Tuesday review's other KPIs for a week, beside the snapshots.

    KEY=VALUE by hand, --run to run each KPI's command (as cron would; with --since,
    for every past week too), or --from-csv for past weeks from a spreadsheet (all rows
    or none); --list shows a week's values. Recording a value again replaces it and says
    what it was. A command gets its week's window in the environment: FFKPI_KPI,
    FFKPI_WEEK, FFKPI_AS_OF, FFKPI_SINCE, FFKPI_UNTIL, FFKPI_QUARTER,
    FFKPI_QUARTER_START and FFKPI_QUARTER_END.

    Example:

        ffkpi record mqls=118 carr_closed=168000 --note "Q4 pipeline review"

        ffkpi record --run

        ffkpi record --run --since 2026-01-06
    """
    if sum((bool(entries) and not run, run, from_csv is not None, listing)) > 1:
        raise UsageError("values, --run, --from-csv and --list were mixed", "pass one of them")
    if (since is not None or until is not None) and not run:
        raise UsageError("--since and --until go with --run", "add --run, or drop them")
    if until is not None and since is None:
        raise UsageError("--until goes with --since", "pass --since as well")
    if since is not None and week is not None:
        raise UsageError("--week and --since were both given", "pass one of them")
    path = find_config(config_path)
    if path is None:
        raise UsageError("no config file found", "pass --config PATH; record needs its [kpis]")
    config = load_config(path)
    folder = snapshot_folder(directory, config, path)
    now = clock.now()
    chosen = kpis.chosen_week(week, now.date())
    if listing:
        render.write(render.kpi_week(chosen, read_week(folder, chosen), config))
        return
    failed: list[kpis.Failed] = []
    if from_csv is not None:
        values = kpis.csv_values(from_csv, config, now.date(), now)
    elif run:
        days = kpis.run_days(folder, now.date(), week, _day(since), _day(until))
        values, failed, skipped = kpis.command_values(
            config, entries or [], days, now, timeout, base=path.parent, running=now.date()
        )
        if skipped:
            render.note(f"no command or source in the config, so not run: {', '.join(skipped)}")
    else:
        values = kpis.manual_values(entries or [], config, chosen, note, now)
    replaced = write_values(folder, values, lock_timeout=lock_timeout) if values else []
    render.write(render.kpi_recorded(replaced))
    show_failed(failed)


def show_failed(failed: list[kpis.Failed]) -> None:
    """Each KPI that gave no value, named with its week; then exit 7, or the code of the
    first source that failed (a refused token 4, a service down 5)."""
    weeks: dict[tuple[str, str], list[str]] = {}
    for failure in failed:  # one line for a KPI that failed alike in several weeks
        weeks.setdefault((failure.key, failure.why), []).append(failure.week)
    for (key, why), named in weeks.items():
        render.error(f"{key} of {_weeks(named)}: {why} (nothing recorded for it)")
    if failed:
        codes = [f.code for f in failed if f.code != ExitCode.SOME_FAILED]
        raise typer.Exit(int(codes[0] if codes else ExitCode.SOME_FAILED))


def _weeks(named: list[str]) -> str:
    """2026-W46; 2026-W45 and 2026-W46; 14 weeks, 2026-W36 to 2026-W49."""
    if len(named) <= 2:
        return " and ".join(named)
    return f"{len(named)} weeks, {named[0]} to {named[-1]}"


def _day(option: datetime | None) -> date | None:
    return None if option is None else option.date()
