"""One subscription's billed history, indexed once and read at any instant: what it
was (items, discounts, status) at a past instant, by rules 1-6 of docs/history-rules.md.

Pure: no I/O, no clock.
"""

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from typing import NamedTuple

from ffkpi.engine.calendar import end_of_day
from ffkpi.engine.model import (
    PENDING,
    BilledInvoice,
    BilledLine,
    Dataset,
    Discount,
    InvoiceLine,
    Item,
    Lifetime,
    Status,
    Subscription,
)
from ffkpi.engine.pricing import Metered, latest_metered
from ffkpi.errors import InputError


class Kind(IntEnum):
    """What a line says of its item. Ordered: on equal starts a debit wins over a
    regular line, which wins over a credit (rule 3)."""

    CREDIT = 0  # a proration credit with no debit: the item removed or replaced
    REGULAR = 1  # a regular line: the item over its period
    DEBIT = 2  # a proration debit: the item from the change on


class Base(NamedTuple):
    """A base invoice (rule 5), ordered by the start of its first regular licensed line."""

    start: int
    created: int
    id: str
    invoice: BilledInvoice


BASE_REASONS = frozenset({"subscription_create", "subscription_cycle"})
NEVER_SETS = frozenset({"draft"})  # drafts may still change: they never set an item
FINALIZED = frozenset({"open", "paid"})


@dataclass(frozen=True, slots=True)
class Segment:
    """What one line says of its item: from `start` to `end`, this (or, for a credit,
    nothing)."""

    start: int
    end: int
    kind: Kind
    line: BilledLine
    invoice: BilledInvoice


def _start(segment: Segment) -> int:
    return segment.start


def _first_of_equals(segments: list[Segment], k: int) -> Segment:
    """The first of the segments sorted alongside segments[k] with its (start, kind)."""
    segment = segments[k]
    while k > 0 and (segments[k - 1].start, segments[k - 1].kind) == (segment.start, segment.kind):
        k -= 1
    return segments[k]


def _segments(invoices: Iterable[BilledInvoice]) -> dict[str, list[Segment]]:
    """Every line as a segment of its item, each item's sorted by (start, kind)."""
    by_item: dict[str, list[Segment]] = {}
    for invoice in invoices:
        if invoice.status in NEVER_SETS:
            continue
        debits = {
            (line.item, line.start) for line in invoice.lines if line.proration and line.amount >= 0
        }
        for line in invoice.lines:
            if not line.proration:
                kind = Kind.REGULAR
            elif line.amount >= 0:
                kind = Kind.DEBIT
            elif (line.item, line.start) in debits:
                continue  # the credit of a change whose debit sets the item
            else:
                kind = Kind.CREDIT  # removed, or replaced by another item
            segment = Segment(line.start, line.end, kind, line, invoice)
            by_item.setdefault(line.item, []).append(segment)
    for segments in by_item.values():
        segments.sort(key=lambda s: (s.start, s.kind, s.invoice.id, s.line.end))
    return by_item


