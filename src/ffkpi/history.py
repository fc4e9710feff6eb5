"""Each subscription as it stood at a past instant, rebuilt from what Stripe billed
(docs/history-rules.md), then counted by the same rules as today's MRR (mrr.py).

Pure: no I/O, no clock. A subscription's invoices are indexed once (a Timeline) and
read at any instant; a week is the Dataset of every subscription at the end of its
as-of day, computed by compute_report as `ffkpi mrr --as-of` would.
"""

import bisect
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ffkpi.config import Config
from ffkpi.model import (
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
from ffkpi.mrr import Report, compute_report, end_of_day

CREDIT, REGULAR, DEBIT = 0, 1, 2  # on equal starts a debit wins over a regular line,
# which wins over a credit (rule 3)
BASE_REASONS = frozenset({"subscription_create", "subscription_cycle"})
NEVER_SETS = frozenset({"draft"})  # drafts may still change: they never set an item
FINALIZED = frozenset({"open", "paid"})


@dataclass(frozen=True, slots=True)
class Segment:
    """What one line says of its item: from `start` to `end`, this (or, for a credit,
    nothing)."""

    start: int
    end: int
    kind: int
    line: BilledLine
    invoice: BilledInvoice


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
                kind = REGULAR
            elif line.amount >= 0:
                kind = DEBIT
            elif (line.item, line.start) in debits:
                continue  # the credit of a change whose debit sets the item
            else:
                kind = CREDIT  # removed, or replaced by another item
            segment = Segment(line.start, line.end, kind, line, invoice)
            by_item.setdefault(line.item, []).append(segment)
    for segments in by_item.values():
        segments.sort(key=lambda s: (s.start, s.kind, s.invoice.id, s.line.end))
    return by_item


class Timeline:
    """One subscription's billed history, indexed once, read at any instant."""

    def __init__(
        self, sub: Subscription, life: Lifetime, invoices: Sequence[BilledInvoice]
    ) -> None:
        self.sub = sub
        self.life = life
        self.items = _segments(invoices)
        self.starts = sorted(s.start for segments in self.items.values() for s in segments)
        self.last_end = max((s.end for seg in self.items.values() for s in seg), default=None)
        # Base invoices (rule 5), by the start of their first regular licensed line.
        bases = []
        for invoice in invoices:
            if invoice.status in ("draft", "void") or invoice.billing_reason not in BASE_REASONS:
                continue
            starts = [
                line.start
                for line in invoice.lines
                if not line.proration and not line.price.metered
            ]
            if starts:
                bases.append((min(starts), invoice.created, invoice.id, invoice))
        bases.sort(key=lambda entry: entry[:3])
        self.base_starts = [entry[0] for entry in bases]
        self.bases = [entry[3] for entry in bases]

    def exists(self, t: int) -> bool:
        """Rule 1: from start_date until ended_at."""
        life = self.life
        return life.start <= t and (life.ended_at is None or t < life.ended_at)

    def _item_at(self, segments: list[Segment], t: int) -> Segment | None:
        """Rule 3: the covering segment with the latest start, else the last state
        carried forward while no other segment of the subscription started since."""
        covering = [s for s in segments if s.start <= t < s.end]
        if covering:
            best = max(covering, key=lambda s: (s.start, s.kind))
            return None if best.kind == CREDIT else best
        earlier = [s for s in segments if s.start <= t]
        if not earlier:
            return None
        last = max(earlier, key=lambda s: (s.start, s.kind))
        if last.kind == CREDIT:
            return None
        # Another segment of the subscription that started after this one ended (and by
        # t) is a newer invoice that left the item out: it has stopped.
        later = bisect.bisect_left(self.starts, last.end)
        if later < len(self.starts) and self.starts[later] <= t:
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
        items = tuple(
            Item(
                id=item_id,
                price=segment.line.price,
                quantity=segment.line.quantity,
                discounts=self._item_discounts(item_id, segment, base),
            )
            for item_id, segment in present
        )
        status, scheduled, paused = self._status(t, [segment for _, segment in present])
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
        licensed = [s.invoice for s in present if not s.line.price.metered]
        for invoice in licensed:
            uncollectible = invoice.marked_uncollectible_at
            if uncollectible is not None and uncollectible <= t:
                return "unpaid", False, False
        for invoice in licensed:
            if invoice.status == "open" or (
                invoice.status == "paid" and invoice.paid_at is not None and invoice.paid_at > t
            ):
                return "past_due", False, False
        paused = bool(licensed) and all(invoice.status == "void" for invoice in licensed)
        return "active", False, paused


def timelines(data: Dataset) -> list[Timeline]:
    """Every subscription with a lifetime, its invoices indexed once."""
    by_subscription: dict[str, list[BilledInvoice]] = {}
    for invoice in data.invoices:
        by_subscription.setdefault(invoice.subscription, []).append(invoice)
    return [
        Timeline(sub, data.lifetimes[sub.id], by_subscription.get(sub.id, []))
        for sub in data.subscriptions
        if sub.id in data.lifetimes
    ]


def metered_lines(invoices: Iterable[BilledInvoice], t: int) -> list[InvoiceLine]:
    """Rule 6: the metered lines of finalized invoices whose period ended by t."""
    return [
        InvoiceLine(line.item, invoice.status, line.amount, line.quantity, line.end)
        for invoice in invoices
        if invoice.status in FINALIZED
        for line in invoice.lines
        if line.price.metered and not line.proration and line.end <= t
    ]


def dataset_at(data: Dataset, lines: Sequence[Timeline], t: int) -> Dataset:
    """Every subscription as it stood at t, for compute_report."""
    subscriptions = tuple(sub for timeline in lines if (sub := timeline.at(t)) is not None)
    return dataclasses.replace(
        data,
        subscriptions=subscriptions,
        invoice_lines=tuple(metered_lines(data.invoices, t)),
    )


def rebuild_weeks(data: Dataset, config: Config, as_of: Sequence[date]) -> list[Report]:
    """The report of each as-of day, as `ffkpi mrr --as-of` would have computed it then."""
    indexed = timelines(data)
    return [
        compute_report(dataset_at(data, indexed, end_of_day(day)), config, day) for day in as_of
    ]
