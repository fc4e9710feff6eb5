"""Weekly snapshot files, and the growth history read back from them.

A snapshot is `<dir>/<ISO year>-W<ISO week>.toml`: the report's totals, tiers and
products, small enough to read a year of them at once. Each customer's MRR, which
can run to 100,000 lines, goes beside it in `<week>.customers.<digest>.json.gz`, named
in the TOML with its SHA-256. Files are written atomically under a lock, the sidecar
first, so a TOML file present is a snapshot complete.
"""

import contextlib
import gzip
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Self

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ffkpi.config import Config, Growth
from ffkpi.documents import report_document
from ffkpi.errors import StorageError
from ffkpi.money import format_money
from ffkpi.mrr import Report
from ffkpi.storage import cannot_write, folder_lock, replacing

SCHEMA = "ffkpi.snapshot/1"
DEFAULT_FOLDER = Path("snapshots")
RATE_DIGITS = Decimal("0.0001")


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def snapshot_document(
    report: Report, *, config_digest: str, created_at: datetime, version: str, customers: str
) -> dict[str, Any]:
    document = report_document(report)
    for row in [r for tier in document["tiers"] for r in tier["products"]] + document["unlisted"]:
        if row["id"] is None:
            del row["id"]  # TOML has no null: a configured product absent from the data
    return {
        "schema": SCHEMA,
        "week": week_of(report.as_of),
        "as_of": report.as_of,
        "created_at": created_at.astimezone(UTC).replace(microsecond=0),
        "ffkpi_version": version,
        "config_digest": config_digest,
        "customers": customers,
        **{key: value for key, value in document.items() if key != "as_of"},
    }


def _customers_bytes(report: Report) -> bytes:
    cur = report.currency
    body = {
        "schema": "ffkpi.customers/1",
        "currency": cur,
        "customers": {
            customer: format_money(mrr, cur) for customer, mrr in sorted(report.customers.items())
        },
    }
    text = json.dumps(body, separators=(",", ":")).encode()
    return gzip.compress(text, compresslevel=6, mtime=0)


@dataclass(frozen=True, slots=True)
class Saved:
    path: Path
    kept: bool  # the week already had a snapshot, left untouched


def write_snapshot(
    folder: Path,
    report: Report,
    *,
    config_digest: str,
    created_at: datetime,
    version: str,
    force: bool = False,
    lock_timeout: float = 600,
) -> Saved:
    week = week_of(report.as_of)
    path = folder / f"{week}.toml"
    if path.exists() and not force:
        return Saved(path, kept=True)  # even in a folder this run cannot write to
    if folder.is_symlink() and not folder.exists():
        raise StorageError(
            f"snapshot folder {folder} is a link to {os.readlink(folder)}, which does not exist",
            "create that folder, or pass --dir",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder, lock_timeout):
            if path.exists() and not force:
                return Saved(path, kept=True)
            customers = _customers_bytes(report)
            digest = hashlib.sha256(customers).hexdigest()
            # Named by content, so a replaced week's old TOML never points at new data.
            sidecar = folder / f"{week}.customers.{digest[:16]}.json.gz"
            document = snapshot_document(
                report,
                config_digest=config_digest,
                created_at=created_at,
                version=version,
                customers=f"{sidecar.name} sha256:{digest}",
            )
            existed = sidecar.exists()
            _write(sidecar, customers)
            try:
                _write(path, tomli_w.dumps(document).encode())
            except BaseException:
                if not existed:
                    with contextlib.suppress(OSError):
                        sidecar.unlink()
                raise
            for stale in folder.glob(f"{week}.customers.*.json.gz"):
                if stale != sidecar:
                    with contextlib.suppress(OSError):
                        stale.unlink()
    except OSError as err:
        raise cannot_write(path, err, what="the snapshot ", hint=", or pass --dir") from None
    return Saved(path, kept=False)


def _write(path: Path, data: bytes) -> None:
    with replacing(path) as out:
        out.write(data)


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SnapshotTier(_FileModel):
    name: str
    rule: str
    mrr: Decimal
    arr: Decimal


class Snapshot(_FileModel):
    schema_version: str = Field(alias="schema")
    week: str
    as_of: date
    config_digest: str
    currency: str
    mrr: Decimal
    arr: Decimal
    tiers: tuple[SnapshotTier, ...] = ()
    customers: str | None = None  # "<sidecar file name> sha256:<hex digest>"

    @model_validator(mode="after")
    def _week_of_as_of(self) -> Self:
        if self.week != week_of(self.as_of):
            raise ValueError(f"week {self.week!r} is not the ISO week of as_of {self.as_of}")
        return self


@dataclass(frozen=True, slots=True)
class Skipped:
    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Folder:
    """What a snapshot folder holds."""

    snapshots: tuple[Snapshot, ...]  # oldest first
    skipped: tuple[Skipped, ...]  # files that are not snapshots
    damaged: tuple[Skipped, ...] = ()  # snapshots whose customer file is gone or altered


def read_snapshots(folder: Path) -> Folder:
    """Every snapshot in the folder, oldest first; unreadable files are skipped with why."""
    if not folder.is_dir():
        raise StorageError(
            f"snapshot folder {folder} does not exist",
            "run `ffkpi snapshot` first, or pass --dir",
        )
    snapshots: list[Snapshot] = []
    skipped: list[Skipped] = []
    damaged: list[Skipped] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            skipped.append(Skipped(path, f"not readable TOML: {err}"))
            continue
        if data.get("schema") != SCHEMA:
            found = data.get("schema")
            reason = f"unknown schema {found!r}" if found else "not an ffkpi snapshot"
            skipped.append(Skipped(path, reason))
            continue
        try:
            snapshot = Snapshot.model_validate(data)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            skipped.append(Skipped(path, f"{where}: {message}" if where else message))
            continue
        snapshots.append(snapshot)
        problem = _sidecar_problem(folder, snapshot)
        if problem:
            damaged.append(Skipped(path, problem))
    snapshots.sort(key=lambda snapshot: snapshot.as_of)
    return Folder(tuple(snapshots), tuple(skipped), tuple(damaged))


