"""Atomic file writing: a temp file in the same folder, fsync, rename over the target."""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ffkpi.errors import StorageError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def cannot_write(path: Path, err: OSError, *, what: str = "", hint: str = "") -> StorageError:
    """The one wording of a failure to write (folder missing or read-only, disk full)."""
    return StorageError(
        f"cannot write {what}{path}: {err.strerror or err}",
        f"check the folder exists, is writable and has space{hint}",
    )


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write `path` whole or not at all: readers see the old file or the new one.

    A failure to write is a StorageError.
    """
    try:
        with replacing(path) as out:
            yield out
    except OSError as err:
        raise cannot_write(path, err) from None


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """atomic_file's mechanism, for callers that translate OSError themselves."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if sys.platform != "win32":
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; these files are shared
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_atomically(path: Path, data: bytes) -> None:
    with atomic_file(path) as out:
        out.write(data)
