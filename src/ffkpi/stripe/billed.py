"""Stripe's invoices, pending invoice items and subscription dates -> the billed
history past weeks are rebuilt from (model.Lifetime, BilledInvoice, BilledLine)."""

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ffkpi.engine.model import PENDING, BilledInvoice, BilledLine, Dataset, Lifetime
from ffkpi.errors import InputError
from ffkpi.stripe.payloads import (
    StripeCoupon,
    StripeDiscount,
    StripeInvoice,
    StripeInvoiceItem,
    StripeLine,
    StripePeriod,
    StripePrice,
    StripePricing,
    StripeProduct,
    StripeSubscription,
    SubscriptionDates,
)
from ffkpi.stripe.resolve import (
    Resolver,
    build_dataset,
    bulk_allocation,
    check_line,
)


@dataclass(frozen=True, slots=True)
class Billed:
    lifetimes: dict[str, Lifetime]
    invoices: tuple[BilledInvoice, ...]
    unknown_discounts: int  # discounts left out: an id only, or a coupon that is gone


def lifetime(sub: SubscriptionDates) -> Lifetime:
    return Lifetime(
        start=sub.start_date if sub.start_date is not None else sub.created,
        ended_at=sub.ended_at,
        canceled_at=sub.canceled_at,
        trial_start=sub.trial_start,
        trial_end=sub.trial_end,
    )


def _price_id(pricing: StripePricing | None) -> str | None:
    details = pricing.price_details if pricing else None
    return details.price if details else None


class Biller:
    """Turns Stripe's invoices and pending items into billed history, one at a time;
    counts the discounts it had to leave out."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.unknown = 0

    def line(
        self,
        where: str,
        item: str,
        price_id: str | None,
        quantity: int | None,
        amount: int,
        period: StripePeriod,
        proration: bool,
        discounts: Sequence[str | StripeDiscount],
    ) -> BilledLine:
        check_line(where, amount, quantity, period)
        if price_id is None:
            raise InputError(
                f"{where}: the line of item {item} names no price",
                "fetch invoices as Stripe returns them (pricing.price_details.price)",
            )
        price = self.resolver.price_by_id(price_id, where)
        if price is None:
            raise InputError(
                f"{where}: price {price_id} is not in the data",
                "fetch again with ffkpi fetch --since, which saves every price",
            )
        known, unknown = self.resolver.known_discounts(discounts, where)
        self.unknown += unknown
        return BilledLine(
            item=item,
            price=price,
            quantity=quantity or 0,
            amount=amount,
            start=period.start,
            end=period.end,
            proration=proration,
            discounts=known,
        )

    def invoice(self, invoice: StripeInvoice) -> BilledInvoice | None:
        details = invoice.parent.subscription_details if invoice.parent else None
        if details is None or details.subscription is None:
            return None  # a one-off invoice: never recurring revenue
        if invoice.lines.has_more:
            raise InputError(
                f"invoice {invoice.id}: lines.has_more is true, so some of its lines are missing",
                "add the rest of its lines to lines.data",
            )
        where = f"invoice {invoice.id}"
        lines = tuple(
            self._invoice_line(where, item, line)
            for line in invoice.lines.data
            if (item := _item_of(line)) is not None
        )
        discounts, unknown = self.resolver.known_discounts(invoice.discounts, where)
        self.unknown += unknown
        transitions = invoice.status_transitions
        return BilledInvoice(
            id=invoice.id,
            subscription=details.subscription,
            status=invoice.status or "draft",
            billing_reason=invoice.billing_reason,
            lines=lines,
            discounts=discounts,
            created=invoice.created,
            paid_at=transitions.paid_at if transitions else None,
            marked_uncollectible_at=transitions.marked_uncollectible_at if transitions else None,
        )

    def _invoice_line(self, where: str, item: str, line: StripeLine) -> BilledLine:
        details = line.parent.subscription_item_details if line.parent else None
        return self.line(
            f"{where}, line {line.id}",
            item,
            _price_id(line.pricing),
            line.quantity,
            line.amount,
            line.period,
            bool(details and details.proration),
            line.discounts,
        )

    def pending(self, items: Iterable[StripeInvoiceItem]) -> list[BilledInvoice]:
        """Pending invoice items of subscription items, one "pending" invoice per
        subscription: they read like lines (history-rules.md)."""
        by_subscription: dict[str, list[BilledLine]] = {}
        for entry in items:
            details = entry.parent.subscription_details if entry.parent else None
            if entry.invoice is not None or details is None or details.subscription is None:
                continue  # billed already (it is an invoice's line), or not a subscription's
            if details.subscription_item is None:
                continue
            line = self.line(
                f"invoice item {entry.id}",
                details.subscription_item,
                _price_id(entry.pricing),
                entry.quantity,
                entry.amount,
                entry.period,
                entry.proration,
                entry.discounts or (),
            )
            by_subscription.setdefault(details.subscription, []).append(line)
        return [
            BilledInvoice(f"pending_{sub_id}", sub_id, PENDING, None, tuple(lines))
            for sub_id, lines in sorted(by_subscription.items())
        ]


def _item_of(line: StripeLine) -> str | None:
    details = line.parent.subscription_item_details if line.parent else None
    return details.subscription_item if details else None


def billed_history(
    lifetimes: dict[str, Lifetime],
    invoices: Iterable[StripeInvoice],
    invoice_items: Iterable[StripeInvoiceItem],
    resolver: Resolver,
) -> Billed:
    """The billed history of the data: every invoice of a subscription with its lines,
    and the pending items as one invoice each, beside the subscriptions' dates."""
    biller = Biller(resolver)
    billed = [b for invoice in invoices if (b := biller.invoice(invoice)) is not None]
    billed += biller.pending(invoice_items)
    return Billed(lifetimes=lifetimes, invoices=tuple(billed), unknown_discounts=biller.unknown)


def build_history_dataset(
    subscriptions: Iterable[StripeSubscription],
    prices: Iterable[StripePrice],
    coupons: Iterable[StripeCoupon],
    products: Iterable[StripeProduct],
    invoices: Iterable[StripeInvoice],
    invoice_items: Iterable[StripeInvoiceItem],
) -> Dataset:
    """build_dataset's Dataset with the billed history as well: every price an
    invoice names must then be in the data."""
    resolver = Resolver(prices, coupons, products)
    subs, invoices = list(subscriptions), list(invoices)
    dataset = build_dataset(subs, invoices=invoices, resolver=resolver)
    with bulk_allocation():
        lifetimes = {sub.id: lifetime(sub) for sub in subs}
        billed = billed_history(lifetimes, invoices, invoice_items, resolver)
    return dataclasses.replace(
        dataset,
        lifetimes=billed.lifetimes,
        invoices=billed.invoices,
        unknown_discounts=billed.unknown_discounts,
    )
