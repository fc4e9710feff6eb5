"""Atomic file writing: a temp file in the same folder, fsync, rename over the target.

Temp files carry the writing process's id (`.<name>.ffkpi-<pid>.<random>.tmp`): a run
killed mid-write leaves one behind, and the next write in that folder removes it once
that process is gone.
"""

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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


class TooLarge(OSError):
    """A file larger than what it could hold (a device such as /dev/zero, or the wrong
    file)."""


def read_limited(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of `path`: TooLarge past that, never a read without end."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"it is larger than {limit // 1024:,} kB")
    return data


class NotAFile(OSError):
    """A path ffkpi keeps its own files at that holds something else: a FIFO would hang
    the read, a device never end it."""


def read_own(path: Path, limit: int) -> bytes:
    """One of ffkpi's own files (a snapshot, recorded values, a receipt): a regular file
    of at most `limit` bytes, or NotAFile / TooLarge. A FIFO or a device in its place is
    refused before it is opened for reading, and the open never waits."""
    with open_own(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"it is larger than {limit // 1024:,} kB")
    return data


@contextlib.contextmanager
def open_own(path: Path) -> Iterator[BinaryIO]:
    """One of ffkpi's own files opened to be read a block at a time (read_own's checks)."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # follows a link, as the read would
        raise NotAFile("it is not a regular file (a FIFO, a device or a folder)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced meanwhile
            raise NotAFile("it is not a regular file")
        yield handle


SHARED = 0o666  # less the umask: reports and snapshots, read by the team
PRIVATE = 0o600  # customer names, emails and addresses: the user alone
_TEMP = re.compile(r"\..+\.ffkpi-(\d+)\.[^.]+\.tmp")
STALE_AFTER = 24 * 3600  # a temp file this old is stale whoever wrote it (another host)


@contextlib.contextmanager
def atomic_file(path: Path, mode: int = SHARED) -> Iterator[BinaryIO]:
    """Write `path` whole or not at all: readers see the old file or the new one.

    A failure to write is a StorageError.
    """
    try:
        with replacing(path, mode) as out:
            yield out
    except OSError as err:
        raise cannot_write(path, err) from None


@contextlib.contextmanager
def replacing(
    path: Path, mode: int = SHARED, *, named: Callable[[], Path] | None = None
) -> Iterator[BinaryIO]:
    """atomic_file's mechanism, for callers that translate OSError themselves; `named`:
    the path the file takes once written, known only then (named by its content).

    Never renames over what is not a regular file (a link, a device such as
    /dev/stdout, a folder): that is a StorageError.
    """
    _regular_or_absent(path)
    remove_stale_temps(path.parent)
    fd, temp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.ffkpi-{os.getpid()}.", suffix=".tmp"
    )
    try:
        if sys.platform != "win32":
            os.fchmod(fd, mode & ~_umask())
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if named is not None:
            path = named()
            _regular_or_absent(path)
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


def _regular_or_absent(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise StorageError(
                f"{path} exists and is not a regular file (a link, a device or a folder)",
                "write to another path",
            )


def write_atomically(path: Path, data: bytes) -> None:
    with atomic_file(path) as out:
        out.write(data)


def remove_stale_temps(folder: Path) -> None:
    """Remove ffkpi's temp files in `folder` whose writer is gone (or that are a day
    old): what a run killed mid-write left, some of it customer data."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TEMP.fullmatch(name)
        if match is None:
            continue
        temp = folder / name
        with contextlib.suppress(OSError):
            if not _alive(int(match[1])) or time.time() - temp.stat().st_mtime > STALE_AFTER:
                temp.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # Windows: os.kill would end it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


LOCK_NAME = ".ffkpi.lock"
LOCK_POLL = 0.2  # seconds between tries while another run holds the lock
_HELD: set[str] = set()  # the folders this process holds the lock of


@contextlib.contextmanager
def folder_lock(folder: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on `folder`, so two runs (cron and a retry) never interleave.

    Waits at most `timeout` seconds for another run to release it, then fails naming
    the lock and the process holding it (its id is written in the lock file). A lock
    file another user owns is opened read-only: that locks as well. Taken again inside
    itself (a step of the weekly run), it is already held.
    """
    key = os.path.realpath(folder)
    if key in _HELD:  # the weekly run holds it throughout; its steps take it again
        yield
        return
    lock = folder / LOCK_NAME
    if lock.is_dir():
        raise StorageError(f"{lock} is a folder, not ffkpi's lock file", f"remove {lock}")
    handle: BinaryIO
    try:
        handle = lock.open("a+b")
    except PermissionError:
        handle = lock.open("rb")
    with handle:
        deadline = time.monotonic() + timeout
        while not _try_lock(handle.fileno()):
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read(32).decode("ascii", "replace").strip() or "unknown"
                raise StorageError(
                    f"{lock} is held by another ffkpi run (process {holder}) and was not "
                    f"released within {timeout:g} s",
                    "wait for that run to finish or stop it, or pass --lock-timeout SECONDS",
                )
            time.sleep(LOCK_POLL)
        with contextlib.suppress(OSError):  # a read-only handle cannot say who holds it
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            _unlock(handle.fileno())


def _try_lock(fd: int) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError, or Windows' "locked" PermissionError
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