class Timeline:
    """One subscription's billed history, indexed once, read at any instant."""

    def __init__(
        self,
        sub: Subscription,
        life: Lifetime,
        invoices: Sequence[BilledInvoice],
        read_metered: Mapping[str, Metered] | None = None,
    ) -> None:
        self.sub = sub
        self.life = life
        self.invoices = invoices
        # A streamed read's metered items as last billed when it was read (the read's
        # own instant is reconciled by them); None: the data's lines say.
        self.read_metered = read_metered
        self.items = _segments(invoices)
        self.starts = sorted(s.start for segments in self.items.values() for s in segments)
        self.last_end = max((s.end for seg in self.items.values() for s in seg), default=None)
        # Base invoices (rule 5), by the start of their first regular licensed line.
        bases: list[Base] = []
        for invoice in invoices:
            if invoice.status in ("draft", "void") or invoice.billing_reason not in BASE_REASONS:
                continue
            starts = [
                line.start
                for line in invoice.lines
                if not line.proration and not line.price.metered
            ]
            if starts:
                bases.append(Base(min(starts), invoice.created, invoice.id, invoice))
        bases.sort(key=lambda base: (base.start, base.created, base.id))
        self.base_starts = [base.start for base in bases]
        self.bases = [base.invoice for base in bases]
        self.metered = any(
            s.line.price.metered for segments in self.items.values() for s in segments
        )
        self.billing_metered = (
            [  # the invoices rule 6 reads: those with metered lines
                invoice for invoice in invoices if any(line.price.metered for line in invoice.lines)
            ]
            if self.metered
            else []
        )

    def metered_at(self, t: int) -> dict[str, Metered]:
        """The newest metered lines of its finalized invoices at t (rule 6)."""
        if not self.metered:
            return {}
        return latest_metered(metered_lines(self.billing_metered, t))

    def exists(self, t: int) -> bool:
        """Rule 1: from start_date until ended_at."""
        life = self.life
        return life.start <= t and (life.ended_at is None or t < life.ended_at)

    def _item_at(self, segments: list[Segment], t: int) -> Segment | None:
        """Rule 3: the covering segment with the latest start, else the last state
        carried forward while no other segment of the subscription started since."""
        # Segments are sorted by (start, kind): from the last one starting by t back,
        # the first that covers t has the latest (start, kind) of those covering it.
        position = bisect.bisect_right(segments, t, key=_start) - 1
        if position < 0:
            return None
        for k in range(position, -1, -1):
            segment = segments[k]
            if segment.end > t:
                best = _first_of_equals(segments, k)
                return None if best.kind == Kind.CREDIT else best
        last = _first_of_equals(segments, position)
        if last.kind == Kind.CREDIT:
            return None
        # Another segment of the subscription that started after this one ended (and by
        # t) is a newer invoice that left the item out: it has stopped. Metered usage is
        # billed in arrears, on the invoice that opens the next period: only a renewal
        # after that one, billing no usage of the item, shows it gone.
        if last.line.price.metered:
            starts = self.base_starts
            later = bisect.bisect_right(starts, last.end)
        else:
            starts = self.starts
            later = bisect.bisect_left(starts, last.end)
        if later < len(starts) and starts[later] <= t:
            return None
        return last

    def at(self, t: int) -> Subscription | None:
        """The subscription as it stood at instant t; None when it did not exist."""
        if not self.exists(t):
            return None
        present = [
            (item_id, segment)
            for item_id, segments in self.items.items()
            if (segment := self._item_at(segments, t)) is not None
        ]
        base = self._base(t)
        status, scheduled, paused = self._status(t, [segment for _, segment in present])
        items = tuple(
            Item(
                id=item_id,
                price=segment.line.price,
                quantity=segment.line.quantity,
                discounts=self._item_discounts(item_id, segment, base),
                # In a trial of the whole subscription, its $0 lines are that trial's.
                trial_end=None if status == "trialing" else trial_end(segment),
            )
            for item_id, segment in present
        )
        return Subscription(
            id=self.sub.id,
            customer=self.sub.customer,
            status=status,
            currency=self.sub.currency,
            items=items,
            discounts=base.discounts if base is not None else (),
            cancel_at_period_end=scheduled,
            pause_collection=paused,
        )

    def _base(self, t: int) -> BilledInvoice | None:
        """Rule 5: the newest create or cycle invoice with a regular licensed line
        starting at or before t."""
        position = bisect.bisect_right(self.base_starts, t)
        return self.bases[position - 1] if position else None

    @staticmethod
    def _item_discounts(
        item_id: str, segment: Segment, base: BilledInvoice | None
    ) -> tuple[Discount, ...]:
        """The discounts of the line that set the item; a proration carries none, so
        the item keeps those its regular line on the base invoice had."""
        if not segment.line.proration:
            return segment.line.discounts
        if base is None:
            return ()
        regular = [line for line in base.lines if line.item == item_id and not line.proration]
        return regular[0].discounts if regular else ()

    def _status(self, t: int, present: list[Segment]) -> tuple[Status, bool, bool]:
        """Rule 2: the status at t, whether a cancellation was scheduled, whether
        collection was paused."""
        life = self.life
        current = self.sub.status
        if current in ("incomplete", "incomplete_expired"):
            return current, False, False  # never counted, whenever
        trial = (life.trial_start, life.trial_end)
        if trial[0] is not None and trial[1] is not None and trial[0] <= t < trial[1]:
            return "trialing", False, False
        if life.canceled_at is not None and life.canceled_at <= t:
            return "active", True, False
        if current == "paused" and self.last_end is not None and t >= self.last_end:
            return "paused", False, False  # paused at the end of its last billed period
        # Pending items are on no invoice yet: the next one decides how they are paid.
        licensed = [
            s.invoice for s in present if not s.line.price.metered and s.invoice.status != PENDING
        ]
        for invoice in licensed:
            uncollectible = invoice.marked_uncollectible_at
            if uncollectible is not None and uncollectible <= t:
                return "unpaid", False, False
        for invoice in licensed:
            if _unpaid_at(invoice, t):
                return "past_due", False, False
        paused = bool(licensed) and all(invoice.status == "void" for invoice in licensed)
        return "active", False, paused


