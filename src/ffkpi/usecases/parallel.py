"""The rebuild over every core: its parts run in a pool of forked processes, their
changes waiting on disk until summed; and how many shards the weeks' customers wait in
(history/shards.py), of a rebuild or of a snapshot folder.

Forked, the workers inherit the read and the work already in memory (nothing is sent
to them but each part's range); only each part's differences come back, and the
rebuild sums them in the subscriptions' order, so the reports are the same to the byte
as in one process. Where fork is not available (Windows), or the account is small
enough that starting processes costs more than it saves, the parts run here, in order.
"""

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date

from ffkpi.config import Config
from ffkpi.engine.model import Dataset
from ffkpi.history.rebuild import Deltas, Rebuilt, Runner, in_order, rebuild
from ffkpi.history.shards import Store
from ffkpi.storage.spill import shelved, spilled

SMALL = 1_500  # subscriptions: fewer are rebuilt in one process (a pool costs ~0.1 s)
SHARD = 20_000  # subscriptions whose customers make one shard (about 10 MB of weeks)
SHARD_FILE = 100_000  # bytes of a snapshot's customer file that make one shard
# The run's setting (0: every core this process may use), and the work a forked pool's
# workers find in the memory they inherit.
_setting: dict[str, int] = {"jobs": 0}
_pending: list[Callable[[range], Deltas]] = []


def set_jobs(jobs: int) -> None:
    """The processes a rebuild may use from now on (`--jobs`); 0 is every core."""
    _setting["jobs"] = jobs


def jobs() -> int:
    if _setting["jobs"] > 0:
        return _setting["jobs"]
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def rebuild_plan(subscriptions: int) -> tuple[int, Runner]:
    """How many parts a rebuild of `subscriptions` is cut into, and what runs them."""
    count = jobs()
    if count <= 1 or subscriptions < SMALL or "fork" not in multiprocessing.get_all_start_methods():
        return 1, in_order
    return count, _in_pool


def rebuilt(
    data: Dataset,
    config: Config,
    days: Sequence[date],
    *,
    reconcile_at: date | None = None,
    shards: Store | None = None,
) -> Rebuilt:
    """The weeks of `days` rebuilt over every core the run may use, each part's changes
    waiting on disk until they are summed (storage/spill.py); `shards`: where the
    weeks' customers wait (`customer_shards`; by default in memory, one shard)."""
    parts, runner = rebuild_plan(data.rebuilt)
    with spilled() as keep:
        return rebuild(
            data,
            config,
            days,
            parts=parts,
            run=runner,
            reconcile_at=reconcile_at,
            keep=keep,
            shards=shards,
        )


def customer_shards(data: Dataset) -> AbstractContextManager[Store | None]:
    """Where a rebuild of `data` keeps its weeks' customers until they are read: a shard
    each SHARD subscriptions."""
    return _shards(-(-data.rebuilt // SHARD))


def counted_shards(data: Dataset) -> AbstractContextManager[Store | None]:
    """Where the customers of `data` counted at one instant wait until written: a shard
    each SHARD subscriptions."""
    return _shards(-(-len(data.subscriptions) // SHARD))


def folder_shards(largest: int) -> AbstractContextManager[Store | None]:
    """Where a snapshot folder's weeks keep their customers until read, its largest
    customer file `largest` bytes: a shard each SHARD_FILE bytes."""
    return _shards(-(-largest // SHARD_FILE))


@contextmanager
def _shards(count: int) -> Iterator[Store | None]:
    """`count` shards: in memory for one, else on disk (storage/spill.py) until the
    block ends."""
    if count <= 1:
        yield None  # one shard, made in memory
        return
    with shelved(count) as store:
        yield store


def _call(part: range) -> Deltas:
    return _pending[-1](part)  # set before the pool forked


def _in_pool(work: Callable[[range], Deltas], parts: list[range]) -> list[Deltas]:
    if len(parts) <= 1:
        return in_order(work, parts)
    _pending.append(work)
    # The read, frozen out of the collector's reach: a worker's collections then leave
    # its pages shared with this process instead of copying them all.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
            return pool.map(_call, parts, chunksize=1)
    finally:
        gc.unfreeze()
        _pending.pop()
