"""`ffkpi record`: the Tuesday review's other KPIs, recorded for a week by hand, by
running each KPI's command, or from a spreadsheet's CSV (all or nothing).

What is refused before anything is written: a key the config does not define, `mrr`
or `arr` (built in), a week in the future, a value that is not a finite number.
"""

import contextlib
import csv
import difflib
import io
import os
import re
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from ffkpi.config import BUILT_IN_KPIS, Config
from ffkpi.engine.calendar import (
    WEEK,
    day_in_week,
    first_of_running_week,
    kpi_window,
    parse_week,
    week_name,
)
from ffkpi.errors import ConfigError, ExitCode, InputError, UsageError
from ffkpi.storage.files import read_limited
from ffkpi.storage.kpis import Recorded, Via
from ffkpi.storage.snapshots import read_snapshots
from ffkpi.text import printable
from ffkpi.usecases.backfill import cron_weekday
from ffkpi.usecases.sources import Got, NoValue, Sources

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


# A value as a person or a spreadsheet writes it: ASCII digits, thousands separated by
# commas or not, at most six decimals; never an exponent, which could make a number of
# a million digits.
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,16})(?:\.\d{1,6})?", re.ASCII)


def number(text: str, where: str) -> Decimal:
    """A recorded value: a plain number within ±10^15 ("24,000.00" is 24000.00), or an
    error naming it; -0 is 0."""
    shown = text.strip()
    if not _NUMBER.fullmatch(shown):
        raise InputError(
            f"{where}: {printable(shown[:40])!r} is not a number",
            "give a plain number such as 118, 24,000 or 450000.50",
        )
    value = Decimal(shown.replace(",", ""))
    if abs(value) > MAX_VALUE:
        raise InputError(
            f"{where}: {shown[:40]} is past ±10^15", "give the KPI's value in its own unit"
        )
    return value.copy_abs() if value.is_zero() else value


def _known(config: Config, key: str) -> None:
    if key in BUILT_IN_KPIS:
        raise UsageError(
            f"{key} is built in: it comes from the snapshots, never recorded",
            "record the other KPIs; take the week's snapshot with ffkpi snapshot",
        )
    if key not in config.kpis:
        known = ", ".join(config.kpis) or "none yet"
        meant = _meant(config, key)
        raise ConfigError(
            f"no KPI {printable(key)!r} in the config (it defines: {known})",
            f"its key is {meant}"
            if meant
            else f"add a [kpis.{key}] table to the config, or correct the key",
        )


def _meant(config: Config, key: str) -> str | None:
    """The key a user most likely meant: its own in another case, a KPI's name, or a
    near spelling."""
    folded = key.strip().casefold()
    for known, kpi in config.kpis.items():
        if folded in (known.casefold(), kpi.name.casefold()):
            return known
    close = difflib.get_close_matches(folded, list(config.kpis), n=1, cutoff=0.75)
    return close[0] if close else None


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
    """A KPI whose command or source gave no value for a week: its key, why (the first
    line its command printed, or its source's error) and the exit code that goes with it
    (a source's refused token is 4, a source down 5)."""

    key: str
    why: str
    week: str = ""
    code: ExitCode = ExitCode.SOME_FAILED


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


MAX_OUTPUT = 64 * 1024  # bytes of a command's output read: a value is one number


def run_shell(command: str, timeout: float, variables: Mapping[str, str]) -> tuple[int | None, str]:
    """Run one command line as cron would (through the shell), with its window in the
    environment; None: it timed out. The command runs in a process group of its own, so
    a timeout, Ctrl-C or a SIGTERM to ffkpi ends its children too; its output is read as
    UTF-8 with anything else replaced, at most MAX_OUTPUT bytes of it."""
    process = subprocess.Popen(
        command,
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **variables},
        start_new_session=True,
    )
    previous = _on_sigterm()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    finally:
        _end_group(process)
        _restore_sigterm(previous)
    shown = (out if process.returncode == 0 else err or out)[:MAX_OUTPUT]
    return process.returncode, shown.decode("utf-8", "replace")