def trial_end(segment: Segment) -> int | None:
    """An item on a trial of its own: a regular line billing nothing for a price that
    costs something (line amounts are before discounts, so a coupon never makes one).
    Where the spec is silent, this follows how Stripe bills an item-level trial."""
    line = segment.line
    if line.proration or line.amount != 0 or line.price.metered:
        return None
    amounts = line.price.amounts.values()
    if all((a.unit_amount or 0) == 0 and not a.tiers for a in amounts):
        return None  # a free price: nothing to try
    return line.end


def _unpaid_at(invoice: BilledInvoice, t: int) -> bool:
    """Whether a finalized invoice was open at t: still open, or paid or marked
    uncollectible only later."""
    if invoice.status == "open":
        return True
    if invoice.status == "paid":
        return invoice.paid_at is not None and invoice.paid_at > t
    return invoice.status == "uncollectible"  # marked after t, else unpaid already


def instant_of(day: date, read_at: int | None) -> int:
    """The instant a week is rebuilt at: the end of its as-of day, or the moment the data
    was read if that came first (nothing after it is known)."""
    end = end_of_day(day)
    return end if read_at is None else min(end, read_at)


class Timelines:
    """The subscriptions whose past is rebuilt (those with a lifetime, in the data's
    order), each with its billed history: indexed from the data's invoices, or read part
    by part from a streamed read's file (Dataset.billing), one subscription at a time,
    never all held."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.streamed = data.billing is not None
        self.subscriptions = (
            [] if self.streamed else [s for s in data.subscriptions if s.id in data.lifetimes]
        )
        self.index = {} if self.streamed else invoice_index(data)

    def __len__(self) -> int:
        return len(self.data.subscriptions) if self.streamed else len(self.subscriptions)

    def weights(self) -> list[int]:
        """What each subscription costs to rebuild, about: its invoices (unknown, so
        alike, in a streamed read), plus one."""
        if self.streamed:
            return [1] * len(self)
        return [len(self.index.get(sub.id, ())) + 1 for sub in self.subscriptions]

    def part(self, part: range) -> Iterator[tuple[Timeline, int]]:
        """The timelines of the subscriptions in `part`, in order, each with the
        discounts its invoices carried that had to be left out (counted here only for a
        streamed read: the data's own count holds them otherwise)."""
        data = self.data
        if data.billing is None:
            for n in part:
                sub = self.subscriptions[n]
                yield Timeline(sub, data.lifetimes[sub.id], self.index.get(sub.id, [])), 0
            return
        for billed in data.billing(part):
            sub = billed.subscription
            read = latest_metered(billed.metered)
            yield Timeline(sub, billed.lifetime, billed.invoices, read), billed.unknown_discounts

    def __iter__(self) -> Iterator[Timeline]:
        return (timeline for timeline, _ in self.part(range(len(self))))


def invoice_index(data: Dataset) -> dict[str, list[BilledInvoice]]:
    """Each subscription's invoices; an invoice of a subscription the data does not hold
    is refused, since its weeks cannot be rebuilt."""
    by_subscription: dict[str, list[BilledInvoice]] = {}
    for invoice in data.invoices:
        by_subscription.setdefault(invoice.subscription, []).append(invoice)
    for sub_id, invoices in by_subscription.items():
        if sub_id in data.lifetimes:
            continue
        refuse_unheld(sub_id, invoices, data.read_at)
    return by_subscription


def refuse_unheld(sub_id: str, invoices: Sequence[BilledInvoice], read_at: int | None) -> None:
    """Invoices of a subscription the data does not hold: refused, unless made after the
    read began (by a subscription created since: beyond every week)."""
    known = [i for i in invoices if read_at is None or i.created <= read_at]
    if not known:
        return
    what = "pending invoice items" if known[0].status == PENDING else f"invoice {known[0].id}"
    raise InputError(
        f"{what} of subscription {sub_id}, which the data does not hold: its weeks "
        "cannot be rebuilt",
        "fetch again with ffkpi fetch --since, which reads subscriptions of every status",
    )


def metered_lines(invoices: Iterable[BilledInvoice], t: int) -> list[InvoiceLine]:
    """Rule 6: the metered lines of finalized invoices whose period ended by t."""
    return [
        InvoiceLine(line.item, invoice.status, line.amount, line.quantity, line.end)
        for invoice in invoices
        if invoice.status in FINALIZED
        for line in invoice.lines
        if line.price.metered and not line.proration and line.end <= t
    ]
