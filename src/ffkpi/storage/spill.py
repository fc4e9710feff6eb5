"""A rebuild's changes waiting on disk until they are summed (history.rebuild.Waiting):
a rebuild counts subscription after subscription and sums week after week, so each
change waits in between; held in memory, they are the largest thing a rebuild of a
large account holds (a record for each subscription each time it changes).

A private temporary folder for the rebuild (`spilled`), a file a part and week, each
appended in batches of pickled records written and read only by this process and the
workers it forked; a week's file is deleted once summed, the folder when the rebuild
is done. The weeks' customers wait the same way, a file a shard (`shelved`:
history.shards), read as often as a reader asks until the use case is done; and, to be
written, each week's customers of each shard in customers' order (`runs`: a file a week
and shard, deleted once merged into the week's customer file). A large read's customers'
names wait sorted in an anonymous file while customer files are written (`Sorted`).
"""

import heapq
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, Any

from ffkpi.engine.mrr import Counted
from ffkpi.errors import StorageError
from ffkpi.history.rebuild import Keep, Waiting
from ffkpi.history.shards import Record as ShardRecord
from ffkpi.storage.customer_files import Row

BATCH = 512  # records a week buffers before they are written (every week buffers)
RUN = 20_000  # pairs sorted in memory at once

# A change as written: the sign, then Counted's fields in order.
Record = tuple[int, str, str, str, str | None, tuple[str, ...], Any, Any]


class _Batches:
    """Records appended under keys, a file a key in `folder`, written in batches."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.buffers: dict[int, list[Any]] = {}
        self.written: set[int] = set()  # the keys with a file

    def _path(self, key: int) -> Path:
        raise NotImplementedError

    def _put(self, key: int, record: Any) -> None:
        buffer = self.buffers.setdefault(key, [])
        buffer.append(record)
        if len(buffer) >= BATCH:
            self._write(key)

    def _write(self, key: int) -> None:
        self._dump(key, self.buffers.pop(key))

    def _dump(self, key: int, batch: list[Any]) -> None:
        try:
            with self._path(key).open("ab") as out:
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            self.written.add(key)
        except OSError as err:
            raise _unwritable(self.folder, err) from None

    def seal(self) -> None:
        for key in list(self.buffers):
            self._write(key)

    def _load(self, key: int, *, delete: bool) -> Iterator[Any]:
        """The key's records in the order appended (its file deleted once read, if
        `delete`)."""
        if key not in self.written:
            return
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                while True:
                    try:
                        batch: list[Any] = pickle.load(handle)
                    except EOFError:
                        break
                    yield from batch
            if delete:
                path.unlink()
        except (OSError, pickle.UnpicklingError) as err:
            raise StorageError(
                f"the rebuild's changes in {self.folder} were removed or altered while "
                f"ffkpi ran ({path.name}: {err})",
                "run the command again, and keep cleaners off the temporary folder meanwhile",
            ) from None


class Spilled(_Batches):
    """One part's changes, a file a week in `folder`."""

    def __init__(self, folder: Path, part: int) -> None:
        super().__init__(folder)
        self.part = part

    def _path(self, key: int) -> Path:
        return self.folder / f"{self.part}.{key}"

    def append(self, week: int, counted: Counted, sign: int) -> None:
        self._put(
            week,
            (
                sign,
                counted.status,
                counted.customer,
                counted.currency,
                counted.reason,
                counted.items_excluded,
                counted.products,
                counted.tiers,
            ),
        )

    def take(self, week: int) -> Iterator[tuple[Counted, int]]:
        """The week's changes in the order appended; its file deleted once read. Each
        customer's id is interned: every week's changes of one customer name it with
        one string, as they did in memory."""
        intern = sys.intern
        record: Record
        for record in self._load(week, delete=True):
            sign, status, customer, *rest = record
            yield Counted(status, intern(customer), *rest), sign

    def __getstate__(self) -> tuple[Path, int, set[int]]:
        assert not self.buffers, "sealed before it crosses to another process"
        return self.folder, self.part, self.written

    def __setstate__(self, state: tuple[Path, int, set[int]]) -> None:
        self.folder, self.part, self.written = state
        self.buffers = {}


class Shelved(_Batches):
    """A rebuild's customers' changes (history.shards.Store), a file a shard in
    `folder`, read as often as asked until the folder goes."""

    def __init__(self, folder: Path, count: int) -> None:
        super().__init__(folder)
        self.count = count

    def _path(self, key: int) -> Path:
        return self.folder / f"shard.{key}"

    def append(self, shard: int, record: ShardRecord) -> None:
        self._put(shard, record)

    def read(self, shard: int) -> Iterator[ShardRecord]:
        """The shard's records in the order appended, each customer's id interned."""
        intern = sys.intern
        for week, customer, tiers, sign in self._load(shard, delete=False):
            yield week, intern(customer), tiers, sign


