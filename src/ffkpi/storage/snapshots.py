"""Weekly snapshot files, and the series of weeks read back from them.

A snapshot is `<dir>/<ISO year>-W<ISO week>.toml`: the report's totals, tiers and
products, small enough to read a year of them at once. Each customer's MRR, which
can run to 100,000 lines, goes beside it in `<week>.customers.<digest>.json.gz`, named
in the TOML with its SHA-256 (customer_files.py). Files are written atomically under a
lock, the sidecar first, so a TOML file present is a snapshot complete.
"""

import contextlib
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ffkpi.config import Config
from ffkpi.engine.calendar import week_name
from ffkpi.engine.documents import report_document
from ffkpi.engine.mrr import Report
from ffkpi.errors import StorageError
from ffkpi.history.series import Customers, Origin, ProductFigures, TierFigures, WeekFigures
from ffkpi.storage import customer_files
from ffkpi.storage.customer_files import CustomerFile, read_customers, write_customers
from ffkpi.storage.files import cannot_write, folder_lock, read_own, replacing

SCHEMA = "ffkpi.snapshot/1"
DEFAULT_FOLDER = Path("snapshots")
MAX_TOML = 16 * 1024 * 1024  # a snapshot's TOML is a few kB, its tiers' products listed


def snapshot_document(
    report: Report,
    *,
    config_digest: str,
    created_at: datetime,
    version: str,
    customers: str,
    source: Origin = "snapshot",
    reconstruction: "Reconstruction | None" = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    document = report_document(report)
    for row in [r for tier in document["tiers"] for r in tier["products"]] + document["unlisted"]:
        if row["id"] is None:
            del row["id"]  # TOML has no null: a configured product absent from the data
    return {
        "schema": SCHEMA,
        "week": week_name(report.as_of),
        "as_of": report.as_of,
        "source": source,
        "created_at": created_at.astimezone(UTC).replace(microsecond=0),
        "ffkpi_version": version,
        "config_digest": config_digest,
        "customers": customers,
        **{key: value for key, value in document.items() if key != "as_of"},
        **({"reconstruction": reconstruction.model_dump()} if reconstruction else {}),
        **({"data_notes": list(notes)} if notes else {}),
    }


@dataclass(frozen=True, slots=True)
class Saved:
    path: Path
    kept: bool  # the week already had a snapshot, left untouched


def write_snapshot(
    folder: Path,
    report: Report,
    customers: CustomerFile,
    *,
    config_digest: str,
    created_at: datetime,
    version: str,
    force: bool = False,
    lock_timeout: float = 600,
    source: Origin = "snapshot",
    reconstruction: "Reconstruction | None" = None,
    notes: Sequence[str] = (),
) -> Saved:
    """The report as its week's snapshot, and its customers (`customers`, in order) as
    the customer file beside it."""
    week = week_name(report.as_of)
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
            # Named by content, so a replaced week's old TOML never points at new data.
            sidecar, digest, existed = write_customers(folder, week, customers)
            document = snapshot_document(
                report,
                config_digest=config_digest,
                created_at=created_at,
                version=version,
                customers=f"{sidecar.name} sha256:{digest}",
                source=source,
                reconstruction=reconstruction,
                notes=notes,
            )
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


class Reconstruction(_FileModel):
    """What a week rebuilt from invoices could not know, as far as ffkpi can see it."""

    converted_subscriptions: int  # counted in another currency, at today's [fx] rates
    unknown_discounts: int  # discounts of coupons that no longer exist: left out


class SnapshotTier(_FileModel):
    name: str
    rule: str
    mrr: Decimal
    arr: Decimal


class SnapshotProduct(_FileModel):
    name: str
    mrr: Decimal


class Snapshot(_FileModel):
    schema_version: str = Field(alias="schema")
    week: str
    as_of: date
    source: Origin = "snapshot"  # files written before backfill existed are real weeks
    config_digest: str
    currency: str
    mrr: Decimal
    arr: Decimal
    tiers: tuple[SnapshotTier, ...] = ()
    customers: str | None = None  # "<sidecar file name> sha256:<hex digest>"
    reconstruction: Reconstruction | None = None  # for source = "reconstructed"
    unlisted: tuple[SnapshotProduct, ...] = ()  # recurring revenue outside the tiers
    data_notes: tuple[str, ...] = ()  # what the read did not find (configured products)

    @model_validator(mode="after")
    def _week_of_as_of(self) -> Self:
        if self.week != week_name(self.as_of):
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
        snapshot = read_snapshot(path)
        if isinstance(snapshot, Skipped):
            skipped.append(snapshot)
            continue
        snapshots.append(snapshot)
        problem = customer_files.problem(folder, snapshot.customers)
        if problem:
            damaged.append(Skipped(path, problem))
    snapshots.sort(key=lambda snapshot: snapshot.as_of)
    return Folder(tuple(snapshots), tuple(skipped), tuple(damaged))


def read_snapshot(path: Path) -> "Snapshot | Skipped":
    """One snapshot file, or why it is not one."""
    try:
        data = tomllib.loads(read_own(path, MAX_TOML).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return Skipped(path, f"not readable TOML: {err}")
    if data.get("schema") != SCHEMA:
        found = data.get("schema")
        return Skipped(path, f"unknown schema {found!r}" if found else "not an ffkpi snapshot")
    try:
        return Snapshot.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return Skipped(path, f"{where}: {message}" if where else message)


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
class Series:
    """A snapshot folder's weeks as a series, and what in it could not be read."""

    weeks: tuple[WeekFigures, ...]  # oldest first
    skipped: tuple[Skipped, ...]  # files that are not snapshots
    damaged: tuple[Skipped, ...]  # snapshots whose customer file is gone or altered


# What a caller makes of each week as it is read, given every tier the weeks name.
Each = Callable[[WeekFigures, tuple[str, ...]], WeekFigures]


def read_series(folder: Path, each: Each | None = None) -> Series:
    """The folder's weeks, each with its customers where its customer file reads whole
    (None where it does not: its movements are unknown, never guessed). `each`: what
    becomes of each week as read, before the next is (where the caller keeps its
    customers elsewhere, one week's are decoded at a time)."""
    stored = read_snapshots(folder)
    broken = {entry.path.name for entry in stored.damaged}
    tiers = tuple(dict.fromkeys(tier.name for snap in stored.snapshots for tier in snap.tiers))
    weeks = []
    for snapshot in stored.snapshots:
        customers = None
        if f"{snapshot.week}.toml" not in broken:
            with contextlib.suppress(StorageError):
                customers = read_customers(folder, snapshot.week, snapshot.customers)
        week = _figures(snapshot, customers)
        weeks.append(week if each is None else each(week, tiers))
    return Series(tuple(weeks), stored.skipped, stored.damaged)


def largest_customers(folder: Path) -> int:
    """The size in bytes of the folder's largest customer file (0: none)."""
    return max((path.stat().st_size for path in folder.glob("*.customers.*.json.gz")), default=0)


def _figures(snapshot: "Snapshot", customers: Customers | None) -> WeekFigures:
    rebuilt = snapshot.reconstruction
    return WeekFigures(
        week=snapshot.week,
        as_of=snapshot.as_of,
        currency=snapshot.currency,
        mrr=snapshot.mrr,
        arr=snapshot.arr,
        tiers=tuple(TierFigures(t.name, t.mrr, t.arr) for t in snapshot.tiers),
        origin=snapshot.source,
        config_digest=snapshot.config_digest,
        customers=customers,
        converted=rebuilt.converted_subscriptions if rebuilt is not None else None,
        unknown_discounts=rebuilt.unknown_discounts if rebuilt is not None else 0,
        unlisted=tuple(ProductFigures(p.name, p.mrr) for p in snapshot.unlisted),
        notes=snapshot.data_notes,
    )
