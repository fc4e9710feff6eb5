"""Stripe-neutral domain values: what the MRR rules need to know, nothing more.

Amounts are Decimal in the currency's Stripe minor units (cents for USD); timestamps
are Unix seconds, as Stripe gives them.

Prices, tiers and coupons are built once per id and shared, so they are frozen. The
values made once per subscription are plain slotted dataclasses, treated as immutable
by convention: a frozen dataclass costs 2-3x more to construct, and a run builds
hundreds of thousands of them.
"""

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, get_args

Interval = Literal["day", "week", "month", "year"]
Duration = Literal["forever", "once", "repeating"]
Status = Literal[
    "active",
    "past_due",
    "trialing",
    "unpaid",
    "incomplete",
    "incomplete_expired",
    "paused",
    "canceled",
]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # None: the last tier, no upper bound
    unit_amount: Decimal
    flat_amount: Decimal


@dataclass(frozen=True, slots=True)
class PriceAmount:
    """What a price charges in one currency: a unit amount, or tiers."""

    unit_amount: Decimal | None
    tiers: tuple[Tier, ...] | None


@dataclass(frozen=True, slots=True)
class Price:
    id: str
    product_id: str
    currency: str
    billing_scheme: Literal["per_unit", "tiered"]
    tiers_mode: Literal["graduated", "volume"] | None
    amounts: Mapping[str, PriceAmount]  # by currency: the default and currency_options
    interval: Interval
    interval_count: int
    metered: bool
    divide_by: int | None = None
    round_up: bool = False


@dataclass(frozen=True, slots=True)
class Coupon:
    id: str
    duration: Duration
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    amount_off_options: Mapping[str, int] = field(default_factory=dict)
    applies_to: frozenset[str] | None = None  # product ids; None: every product


@dataclass(slots=True)
class Discount:
    id: str
    coupon: Coupon
    end: int | None = None


@dataclass(slots=True)
class Item:
    id: str
    price: Price
    quantity: int
    discounts: tuple[Discount, ...] = ()
    trial_end: int | None = None


@dataclass(slots=True)
class Subscription:
    id: str
    customer: str
    status: Status
    currency: str
    items: tuple[Item, ...]
    discounts: tuple[Discount, ...] = ()
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    pause_collection: bool = False


@dataclass(slots=True)
class InvoiceLine:
    """One line of a finalized-or-not invoice that a subscription item generated."""

    subscription_item: str
    invoice_status: str
    amount: int
    quantity: int
    period_end: int


@dataclass(frozen=True, slots=True)
class Lifetime:
    """What Stripe keeps of a subscription's own past: when it started, trialed, was
    canceled (or asked to be) and ended. Timestamps in Unix seconds."""

    start: int
    ended_at: int | None = None
    canceled_at: int | None = None
    trial_start: int | None = None
    trial_end: int | None = None


@dataclass(frozen=True, slots=True)
class BilledLine:
    """A line of an invoice, or a pending invoice item, that a subscription item made:
    what the item was (price and quantity) over [start, end)."""

    item: str  # the subscription item's id
    price: Price
    quantity: int
    amount: int  # minor units; a proration credit is negative
    start: int
    end: int
    proration: bool = False
    discounts: tuple[Discount, ...] = ()  # the item-level discounts it was billed with


PENDING = "pending"  # the status of the invoice that gathers pending invoice items


@dataclass(frozen=True, slots=True)
class BilledInvoice:
    """An invoice of a subscription, with the lines its items made. Pending invoice
    items (not on an invoice yet) come as one with status "pending"."""

    id: str
    subscription: str
    status: str  # draft, open, paid, uncollectible, void, or pending
    billing_reason: str | None
    lines: tuple[BilledLine, ...]
    discounts: tuple[Discount, ...] = ()  # the subscription-level discounts it carried
    created: int = 0
    paid_at: int | None = None
    marked_uncollectible_at: int | None = None


@dataclass(frozen=True, slots=True)
class Billed:
    """One subscription as a streamed read gives it again, with its billed history: its
    invoices (the pending items as one), and the discounts they carried that had to be
    left out."""

    subscription: Subscription
    lifetime: Lifetime
    invoices: tuple[BilledInvoice, ...]
    unknown_discounts: int = 0
    metered: tuple[InvoiceLine, ...] = ()  # its metered items' newest lines, as read


class Names(Protocol):
    """Customers' names, where the data has them (a courtesy: a customer without one is
    shown by id). A large read's are never held: they are looked up for the few
    customers shown."""

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        """The names of those of `customers` that have one."""
        ...


class NamesInOrder(Names, Protocol):
    """A read's names, which customer files keep: gone through in customers' order as
    each file is written."""

    def blocks(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        """Every name, in blocks in customers' order (by id), each with the last id it
        may hold: a block's ids all come before the next block's."""
        ...


@dataclass(frozen=True, slots=True)
class HeldNames:
    """Names held in memory: a live read's, a bundle's, the demo's."""

    held: Mapping[str, str] = field(default_factory=dict)

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        held = self.held
        return {c: held[c] for c in customers if c in held}

    def blocks(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        if self.held:
            yield max(self.held), self.held


NO_NAMES = HeldNames()


# The billed history of a read too large to hold at once, read again from its file for
# each range of positions in `Dataset.subscriptions`, in their order.
Billing = Callable[[range], Iterator[Billed]]


@dataclass(frozen=True, slots=True)
class Dataset:
    # A tuple; or, for a streamed read, a collection read again from its file each time
    # it is gone through (never held whole).
    subscriptions: Collection[Subscription]
    product_names: Mapping[str, str] = field(default_factory=dict)
    invoice_lines: tuple[InvoiceLine, ...] = ()
    # What past weeks are rebuilt from: empty for a source read without history, and
    # for a streamed read, whose subscriptions bring theirs (Billed.lifetime).
    lifetimes: Mapping[str, Lifetime] = field(default_factory=dict)
    invoices: tuple[BilledInvoice, ...] = ()
    unknown_discounts: int = 0  # left out of the history: an id only, or a coupon gone
    read_at: int | None = None  # when the data was read from Stripe, if known
    # read_at is the file's modification time: the file does not say when it was read
    read_at_is_file_time: bool = False
    history_from: int | None = None  # the first instant its invoices rebuild, if known
    customer_names: NamesInOrder = NO_NAMES
    # A streamed read's billed history, subscription by subscription (`invoices` is then
    # empty and `unknown_discounts` is counted as it is read): see history.timeline.
    billing: Billing | None = None
    # A streamed read's subscriptions, each with its own metered items' newest lines,
    # read again from its file: today's MRR counts them one at a time, holding no
    # other's lines (`invoice_lines` may then be empty).
    with_lines: Callable[[], Iterator[tuple[Subscription, tuple[InvoiceLine, ...]]]] | None = None

    @property
    def rebuilt(self) -> int:
        """How many subscriptions have a past to rebuild: a streamed read gives each one's
        dates with its invoices (Billed.lifetime) rather than holding them all."""
        return len(self.subscriptions) if self.billing is not None else len(self.lifetimes)