class Runs(_Batches):
    """Weeks' customers as their customer files' rows (storage.customer_files.Row), each
    shard's in order, a file a week and shard in `folder`: what a week's file merges,
    read once."""

    def __init__(self, folder: Path, count: int) -> None:
        super().__init__(folder)
        self.count = count

    def _path(self, key: int) -> Path:
        return self.folder / f"run.{key}"

    def put(self, shard: int, week: int, rows: Iterable[Row]) -> None:
        key = week * self.count + shard
        rows = iter(rows)
        while batch := list(islice(rows, BATCH)):
            self._dump(key, batch)

    def take(self, shard: int, week: int) -> Iterator[Row]:
        """The shard's rows of `week`, in order; its file deleted once read."""
        return self._load(week * self.count + shard, delete=True)


class Sorted:
    """Pairs of texts sorted by the first on disk, read as often as asked: runs of RUN
    sorted in memory, merged into batches in an anonymous temporary file (gone when
    closed). What a read's customers' names are, to be gone through in customers' order
    as each customer file is written."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        pairs, made = iter(pairs), []
        try:
            runs = _anonymous()
            while run := list(islice(pairs, RUN)):
                made.append(_dumped(runs, sorted(run)))
            if len(made) < 2:  # one run, sorted already
                self.file, self.batches = runs, made[0] if made else []
                return
            with runs:
                self.file = _anonymous()
                merged = heapq.merge(*(_loaded(runs, batches) for batches in made))
                self.batches = _dumped(self.file, merged)
        except OSError as err:
            raise _unwritable(tempfile.gettempdir(), err, "the read's customers' names") from None

    def batches_in_order(self) -> Iterator[list[tuple[str, str]]]:
        yield from _batches(self.file, self.batches)


def _anonymous() -> IO[bytes]:
    """A temporary file with no name, gone once closed; kept open as long as it is read."""
    return tempfile.TemporaryFile(prefix="ffkpi-names-")


def _dumped(file: IO[bytes], pairs: Iterable[tuple[str, str]]) -> list[tuple[int, int]]:
    """`pairs` appended to `file` in pickled batches: where each batch is."""
    pairs, found = iter(pairs), []
    while batch := list(islice(pairs, BATCH)):
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        found.append((file.tell(), len(data)))
        file.write(data)
    file.flush()
    return found


def _batches(file: IO[bytes], where: list[tuple[int, int]]) -> Iterator[list[tuple[str, str]]]:
    for offset, length in where:
        batch: list[tuple[str, str]] = pickle.loads(os.pread(file.fileno(), length, offset))
        yield batch


def _loaded(file: IO[bytes], where: list[tuple[int, int]]) -> Iterator[tuple[str, str]]:
    for batch in _batches(file, where):
        yield from batch


def _unwritable(
    folder: Path | str, err: OSError, what: str = "the rebuild's changes"
) -> StorageError:
    return StorageError(
        f"cannot keep {what} in {folder}: {err.strerror or err}",
        "free some space there, or set TMPDIR to a folder with room",
    )


@contextmanager
def _private(prefix: str) -> Iterator[Path]:
    """A private temporary folder, removed with all it holds when the block ends."""
    try:
        made = tempfile.TemporaryDirectory(prefix=prefix)
    except OSError as err:
        raise _unwritable(tempfile.gettempdir(), err) from None
    with made as folder:
        yield Path(folder)


@contextmanager
def spilled() -> Iterator[Keep]:
    """Where a rebuild's parts keep their changes: a private folder, removed after."""
    with _private("ffkpi-rebuild-") as folder:

        def keep(part: range, weeks: int) -> Waiting:
            return Spilled(folder, part.start)

        yield keep


@contextmanager
def shelved(count: int) -> Iterator[Shelved]:
    """Where a rebuild's customers wait in `count` shards: a private folder, removed
    after."""
    with _private("ffkpi-customers-") as folder:
        yield Shelved(folder, count)


@contextmanager
def recounted() -> Iterator[Path]:
    """Where the customer files of weeks counted again (from their kept reads) wait while
    a folder's weeks are read: a private folder, removed after."""
    with _private("ffkpi-recounted-") as folder:
        yield folder


@contextmanager
def runs(count: int) -> Iterator[Runs]:
    """Where weeks' customers wait, `count` shards, each in order, until their files
    are written: a private folder, removed after."""
    with _private("ffkpi-weeks-") as folder:
        yield Runs(folder, count)
