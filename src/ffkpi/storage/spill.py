"""A rebuild's changes waiting on disk until they are summed (history.rebuild.Waiting):
a rebuild counts subscription after subscription and sums week after week, so each
change waits in between; held in memory, they are the largest thing a rebuild of a
large account holds (a record for each subscription each time it changes).

A private temporary folder for the rebuild (`spilled`), a file a part and week, each
appended in batches of pickled records written and read only by this process and the
workers it forked; a week's file is deleted once summed, the folder when the rebuild
is done.
"""

import pickle
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ffkpi.engine.mrr import Counted
from ffkpi.errors import StorageError
from ffkpi.history.rebuild import Keep, Waiting

BATCH = 512  # records a week buffers before they are written (every week buffers)

# A change as written: the sign, then Counted's fields in order.
Record = tuple[int, str, str, str, str | None, tuple[str, ...], Any, Any]


class Spilled:
    """One part's changes, a file a week in `folder`."""

    def __init__(self, folder: Path, part: int) -> None:
        self.folder = folder
        self.part = part
        self.buffers: dict[int, list[Record]] = {}
        self.written: set[int] = set()  # the weeks with a file

    def _path(self, week: int) -> Path:
        return self.folder / f"{self.part}.{week}"

    def append(self, week: int, counted: Counted, sign: int) -> None:
        buffer = self.buffers.setdefault(week, [])
        buffer.append(
            (
                sign,
                counted.status,
                counted.customer,
                counted.currency,
                counted.reason,
                counted.items_excluded,
                counted.products,
                counted.tiers,
            )
        )
        if len(buffer) >= BATCH:
            self._write(week)

    def _write(self, week: int) -> None:
        try:
            with self._path(week).open("ab") as out:
                pickle.dump(self.buffers.pop(week), out, protocol=pickle.HIGHEST_PROTOCOL)
            self.written.add(week)
        except OSError as err:
            raise _unwritable(self.folder, err) from None

    def seal(self) -> None:
        for week in list(self.buffers):
            self._write(week)

    def take(self, week: int) -> Iterator[tuple[Counted, int]]:
        """The week's changes in the order appended; its file deleted once read. Each
        customer's id is interned: every week's changes of one customer name it with
        one string, as they did in memory."""
        if week not in self.written:
            return
        path = self._path(week)
        intern = sys.intern
        try:
            with path.open("rb") as handle:
                while True:
                    try:
                        batch: list[Record] = pickle.load(handle)
                    except EOFError:
                        break
                    for sign, status, customer, *rest in batch:
                        yield Counted(status, intern(customer), *rest), sign
            path.unlink()
        except (OSError, pickle.UnpicklingError) as err:
            raise StorageError(
                f"the rebuild's changes in {self.folder} were removed or altered while "
                f"ffkpi ran ({path.name}: {err})",
                "run the command again, and keep cleaners off the temporary folder meanwhile",
            ) from None

    def __getstate__(self) -> tuple[Path, int, set[int]]:
        assert not self.buffers, "sealed before it crosses to another process"
        return self.folder, self.part, self.written

    def __setstate__(self, state: tuple[Path, int, set[int]]) -> None:
        self.folder, self.part, self.written = state
        self.buffers = {}


def _unwritable(folder: Path | str, err: OSError) -> StorageError:
    return StorageError(
        f"cannot keep the rebuild's changes in {folder}: {err.strerror or err}",
        "free some space there, or set TMPDIR to a folder with room",
    )


@contextmanager
def spilled() -> Iterator[Keep]:
    """Where a rebuild's parts keep their changes: a private folder, removed after."""
    try:
        made = tempfile.TemporaryDirectory(prefix="ffkpi-rebuild-")
    except OSError as err:
        raise _unwritable(tempfile.gettempdir(), err) from None
    with made as folder:

        def keep(part: range, weeks: int) -> Waiting:
            return Spilled(Path(folder), part.start)

        yield keep
