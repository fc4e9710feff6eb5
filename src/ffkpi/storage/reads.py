"""The reads the weekly run keeps beside the snapshots: `<dir>/reads/<week>.json.gz`,
each the Stripe data a week's snapshot was counted from, compressed and readable by the
user alone (it holds customers' names).

A kept read is what lets a week be counted again under a changed MRR definition
(docs/review-rules.md), so growth goes on across the change.
"""

import gzip
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ffkpi.errors import StorageError
from ffkpi.storage.files import PRIVATE, atomic_file

FOLDER = "reads"


def kept_read(folder: Path, week: str) -> Path:
    """Where the read of `week` is kept (whether or not it is)."""
    return folder / FOLDER / f"{week}.json.gz"


def keep_read(
    folder: Path, week: str, write: Callable[[BinaryIO], None], *, modified: int | None = None
) -> Path:
    """Keep the read of `week`, whole or not at all; `write` writes its JSON. A read that
    is dated by its file's time (`modified`) keeps that time, so it reads back the same."""
    path = kept_read(folder, week)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(
            f"cannot create {path.parent}: {err.strerror}", "check the snapshot folder"
        ) from None
    with atomic_file(path, PRIVATE) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        write(out)  # type: ignore[arg-type]  # a GzipFile is a binary stream
    if modified is not None:
        os.utime(path, (modified, modified))
    return path


def copy_into(source: Path) -> Callable[[BinaryIO], None]:
    """A writer of `source`'s JSON, unpacked if it is gzip (kept once compressed)."""

    def write(out: BinaryIO) -> None:
        with source.open("rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=handle) as unpacked:
                    shutil.copyfileobj(unpacked, out)
            else:
                shutil.copyfileobj(handle, out)

    return write
