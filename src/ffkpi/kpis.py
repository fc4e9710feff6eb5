"""`ffkpi record`: the Tuesday review's other KPIs, recorded for a week by hand, by
running each KPI's command, or from a spreadsheet's CSV (all or nothing).

What is refused before anything is written: a key the config does not define, `mrr`
or `arr` (built in), a week in the future, a value that is not a finite number.
"""

import csv
import io
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ffkpi.backfill import cron_weekday
from ffkpi.config import BUILT_IN_KPIS, Config
from ffkpi.engine.calendar import (
    WEEK,
    day_in_week,
    first_of_running_week,
    kpi_window,
    parse_week,
    week_name,
)
from ffkpi.errors import ConfigError, InputError, UsageError
from ffkpi.storage.files import read_limited
from ffkpi.storage.kpis import Recorded, Via
from ffkpi.storage.snapshots import read_snapshots

MAX_VALUE = Decimal("1e15")
MAX_CSV = 16 * 1024 * 1024
COMMAND_TIMEOUT = 60.0  # seconds, the default of --timeout
Values = dict[str, dict[str, Recorded]]  # by week, then KPI key


def chosen_week(week: str | None, today: date) -> str:
    """The week values are recorded for: --week, or the one running; never a later one."""
    if week is None:
        return week_name(today)
    if parse_week(week) > first_of_running_week(today):
        raise UsageError(
            f"--week {week} has not begun (today is in {week_name(today)})",
            "record a week that has begun",
        )
    return week