def _end_group(process: "subprocess.Popen[bytes]") -> None:
    """Kill what is left of a command's process group, and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: children first


def _on_sigterm() -> object:
    try:
        return signal.signal(signal.SIGTERM, _interrupted)
    except ValueError:  # not the main thread: leave the handler alone
        return None


def _restore_sigterm(previous: object) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


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
    *,
    base: Path = Path(),
    running: date | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Values, list[Failed], list[str]]:
    """Each KPI's value for each as-of day (those named, else every KPI that has a way to
    it): its command run with its window in the environment (the one number it prints),
    or its built-in source computed for the window (usecases.sources: `base` is the
    folder a deals export's path is relative to, `env` where tokens are found). One that
    fails is reported for its week, and the others are still recorded. Also: the KPIs
    left out, with why."""
    for key in keys:
        _known(config, key)
    chosen = list(keys) or [key for key, kpi in config.kpis.items() if kpi.runs]
    skipped = [key for key, kpi in config.kpis.items() if not kpi.runs and key not in keys]
    values: Values = {}
    failed: list[Failed] = []
    sources = Sources(
        days, base=base, env=os.environ if env is None else env, now=now, running=running
    )
    try:
        for day in days:
            week = week_name(day)
            for key in chosen:
                kpi = config.kpis[key]
                got = (
                    sources.value(kpi, day)
                    if kpi.command is None
                    else _command_value(key, kpi.command, kpi.period, day, timeout, run)
                )
                if isinstance(got, Got):
                    via: Via = "source" if kpi.command is None else "command"
                    values.setdefault(week, {})[key] = Recorded(got.value, via, now, got.note)
                else:
                    failed.append(Failed(key, got.why, week, got.code))
    finally:
        sources.close()
    return values, failed, skipped


def _command_value(
    key: str, command: str, period: str, day: date, timeout: float, run: Runner
) -> Got | NoValue:
    """The one number a KPI's command prints, run with its window in the environment."""
    code, output = run(command, timeout, window_variables(key, period, day))
    first = next((line.strip() for line in output.splitlines() if line.strip()), "")
    if code is None:
        return NoValue(f"its command ran past {timeout:g} s")
    if code != 0:
        return NoValue(f"its command exited {code}: {first or 'no output'}")
    try:
        return Got(number(output, key), "")
    except InputError:
        return NoValue(f"its command printed {first or 'nothing'!r}")


MAX_PROBLEMS = 20  # bad rows named at once


def csv_values(path: Path, config: Config, today: date, now: datetime) -> Values:
    """The rows of a spreadsheet's CSV, all of them or none: long (columns week, kpi,
    value and an optional note) or wide (a week column and a column per KPI key, an
    empty cell recorded as nothing). Every bad row is named at once (up to
    MAX_PROBLEMS), and so is a KPI given twice for one week."""
    try:
        text = read_limited(path, MAX_CSV).decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", "check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path}: {err}", "give a UTF-8 CSV file") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise InputError(f"{path} is not a CSV file: {err}", "export the sheet as CSV") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    long = {"week", "kpi", "value"} <= set(header)
    if not long and (not header or header[0] != "week" or len(header) < 2):
        raise InputError(
            f"{path} has neither the columns week, kpi, value (and note) nor a week column "
            "followed by one column per KPI key",
            "export the sheet with a header row: week,kpi,value,note or week,mqls,carr_closed",
        )
    problems: list[str] = []
    if not long:
        problems += [
            f"column {k!r}: {_unknown(config, k)}" for k in header[1:] if _unknown(config, k)
        ]
    values: Values = {}
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            problems.append(
                f"row {line} has {len(row)} fields where the header has {len(header)} (quote a "
                'number written with commas: "24,000.00")'
            )
            continue
        cells = dict(zip(header, (cell.strip() for cell in row), strict=False))
        entries = (
            [(cells.get("kpi", ""), cells.get("value", ""), cells.get("note", ""))]
            if long
            else [(k, cells.get(k, ""), "") for k in header[1:] if cells.get(k, "")]
        )
        for key, text_value, note in entries:
            try:
                week = chosen_week(cells.get("week", ""), today)
                _known(config, key)
                value = number(text_value, f"{key} of {week}")
            except (UsageError, ConfigError, InputError) as err:
                problems.append(f"row {line}: {err.what}")
                continue
            if (week, key) in seen:
                problems.append(
                    f"row {line}: {key} of {week} is given in row {seen[week, key]} too"
                )
                continue
            seen[week, key] = line
            values.setdefault(week, {})[key] = Recorded(value, "csv", now, note)
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = "; ".join(problems[:MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise InputError(
            f"{path}: nothing recorded, {len(problems)} bad row{'s' if len(problems) > 1 else ''}: "
            f"{shown}",
            "correct them in the sheet and export it again",
        )
    return values


def _unknown(config: Config, key: str) -> str | None:
    """Why `key` is no KPI to record, or None."""
    try:
        _known(config, key)
    except (UsageError, ConfigError) as err:
        return err.what
    return None
