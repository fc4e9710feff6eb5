"""Each week's customers of a rebuild, kept as what changed from the week before.

A rebuild of N weeks used to hold N maps of every paying customer; a ledger holds the
first week's map and then only the customers each week changed. A week's whole map is
made when a reader asks for it, from the nearest one already made, and only the few
made last are kept (movements compare a week with the one before and with the first
weeks of the trailing windows): memory follows the customers, not the customers times
the weeks.

Pure: no I/O.
"""

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from decimal import Decimal
from typing import Generic, TypeVar

V = TypeVar("V")
HELD = 8  # whole maps kept at once: a week, the week before, the windows' first weeks, tiers


class Ledger(Generic[V]):
    """Weeks of customer maps, appended oldest first as their changes: a customer's new
    value, or None where it left the map."""

    def __init__(self) -> None:
        self._changes: list[dict[str, V | None]] = []
        self._held: dict[int, dict[str, V]] = {}  # by week, the least recently read first
        self._tiers: dict[tuple[int, int], dict[str, Decimal]] = {}  # by week and tier

    def append(self, changes: dict[str, V | None]) -> "LedgerWeek[V]":
        """The next week, from what changed since the one before; a view of its map."""
        self._changes.append(changes)
        return LedgerWeek(self, len(self._changes) - 1)

    def whole(self, week: int) -> dict[str, V]:
        """The map of `week`, made from the nearest earlier map kept (or the first week).
        Shared: never changed by its readers."""
        found = self._held.pop(week, None)
        if found is None:
            start = max((w for w in self._held if w < week), default=-1)
            found = dict(self._held[start]) if start >= 0 else {}
            for changes in self._changes[start + 1 : week + 1]:
                for customer, value in changes.items():
                    if value is None:
                        found.pop(customer, None)
                    else:
                        found[customer] = value
        return _keep(self._held, week, found)

    def tier(self: "Ledger[tuple[Decimal, ...]]", week: int, k: int) -> dict[str, Decimal]:
        """The customers of `week` paying in tier `k`, with their MRR there."""
        found = self._tiers.pop((week, k), None)
        if found is None:
            found = {c: values[k] for c, values in self.whole(week).items() if values[k] > 0}
        return _keep(self._tiers, (week, k), found)


K = TypeVar("K")
M = TypeVar("M")


def _keep(held: dict[K, M], key: K, found: M) -> M:
    """`found` kept as the most recently read, the least recent let go past HELD."""
    held[key] = found
    while len(held) > HELD:
        del held[next(iter(held))]
    return found


class Lazy(Mapping[str, V]):
    """A map made when read (`whole`); the mapping methods read the made map."""

    __slots__ = ()

    def whole(self) -> dict[str, V]:
        raise NotImplementedError

    def __getitem__(self, customer: str) -> V:
        return self.whole()[customer]

    def __iter__(self) -> Iterator[str]:
        return iter(self.whole())

    def __len__(self) -> int:
        return len(self.whole())

    def __contains__(self, customer: object) -> bool:
        return customer in self.whole()

    def keys(self) -> KeysView[str]:
        return self.whole().keys()

    def items(self) -> ItemsView[str, V]:
        return self.whole().items()

    def values(self) -> ValuesView[V]:
        return self.whole().values()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} customers)"


class LedgerWeek(Lazy[V]):
    """One week of a ledger."""

    __slots__ = ("index", "ledger")

    def __init__(self, ledger: Ledger[V], index: int) -> None:
        self.ledger = ledger
        self.index = index

    def whole(self) -> dict[str, V]:
        return self.ledger.whole(self.index)


class TierWeek(Lazy[Decimal]):
    """One week of a ledger of MRR per tier, in one tier: its paying customers only."""

    __slots__ = ("index", "k", "ledger")

    def __init__(self, week: LedgerWeek[tuple[Decimal, ...]], k: int) -> None:
        self.ledger = week.ledger
        self.index = week.index
        self.k = k

    def whole(self) -> dict[str, Decimal]:
        return self.ledger.tier(self.index, self.k)


def held(customers: Mapping[str, V]) -> Mapping[str, V]:
    """`customers` as a plain map for the length of a computation: a ledger's week is
    made once, rather than at every lookup."""
    return customers.whole() if isinstance(customers, Lazy) else customers