def _sidecar_problem(folder: Path, snapshot: Snapshot) -> str | None:
    """What is wrong with a snapshot's customer file, checked against its SHA-256."""
    name, _, digest = (snapshot.customers or "").partition(" sha256:")
    if not name or not digest or "/" in name or "\\" in name:
        return f"it names no customer file ({snapshot.customers!r})"
    try:
        body = (folder / name).read_bytes()
    except FileNotFoundError:
        return f"its customer file {name} is missing"
    except OSError as err:
        return f"its customer file {name} cannot be read: {err.strerror}"
    if hashlib.sha256(body).hexdigest() != digest:
        return f"its customer file {name} does not match its SHA-256 (altered or replaced)"
    return None


@dataclass(frozen=True, slots=True)
class Week:
    week: str
    as_of: date
    currency: str
    mrr: Decimal
    arr: Decimal
    growth: Decimal | None  # compounded weekly rate since the previous snapshot
    met_target: bool | None
    next_week_mrr: Decimal  # what next week needs to stay on target
    config_changed: bool


def weeks_between(earlier: str, later: str) -> int:
    return (_monday(later) - _monday(earlier)).days // 7


def _monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def weekly_growth(current: Decimal, previous: Decimal, weeks: int) -> Decimal | None:
    """The weekly rate that compounds `previous` into `current` over `weeks` weeks."""
    if previous <= 0 or weeks <= 0:
        return None
    with localcontext(prec=28):
        try:
            return (current / previous) ** (Decimal(1) / weeks) - 1
        except InvalidOperation:
            return None


def growth_weeks(
    snapshots: tuple[Snapshot, ...],
    target: Decimal,
    *,
    digest: str | None,
    tier: str | None = None,
) -> list[Week]:
    """Week-by-week MRR, ARR and growth against the target; one tier's if `tier` is given.

    `digest` is the config in force now; snapshots made under another are marked.
    """
    weeks: list[Week] = []
    previous: tuple[Snapshot, Decimal] | None = None
    for snapshot in snapshots:
        if tier is None:
            mrr, arr = snapshot.mrr, snapshot.arr
        else:
            match = next((t for t in snapshot.tiers if t.name == tier), None)
            if match is None:
                continue
            mrr, arr = match.mrr, match.arr
        growth = None
        if previous is not None and previous[0].currency == snapshot.currency:
            gap = weeks_between(previous[0].week, snapshot.week)
            growth = weekly_growth(mrr, previous[1], gap)
        weeks.append(
            Week(
                week=snapshot.week,
                as_of=snapshot.as_of,
                currency=snapshot.currency,
                mrr=mrr,
                arr=arr,
                growth=growth,
                met_target=None if growth is None else growth >= target,
                next_week_mrr=mrr * (1 + target),
                config_changed=digest is not None and snapshot.config_digest != digest,
            )
        )
        previous = (snapshot, mrr)
    return weeks


def format_rate(rate: Decimal | None) -> str | None:
    if rate is None:
        return None
    return f"{rate.quantize(RATE_DIGITS, rounding=ROUND_HALF_UP):f}"


def snapshot_folder(directory: Path | None, config: Config | None, path: Path | None) -> Path:
    """--dir, else the config's snapshots_dir (relative to the config file), else
    ./snapshots."""
    if directory is not None:
        return directory
    if config is not None and config.snapshots_dir:
        base = path.parent if path is not None else Path.cwd()
        return base / config.snapshots_dir
    return DEFAULT_FOLDER


@dataclass(frozen=True, slots=True)
class History:
    weeks: list[Week]
    tiers: dict[str, list[Week]] | None  # with --by-tier: each tier's weeks
    target: Decimal
    skipped: tuple[Skipped, ...]  # files in the folder that are not snapshots
    damaged: tuple[Skipped, ...]  # snapshots whose customer file is gone or altered


def load_history(
    folder: Path, config: Config | None, *, last: int | None, by_tier: bool, strict: bool
) -> History:
    """The folder's weeks (the last `last`), measured against the config's target.

    Without a config, the newest snapshot's tiers are listed; `strict` makes a file
    that is not a snapshot an error rather than a warning.
    """
    stored = read_snapshots(folder)
    if strict and stored.skipped:
        skipped = stored.skipped[0]
        raise StorageError(
            f"{skipped.path} is not a readable snapshot: {skipped.reason}",
            "move it out of the snapshot folder, or drop --strict to skip it",
        )
    if strict and stored.damaged:
        damaged = stored.damaged[0]
        raise StorageError(
            f"{damaged.path}: {damaged.reason}",
            "restore the file from a backup, or take the week again with "
            "`ffkpi snapshot --force --as-of DATE`",
        )
    target = (config.growth if config is not None else Growth()).weekly_target
    latest = stored.snapshots[-1] if stored.snapshots else None
    digest = config.digest if config is not None else latest.config_digest if latest else None
    start = -(last or 0)
    weeks = growth_weeks(stored.snapshots, target, digest=digest)[start:]
    tiers = None
    if by_tier:
        names = [t.name for t in (config.tiers if config else latest.tiers if latest else ())]
        tiers = {
            name: growth_weeks(stored.snapshots, target, digest=digest, tier=name)[start:]
            for name in names
        }
    return History(weeks, tiers, target, stored.skipped, stored.damaged)
