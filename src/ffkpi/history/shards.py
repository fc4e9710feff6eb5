"""A rebuild's customers in shards: each change of a customer's MRR kept with the
others of its shard (a share of the customers, by a hash of the id), and a shard's
weeks made from them when a reader asks, one shard at a time.

A rebuild sums its weeks' figures from every subscription's changes without any
customer; what grows with the account is each week's customers, which movements
compare. Kept by shard (in memory for one shard, or in the store the use case gives,
on disk), they are read a shard at a time: a shard's running sums and ledger
(ledger.py) hold its own customers only, and movements (movements.py) are summed over
the shards, exactly, so they are the same to the byte as over every customer at once.
A snapshot folder's weeks, whose customers come a week at a time in customers' order,
are kept the same way, each week compared side by side with the week before (Feeder).

Pure: the store does any I/O.
"""

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any, Protocol, TypeVar

from ffkpi.engine.exact import CustomerSums, shared
from ffkpi.engine.model import Names
from ffkpi.engine.pricing import ZERO
from ffkpi.history.ledger import ALL, EACH, Ledger, LedgerWeek, Values
from ffkpi.history.series import Customers

V = TypeVar("V", Values, Decimal)
READ = -1  # the week of the read's own count, kept after the weeks rebuilt
# A change of a customer's MRR: its week, the customer, the tiers it moved, the sign.
Record = tuple[int, str, tuple[tuple[int, Decimal], ...], int]


class Store(Protocol):
    """Where the records of each shard wait: appended in order, sealed once all are in,
    then read, in the order appended, as often as asked."""

    count: int  # shards

    def append(self, shard: int, record: Record) -> None: ...

    def seal(self) -> None: ...

    def read(self, shard: int) -> Iterable[Record]: ...


def shard_of(customer: str, count: int) -> int:
    """The customer's shard: the same in every process and run."""
    return 0 if count == 1 else zlib.crc32(customer.encode("utf-8", "surrogatepass")) % count


def same_digits(one: Values | None, other: Values | None) -> bool:
    """Whether two customers' MRR per tier are written alike: 5.2 and 5.20 are not."""
    if one is None or other is None:
        return one is other
    return one == other and all(
        a.same_quantum(b) and a.is_signed() == b.is_signed()
        for a, b in zip(one, other, strict=True)
    )


class _Builder:
    """One shard's ledger, made from its records fed in the order appended."""

    def __init__(self, weeks: int, width: int) -> None:
        self.weeks = weeks
        self.running = CustomerSums(width)  # the shard's customers as of the last week fed
        self.read = CustomerSums(width)  # the read's own, where given
        self.ledger = Ledger()
        self.before: dict[str, Values | None] = {}  # customers the week touched, as they were
        self.closed = 0  # the weeks appended to the ledger

    def feed(self, record: Record) -> None:
        week, customer, tiers, sign = record
        if week == READ:
            self.read.add(customer, tiers, sign)
            return
        while self.closed < week:
            self._close()
        if customer not in self.before:
            self.before[customer] = self.running.customers.get(customer)
        self.running.add(customer, tiers, sign)

    def _close(self) -> None:
        # Only those whose MRR changed, digit for digit: many customers a week touches
        # (a renewal, a payment) pay what they paid.
        now = self.running.customers
        self.ledger.append(
            {c: now.get(c) for c, was in self.before.items() if not same_digits(was, now.get(c))}
        )
        self.before.clear()
        self.closed += 1

    def finish(self, has_read: bool) -> Ledger:
        """The ledger of every week, and the read's own after them if `has_read`."""
        while self.closed < self.weeks:
            self._close()
        if has_read:
            now, counted = self.running.customers, self.read.customers
            self.ledger.append(
                {
                    c: counted.get(c)
                    for c in now.keys() | counted.keys()
                    if not same_digits(now.get(c), counted.get(c))
                }
            )
        return self.ledger


