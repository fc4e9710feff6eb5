"""`ffkpi record`: the Tuesday review's other KPIs, recorded for a week by hand, by
running each KPI's command, or from a spreadsheet's CSV (all or nothing).

What is refused before anything is written: a key the config does not define, `mrr`
or `arr` (built in), a week in the future, a value that is not a finite number.
"""

import csv
import io
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ffkpi.config import BUILT_IN_KPIS, Config
from ffkpi.engine.calendar import first_of_running_week, parse_week, week_name
from ffkpi.errors import ConfigError, InputError, UsageError
from ffkpi.storage.files import read_limited
from ffkpi.storage.kpis import Recorded, Via

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
    """A KPI whose command gave no value: its key and the first line it printed."""

    key: str
    why: str


Runner = Callable[[str, float], tuple[int | None, str]]  # command, timeout -> code, output


def run_shell(command: str, timeout: float) -> tuple[int | None, str]:
    """Run one command line as cron would (through the shell); None: it timed out."""
    try:
        done = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, (done.stdout if done.returncode == 0 else done.stderr or done.stdout)


def command_values(
    config: Config,
    keys: Sequence[str],
    week: str,
    now: datetime,
    timeout: float,
    run: Runner = run_shell,
) -> tuple[Values, list[Failed]]:
    """Each KPI's command run (those named, else every KPI that has one): the one number
    it prints is its value; one that fails, times out or prints something else is
    reported, and the others are still recorded."""
    for key in keys:
        _known(config, key)
    chosen = list(keys) or [key for key, kpi in config.kpis.items() if kpi.command]
    values: dict[str, Recorded] = {}
    failed: list[Failed] = []
    for key in chosen:
        command = config.kpis[key].command
        if command is None:
            failed.append(Failed(key, "it has no command in the config"))
            continue
        code, output = run(command, timeout)
        first = next((line.strip() for line in output.splitlines() if line.strip()), "")
        if code is None:
            failed.append(Failed(key, f"its command ran past {timeout:g} s"))
        elif code != 0:
            failed.append(Failed(key, f"its command exited {code}: {first or 'no output'}"))
        else:
            try:
                value = number(output, key)
            except InputError:
                failed.append(Failed(key, f"its command printed {first or 'nothing'!r}"))
                continue
            values[key] = Recorded(value, "command", now, "")
    return ({week: values} if values else {}), failed


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
