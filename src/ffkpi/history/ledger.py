"""Each week's customers of a rebuild, kept as what changed from the week before.

A rebuild of N weeks used to hold N maps of every paying customer; a ledger holds the
first week's map and then only the customers each week changed, with their MRR per
tier. A week is read through a view: each customer's MRR per tier, in all tiers, or in
one tier. A view's map of a week is made when a reader asks for it, from the nearest
earlier one of the same view, and only the few made last are kept (movements compare a
week with the one before and with the first weeks of the trailing windows): memory
follows the customers, not the customers times the weeks.

Pure: no I/O.
"""

from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from decimal import Decimal
from typing import Any, TypeVar, cast

from ffkpi.engine.exact import shared, summed

Values = tuple[Decimal, ...]  # a customer's MRR per tier
V = TypeVar("V", Values, Decimal)
HELD = 8  # maps kept at once: a week, the windows' first weeks, for a view or two
ALL = -1  # the view of each customer's MRR in all tiers; a tier's view is its index
EACH = -2  # the view of each customer's MRR per tier


def _project(view: int, sums: dict[int, Decimal]) -> Callable[[Values], Any]:
    """What `view` keeps of a customer's values; None leaves the customer out. `sums`:
    each sum in all tiers made so far, by the id of the (shared) values it sums."""
    if view == EACH:
        return lambda values: values
    if view == ALL:  # as the report sums them, the same digits; one sum a tuple
        return lambda values: summed(values, sums)
    return lambda values: values[view] if values[view] > 0 else None


class Ledger:
    """Weeks of customers' MRR per tier, appended oldest first as their changes: a
    customer's new values, or None where the customer stopped paying."""

    def __init__(self) -> None:
        self._changes: list[dict[str, Values | None]] = []
        self._made: dict[tuple[int, int], dict[str, Any]] = {}  # by view and week, LRU
        self._values: dict[tuple[Values, tuple[int | str, ...]], Values] = {}  # exact.shared
        # Each appended tuple's sum in all tiers, by its id: the tuples live as long as
        # the ledger (in its changes), so no id is reused while the sum is kept.
        self._sums: dict[int, Decimal] = {}

    def append(self, changes: dict[str, Values | None]) -> "LedgerWeek[Values]":
        """The next week, from what changed since the one before. Customers paying alike
        share one tuple of values: most pay a plan's price."""
        for customer, values in changes.items():
            if values is not None:
                changes[customer] = shared(self._values, values, values)
        self._changes.append(changes)
        return LedgerWeek(self, len(self._changes) - 1, EACH)

    def whole(self, week: int, view: int = EACH) -> dict[str, Any]:
        """The map of `week` in `view`, made from the nearest earlier map of the view
        kept (or from nothing). Shared: never changed by its readers."""
        made = self._made
        found = made.pop((view, week), None)
        if found is None:
            start = max((w for v, w in made if v == view and w < week), default=-1)
            found = dict(made[view, start]) if start >= 0 else {}
            project = _project(view, self._sums)
            for changes in self._changes[start + 1 : week + 1]:
                for customer, values in changes.items():
                    kept = None if values is None else project(values)
                    if kept is None:
                        found.pop(customer, None)
                    else:
                        found[customer] = kept
        made[view, week] = found  # the most recently read, the least recent let go
        while len(made) > HELD:
            del made[next(iter(made))]
        return found


class LedgerWeek(Mapping[str, V]):
    """One week of a ledger, in one view (EACH, ALL or a tier's index): a map made when
    read (`whole`), which the mapping methods read."""

    __slots__ = ("index", "ledger", "view")

    def __init__(self, ledger: Ledger, index: int, view: int) -> None:
        self.ledger, self.index, self.view = ledger, index, view

    def whole(self) -> dict[str, V]:
        return cast(dict[str, V], self.ledger.whole(self.index, self.view))

    def in_all(self) -> "LedgerWeek[Decimal]":
        """The week's customers with their MRR in all tiers."""
        return LedgerWeek(self.ledger, self.index, ALL)

    def in_tier(self, k: int) -> "LedgerWeek[Decimal]":
        """The week's customers paying in tier `k`, with their MRR there."""
        return LedgerWeek(self.ledger, self.index, k)

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
        return f"LedgerWeek({len(self)} customers)"


def held(customers: Mapping[str, V]) -> Mapping[str, V]:
    """`customers` as a plain map for the length of a computation: a ledger's week is
    made once, rather than at every lookup."""
    return customers.whole() if isinstance(customers, LedgerWeek) else customers
