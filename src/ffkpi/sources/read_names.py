"""A read's customers' names (engine.model.NamesInOrder), from the customers' list in
its catalog. A few are held; past HELD named customers they are never held: looked up
by going through the catalog's lines again for the customers shown, and sorted once on
disk (storage.spill.Sorted) to be gone through in customers' order as each customer
file is written. What the first pass keeps of each listed customer is its id's
fingerprint, to tell whether one is there twice."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from ffkpi.engine.model import HeldNames, NamesInOrder
from ffkpi.sources.fingerprints import Fingerprints, fingerprint
from ffkpi.storage.spill import Sorted
from ffkpi.stripe.lists import CUSTOMERS
from ffkpi.stripe.payloads import StripeCustomer
from ffkpi.stripe.resolve import refuse_repeats

HELD = 20_000  # named customers a read holds; past this, read again from its file

# The read's customers' list, its catalog lines read again, a line's customers at a time.
Listed = Callable[[], Iterator[Sequence[StripeCustomer]]]


class Listing:
    """What a read's first pass keeps of its customers' list."""

    def __init__(self) -> None:
        self.seen = Fingerprints()
        self.held: dict[str, str] | None = {}  # None: more than HELD named

    def add(self, customers: Iterable[StripeCustomer]) -> None:
        held = self.held
        for customer in customers:
            self.seen.add(customer.id)
            if held is not None and customer.name:
                held[customer.id] = customer.name
        if held is not None and len(held) > HELD:
            self.held = None

    def names(self, listed: Listed) -> NamesInOrder:
        """The names, once no customer is found listed twice (refused, as a repeated
        price or coupon is)."""
        twice = self.seen.repeated()
        if twice:
            refuse_repeats(
                CUSTOMERS.kind,
                (c for customers in listed() for c in customers if fingerprint(c.id) in twice),
            )
        return HeldNames(self.held) if self.held is not None else ReadNames(listed)


class ReadNames:
    """A read's names, read again from its catalog's lines when asked."""

    def __init__(self, listed: Listed) -> None:
        self.listed = listed
        self.sorted: Sorted | None = None  # made the first time they are gone through

    def _named(self) -> Iterator[tuple[str, str]]:
        for customers in self.listed():
            yield from ((c.id, c.name) for c in customers if c.name)

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        wanted = set(customers)
        return {c: name for c, name in self._named() if c in wanted} if wanted else {}

    def blocks(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        if self.sorted is None:
            self.sorted = Sorted(self._named())
        for batch in self.sorted.batches_in_order():
            yield batch[-1][0], dict(batch)
