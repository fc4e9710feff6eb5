"""Sums that never round: EXACT's context, a sum of many in C, each customer's MRR per
tier being summed, and values made once and shared by those equal to the last digit.

Pure: no I/O.
"""

from collections.abc import Iterable
from decimal import Context, Decimal, localcontext
from typing import TypeVar

from ffkpi.engine.pricing import ZERO

SHAPES = 1 << 16  # values shared at most (`shared`): bounded, whatever the account

# Sums are exact: a contribution added and later taken away leaves no residue, so a
# week rebuilt from differences equals one summed directly. Every MRR has at most 34
# significant digits within the bounds of amounts, quantities and rates (a span of
# about 90 digits), so 200 digits never round.
EXACT = Context(prec=200)


def summed(values: tuple[Decimal, ...], made: dict[int, Decimal]) -> Decimal:
    """exact_sum of a customer's `values`, made once a tuple: customers paying alike
    share one tuple (`shared`), and so one sum. `made`: the sums by the tuple's id, kept
    no longer than the tuples they sum (an id is reused only once its tuple is gone)."""
    total = made.get(id(values))
    if total is None:
        total = made[id(values)] = exact_sum(values)
    return total


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The sum of `values`, never rounded (in C, in EXACT's context)."""
    with localcontext(EXACT):
        return sum(values, ZERO)


T = TypeVar("T")


def shared(
    made: dict[tuple[T, tuple[int | str, ...]], T], value: T, decimals: Iterable[Decimal]
) -> T:
    """`value` as the one made first equal to it to the last digit of its `decimals`
    (5.2 and 5.20 are equal, but a customer file keeps the digits), up to SHAPES kept."""
    key = (value, tuple(d.as_tuple().exponent for d in decimals))
    found = made.get(key)
    if found is None:
        found = value
        if len(made) < SHAPES:
            made[key] = value
    return found


class CustomerSums:
    """Each customer's MRR per tier being summed (customers paying only), as a report
    sums them: a counted subscription's tiers added, or with sign -1 taken away."""

    def __init__(self, width: int) -> None:
        self.width = width  # the config's tiers
        self.customers: dict[str, tuple[Decimal, ...]] = {}
        self._values: dict[
            tuple[tuple[Decimal, ...], tuple[int | str, ...]], tuple[Decimal, ...]
        ] = {}

    def add(self, customer: str, tiers: tuple[tuple[int, Decimal], ...], sign: int) -> None:
        add = EXACT.add if sign > 0 else EXACT.subtract
        customers = self.customers
        values = list(customers.get(customer, ()) or [ZERO] * self.width)
        for t, mrr in tiers:
            values[t] = add(values[t], mrr)
        if any(values):
            # Customers paying alike share one tuple: most pay a plan's price.
            customers[customer] = shared(self._values, tuple(values), values)
        else:
            del customers[customer]
