"""A week's customers as its customer file's rows, in customers' order, never as a map
of them all: a counted week's (`snapshot`, the weekly run), kept by shard as its
subscriptions are counted; rebuilt weeks' (`backfill`), each week's file merged from its
shards' sorted rows."""

import heapq
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date

from ffkpi.config import Config
from ffkpi.engine.model import Dataset
from ffkpi.engine.mrr import Report, compute_report
from ffkpi.history.shards import Sharded
from ffkpi.storage import spill
from ffkpi.storage.customer_files import Row, customer_rows
from ffkpi.usecases import parallel


@contextmanager
def rows_by_week(customers: Sharded, weeks: list[int]) -> Iterator[Callable[[int], Iterable[Row]]]:
    """The customer file's rows of each of `weeks`, in customers' order. In one shard,
    each week's sorted when its file is written. In many, each shard's ledger is made
    once, its weeks sorted and set aside on disk (spill.runs), and a week's file merges
    the shards' rows: one shard's customers are held at a time."""
    if customers.count == 1:
        yield lambda week: customer_rows(sorted(customers.ledger(0).whole(week).items()))
        return
    with spill.runs(customers.count) as runs:
        for shard, week, ordered in customers.in_order(weeks):
            runs.put(shard, week, customer_rows(ordered))
        yield lambda week: heapq.merge(*(runs.take(s, week) for s in range(customers.count)))


@contextmanager
def counted_week(
    data: Dataset, config: Config, as_of: date
) -> Iterator[tuple[Report, Iterable[Row]]]:
    """The report of `as_of` (its figures alone), and its customers as its customer
    file's rows, in order: each counted subscription kept by shard as it is counted
    (parallel.counted_shards), the shards merged when the file is written."""
    with parallel.counted_shards(data) as store:
        customers = Sharded(store, 0, [tier.name for tier in config.tiers])
        report = compute_report(
            data,
            config,
            as_of,
            customers=False,
            sink=lambda counted: customers.add_read(counted.customer, counted.tiers),
        )
        customers.read_week()
        with rows_by_week(customers, [0]) as rows:
            yield report, rows(0)