class Sharded:
    """The customers of a rebuild's `weeks` weeks (and of the read's own count, when
    given), in `store`'s shards, their MRR in each of `tiers` (a customer's values, by
    position). Without a store, one shard made as its changes come, holding no change
    once made (the ledger does)."""

    def __init__(self, store: Store | None, weeks: int, tiers: Sequence[str]) -> None:
        self.store, self.weeks, self.tiers = store, weeks, tuple(tiers)
        self.width = len(self.tiers)
        self.count = 1 if store is None else store.count
        self.has_read = False
        self.sealed = False
        self._direct = _Builder(weeks, self.width) if store is None else None
        self._made: tuple[int, Ledger] | None = None  # the shard read last

    def add(
        self, week: int, customer: str, tiers: tuple[tuple[int, Decimal], ...], sign: int
    ) -> None:
        """A change of the customer's MRR in `week` (READ: a subscription of the read)."""
        assert not self.sealed, "every change is added before a shard is read"
        if self._direct is not None:
            self._direct.feed((week, customer, tiers, sign))
        else:
            assert self.store is not None
            self.store.append(shard_of(customer, self.count), (week, customer, tiers, sign))

    def add_read(self, customer: str, tiers: tuple[tuple[int, Decimal], ...]) -> None:
        """A subscription of the read, counted at the read's own instant."""
        if tiers:
            self.add(READ, customer, tiers, 1)

    def read_week(self) -> "ShardedWeek[Values]":
        """The customers of the read, once every subscription of it is added: the week
        after the rebuilt ones."""
        assert not self.sealed, "the read is added before a shard is read"
        self.has_read = True
        return self.week(self.weeks)

    def week(self, index: int, view: int = EACH) -> "ShardedWeek[Any]":
        return ShardedWeek(self, index, view)

    def ledger(self, shard: int) -> Ledger:
        """The shard's weeks as a ledger, made from its changes (the last one kept)."""
        if self._made is not None and self._made[0] == shard:
            return self._made[1]
        self._made = None  # let the last shard go before the next is made
        if self._direct is not None:
            self._direct.weeks = self.weeks  # a Feeder's grow as they are given
            made = self._direct.finish(self.has_read)
            self._direct = None
        else:
            assert self.store is not None
            if not self.sealed:
                self.store.seal()
            builder = _Builder(self.weeks, self.width)
            for record in self.store.read(shard):
                builder.feed(record)
            made = builder.finish(self.has_read)
        self.sealed = True
        self._made = (shard, made)
        return made

    def in_order(self, weeks: Sequence[int]) -> Iterator[tuple[int, int, list[tuple[str, Values]]]]:
        """Each of `weeks`' customers (shard, week, its customers sorted by id), shard
        after shard: each shard's ledger made once for all its weeks (none for none)."""
        for shard in range(self.count if weeks else 0):
            ledger = self.ledger(shard)
            for week in weeks:
                yield shard, week, sorted(ledger.whole(week).items())


class ShardedWeek(Mapping[str, V]):
    """One week of a Sharded in one view (ledger.EACH, ALL or a tier's index): each
    shard's part of it (`part`) is a LedgerWeek. As a mapping it reads the shards one
    after another: whole, for a reader that knows no shards."""

    __slots__ = ("index", "sharded", "view")

    def __init__(self, sharded: Sharded, index: int, view: int) -> None:
        self.sharded, self.index, self.view = sharded, index, view

    def part(self, shard: int) -> LedgerWeek[V]:
        return LedgerWeek(self.sharded.ledger(shard), self.index, self.view)

    def in_all(self) -> "ShardedWeek[Decimal]":
        return ShardedWeek(self.sharded, self.index, ALL)

    def in_tier(self, k: int) -> "ShardedWeek[Decimal]":
        return ShardedWeek(self.sharded, self.index, k)

    def __getitem__(self, customer: str) -> V:
        return self.part(shard_of(customer, self.sharded.count))[customer]

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(list(self.part(s).whole()) for s in range(self.sharded.count))

    def __len__(self) -> int:
        return sum(len(self.part(s)) for s in range(self.sharded.count))

    def __contains__(self, customer: object) -> bool:
        return isinstance(customer, str) and customer in self.part(
            shard_of(customer, self.sharded.count)
        )

    def __repr__(self) -> str:
        return f"ShardedWeek(week {self.index}, {self.sharded.count} shards)"