def number(text: str, where: str) -> Decimal:
    """A recorded value: a finite number within ±10^15, or an error naming it."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or abs(value) > MAX_VALUE:
        raise InputError(
            f"{where}: {text.strip()[:40]!r} is not a number",
            "give a finite number such as 118 or 450000.50",
        )
    return value


def _known(config: Config, key: str) -> None:
    if key in BUILT_IN_KPIS:
        raise UsageError(
            f"{key} is built in: it comes from the snapshots, never recorded",
            "record the other KPIs; take the week's snapshot with ffkpi snapshot",
        )
    if key not in config.kpis:
        known = ", ".join(config.kpis) or "none yet"
        raise ConfigError(
            f"no KPI {key!r} in the config (it defines: {known})",
            f"add a [kpis.{key}] table to the config, or correct the key",
        )


def manual_values(
    entries: Sequence[str], config: Config, week: str, note: str, now: datetime
) -> Values:
    """KEY=VALUE entries for one week."""
    if not entries:
        raise UsageError("no values given", "write them as KEY=VALUE, e.g. mqls=118")
    values: dict[str, Recorded] = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        if not sep:
            raise UsageError(f"{entry!r} is not KEY=VALUE", "write it like mqls=118")
        key = key.strip()
        _known(config, key)
        values[key] = Recorded(number(text, key), "manual", now, note)
    return {week: values}


@dataclass(frozen=True, slots=True)
class Failed:
    """A KPI whose command gave no value for a week: its key and the first line it
    printed."""

    key: str
    why: str
    week: str = ""


Runner = Callable[[str, float, Mapping[str, str]], tuple[int | None, str]]
# command, timeout, its window's variables -> exit code (None: timed out), output


def window_variables(key: str, period: str, as_of: date) -> dict[str, str]:
    """The window a KPI's command runs with (review-rules.md), so that it computes no
    dates and can be run for past weeks."""
    window = kpi_window(period, as_of)
    return {
        "FFKPI_KPI": key,
        "FFKPI_WEEK": window.week,
        "FFKPI_AS_OF": window.as_of.isoformat(),
        "FFKPI_SINCE": window.since.isoformat(),
        "FFKPI_UNTIL": window.until.isoformat(),
        "FFKPI_QUARTER": window.quarter.name,
        "FFKPI_QUARTER_START": window.quarter.first_day.isoformat(),
        "FFKPI_QUARTER_END": window.quarter.last_day.isoformat(),
    }


def run_shell(command: str, timeout: float, variables: Mapping[str, str]) -> tuple[int | None, str]:
    """Run one command line as cron would (through the shell), with its window in the
    environment; None: it timed out."""
    try:
        done = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **variables},
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, (done.stdout if done.returncode == 0 else done.stderr or done.stdout)


def run_days(
    folder: Path, today: date, week: str | None, since: date | None, until: date | None
) -> list[date]:
    """The as-of day of each week `record --run` computes: the week named, the weeks
    from `since` to `until` (default today), or the running week. A week's day is its
    snapshot's as-of day where the folder has one, else its day on the weekday of the
    folder's weeks (of `since`, in a folder without snapshots), never after today: so
    the window a command gets does not depend on the day it runs."""
    taken = {s.week: s.as_of for s in read_snapshots(folder).snapshots} if folder.is_dir() else {}
    weekday = cron_weekday(folder, since or today)
    if since is not None:
        last = until or today
        if since > last:
            raise UsageError(f"--since {since} is after {last}", "pass an earlier --since")
        weeks = []
        monday = first_of_running_week(since)
        while monday <= last:
            weeks.append(week_name(monday))
            monday += WEEK
    else:
        weeks = [chosen_week(week, today)]
    return [taken.get(name) or min(day_in_week(name, weekday), today) for name in weeks]


def command_values(
    config: Config,
    keys: Sequence[str],
    days: Sequence[date],
    now: datetime,
    timeout: float,
    run: Runner = run_shell,
) -> tuple[Values, list[Failed], list[str]]:
    """Each KPI's command run for each as-of day (those named, else every KPI that has
    one), with its window in the environment: the one number it prints is its value.
    One that fails, times out or prints something else is reported for its week, and
    the others are still recorded. Also: the KPIs left out for having no command."""
    for key in keys:
        _known(config, key)
    chosen = list(keys) or [key for key, kpi in config.kpis.items() if kpi.command]
    skipped = [key for key, kpi in config.kpis.items() if not kpi.command and key not in keys]
    values: Values = {}
    failed: list[Failed] = []
    for day in days:
        week = week_name(day)
        for key in chosen:
            kpi = config.kpis[key]
            if kpi.command is None:
                failed.append(Failed(key, "it has no command in the config", week))
                continue
            variables = window_variables(key, kpi.period, day)
            code, output = run(kpi.command, timeout, variables)
            first = next((line.strip() for line in output.splitlines() if line.strip()), "")
            if code is None:
                failed.append(Failed(key, f"its command ran past {timeout:g} s", week))
            elif code != 0:
                failed.append(
                    Failed(key, f"its command exited {code}: {first or 'no output'}", week)
                )
            else:
                try:
                    value = number(output, key)
                except InputError:
                    failed.append(Failed(key, f"its command printed {first or 'nothing'!r}", week))
                    continue
                values.setdefault(week, {})[key] = Recorded(value, "command", now, "")
    return values, failed, skipped


def csv_values(path: Path, config: Config, today: date, now: datetime) -> Values:
    """The rows of a spreadsheet's CSV (columns week, kpi, value, note): all of them, or
    an error naming the first bad row and nothing recorded."""
    try:
        text = read_limited(path, MAX_CSV).decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", "check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path}: {err}", "give a UTF-8 CSV file") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"week", "kpi", "value"} <= set(rows[0]):
        raise InputError(
            f"{path} has no rows with the columns week, kpi, value (and note)",
            "export the sheet with a header row: week,kpi,value,note",
        )
    values: Values = {}
    for number_, row in enumerate(rows, start=2):
        where = f"{path}, row {number_}"
        try:
            week = chosen_week((row.get("week") or "").strip(), today)
            key = (row.get("kpi") or "").strip()
            _known(config, key)
            value = number(row.get("value") or "", f"{key} of {week}")
        except (UsageError, ConfigError, InputError) as err:
            raise InputError(f"{where}: {err.what}", err.fix) from None
        via: Via = "csv"
        values.setdefault(week, {})[key] = Recorded(
            value, via, now, (row.get("note") or "").strip()
        )
    return values
