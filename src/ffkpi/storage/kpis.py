"""Recorded KPI values: one file a week in the snapshot folder's `kpis/` subfolder
(`kpis/2026-W47.toml`), each value with where it came from, when it was recorded and
its note. Written whole (atomically) under the folder's lock, like snapshots.
"""

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import tomli_w

from ffkpi.errors import StorageError
from ffkpi.storage.files import cannot_write, folder_lock, read_own, replacing

SCHEMA = "ffkpi.kpis/1"
FOLDER = "kpis"  # beside the snapshots, never read as one of them
MAX_FILE = 1024 * 1024  # a week's values are a few hundred bytes
# How a value got in: by hand, from its command, from a CSV, from a built-in source, or
# the demo's made-up ones.
Via = Literal["manual", "command", "csv", "source", "example"]
VIAS: tuple[Via, ...] = ("manual", "command", "csv", "source", "example")


@dataclass(frozen=True, slots=True)
class Recorded:
    """One KPI's value for one week."""

    value: Decimal
    via: Via  # how it got in: ffkpi record KEY=VALUE, --run, or --from-csv
    recorded_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Replaced:
    """A value recorded for a week, and the one it replaced, if any."""

    week: str
    key: str
    old: Decimal | None
    new: Decimal


def week_path(folder: Path, week: str) -> Path:
    return folder / FOLDER / f"{week}.toml"


def read_week(folder: Path, week: str) -> dict[str, Recorded]:
    """The values recorded for `week` (none: {}); a file ffkpi cannot read is an error
    naming it, never read as no values."""
    path = week_path(folder, week)
    try:
        text = read_own(path, MAX_FILE).decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise _unreadable(path, str(err)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _unreadable(path, f"not TOML: {err}") from None
    if data.get("schema") != SCHEMA:
        raise _unreadable(path, f"schema {data.get('schema')!r}, not {SCHEMA!r}")
    if data.get("week") != week:
        raise _unreadable(path, f"it says week {data.get('week')!r}")
    values = data.get("values", {})
    if not isinstance(values, dict):
        raise _unreadable(path, "values is not a table")
    return {key: _recorded(path, key, entry) for key, entry in values.items()}


def read_all(folder: Path) -> dict[str, dict[str, Recorded]]:
    """Every week's recorded values, by week name, oldest first."""
    files = sorted((folder / FOLDER).glob("*.toml")) if (folder / FOLDER).is_dir() else []
    return {path.stem: read_week(folder, path.stem) for path in files}


def record(
    folder: Path, values: dict[str, dict[str, Recorded]], *, lock_timeout: float
) -> list[Replaced]:
    """Record `values` (by week, then KPI key), each replacing the one recorded before;
    every week's file is read and written under the folder's lock, whole or not at all,
    and every file is read before any is written."""
    target = folder / FOLDER
    try:
        target.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder, lock_timeout):
            merged: dict[str, dict[str, Recorded]] = {}
            replaced: list[Replaced] = []
            for week, new in sorted(values.items()):
                old = read_week(folder, week)
                for key, entry in new.items():
                    before = old.get(key)
                    replaced.append(
                        Replaced(week, key, before.value if before else None, entry.value)
                    )
                merged[week] = {**old, **new}
            for week, entries in merged.items():
                with replacing(week_path(folder, week)) as out:
                    out.write(_document(week, entries))
    except OSError as err:
        raise cannot_write(target, err) from None
    return replaced


def _document(week: str, entries: dict[str, Recorded]) -> bytes:
    values: dict[str, Any] = {}
    for key, entry in entries.items():
        values[key] = {
            "value": f"{entry.value:f}",
            "via": entry.via,
            "recorded_at": entry.recorded_at.astimezone(UTC).replace(microsecond=0),
            "note": entry.note,
        }
    return tomli_w.dumps({"schema": SCHEMA, "week": week, "values": values}).encode()


def _recorded(path: Path, key: str, entry: object) -> Recorded:
    if not isinstance(entry, dict):
        raise _unreadable(path, f"values.{key} is not a table")
    try:
        value = Decimal(str(entry["value"]))
        via = entry["via"]
        recorded_at = entry["recorded_at"]
    except (KeyError, InvalidOperation) as err:
        raise _unreadable(path, f"values.{key}: {err}") from None
    if not value.is_finite() or via not in VIAS or not isinstance(recorded_at, datetime):
        raise _unreadable(path, f"values.{key} is not a recorded value")
    return Recorded(value, via, recorded_at, str(entry.get("note", "")))


def _unreadable(path: Path, why: str) -> StorageError:
    return StorageError(
        f"{path} is not a readable file of recorded KPI values: {why}",
        "restore it from a backup, or move it away and record the week again",
    )