def shards_of(series: Iterable[Mapping[str, Any] | None]) -> Sharded | None:
    """The one Sharded every known week of `series` is a week of, if they all are."""
    found: Sharded | None = None
    for week in series:
        if week is None:
            continue
        if not isinstance(week, ShardedWeek) or (found is not None and week.sharded is not found):
            return None
        found = week.sharded
    return found


class WeeksNames:
    """The names weeks keep, a newer week's winning: looked up in each week's in turn,
    the newest first, until every customer asked for is found."""

    def __init__(self) -> None:
        self.weeks: list[Names] = []  # the oldest first

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        wanted, found = set(customers), {}
        for names in reversed(self.weeks):
            if not wanted:
                break
            named = names.of(wanted)
            found.update(named)
            wanted.difference_update(named)
        return found


class Feeder:
    """Weeks whose customers come whole, one after another (a snapshot folder's, each
    read from its file), kept in a Sharded as what changed from the week before: `tiers`,
    every tier any week names. The two weeks are gone through side by side in customers'
    order, so a week read from its file in that order (Customers.ordered) is never held;
    another is sorted, and held until the next week is kept."""

    def __init__(self, store: Store | None, tiers: Sequence[str]) -> None:
        self.sharded = Sharded(store, 0, tiers)
        self.previous: _Week | None = None  # the last known week
        self.names = WeeksNames()  # every week's names so far, the newest winning
        self._values: dict[tuple[Values, tuple[int | str, ...]], Values] = {}  # exact.shared

    def keep(self, customers: Customers | None) -> Customers | None:
        """The next week's `customers` kept, as the Sharded's week (unknown ones, and a
        file of schema 1's rounded totals, left as they are)."""
        sharded = self.sharded
        week = sharded.weeks
        sharded.weeks += 1
        if customers is None or customers.tiers is None:
            return customers
        if not set(customers.tiers) <= set(sharded.tiers):  # a file naming other tiers
            return customers  # than its snapshot: kept whole, as read
        now = _Week(customers, tuple(sharded.tiers.index(name) for name in customers.tiers))
        for customer, was, new in _side_by_side(self.previous, now, self._spread):
            if was is not None:
                sharded.add(week, customer, tuple(enumerate(was)), -1)
            if new is not None:
                sharded.add(week, customer, tuple(enumerate(new)), 1)
        self.previous = now
        self.names.weeks.append(customers.names)
        made = sharded.week(week)
        return Customers(customers.currency, customers.tiers, made, made.in_all(), self.names)

    def _spread(self, values: "_Spread") -> Values:
        """A customer's values of a week, in `tiers`' order; most pay alike (shared)."""
        row, at = values
        spread = [ZERO] * self.sharded.width
        for k, value in zip(at, row, strict=True):
            spread[k] = value
        return shared(self._values, tuple(spread), spread)


# A customer's values as its week's file has them, and where each goes among the tiers.
_Spread = tuple[Values, tuple[int, ...]]


class _Week:
    """A week's customers in customers' order: read again from its file, or sorted once."""

    def __init__(self, customers: Customers, at: tuple[int, ...]) -> None:
        self.at = at
        self.rows = customers.mrr.items() if customers.ordered else sorted(customers.mrr.items())


def _side_by_side(
    before: _Week | None, now: _Week, spread: Callable[[_Spread], Values]
) -> Iterator[tuple[str, Values | None, Values | None]]:
    """The customers whose MRR differs between two weeks (digit for digit), in order,
    with their values in each, in every tier's place (None: not paying that week)."""
    at, was_at = now.at, before.at if before is not None else ()
    olds = iter(before.rows if before is not None else ())
    old = next(olds, None)
    for customer, values in now.rows:
        while old is not None and old[0] < customer:
            yield old[0], spread((old[1], was_at)), None
            old = next(olds, None)
        if old is None or old[0] != customer:
            yield customer, None, spread((values, at))
            continue
        if at != was_at:  # the files name their tiers in another order
            was, new = spread((old[1], was_at)), spread((values, at))
            if not same_digits(was, new):
                yield customer, was, new
        elif not same_digits(old[1], values):
            yield customer, spread((old[1], was_at)), spread((values, at))
        old = next(olds, None)
    while old is not None:
        yield old[0], spread((old[1], was_at)), None
        old = next(olds, None)
