"""Stripe payloads -> ffkpi's domain values.

A payload that lacks what the rules need is an error naming the object and the field.
"""

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol

from ffkpi.engine.model import (
    STATUSES,
    Coupon,
    Dataset,
    Discount,
    InvoiceLine,
    Item,
    Price,
    PriceAmount,
    Status,
    Subscription,
    Tier,
)
from ffkpi.errors import InputError
from ffkpi.stripe.payloads import (
    StripeCoupon,
    StripeDiscount,
    StripeInvoice,
    StripeItem,
    StripePeriod,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeTier,
)

# Bounds of what Stripe accepts, well past any real price: beyond them a number is
# a broken or crafted file, refused naming the object rather than counted.
MAX_AMOUNT = Decimal(10**12)  # minor units per unit (unit_amount_decimal: 12 digits)
MAX_QUANTITY = 10**9
MAX_LINE_AMOUNT = 10**12  # minor units on one invoice line, either way


def _in_range(value: Decimal | int | None, high: Decimal | int, what: str, fix: str) -> None:
    """Refuse a number that is not finite or lies outside [0, high]."""
    if value is None:
        return
    number = Decimal(value)
    if not number.is_finite() or not 0 <= number <= high:
        raise InputError(f"{what} is {value}, outside 0 to {high:,}", fix)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def refuse_repeats(kind: str, objects: Iterable[_Identified]) -> None:
    """Every object of a kind once: a repeated id (a line pasted twice, a page saved
    twice) would be counted twice, so it is refused, whatever the command."""
    seen: set[str] = set()
    for entry in objects:
        if entry.id in seen:
            raise InputError(
                f"{kind} {entry.id} appears twice in the input",
                "remove the duplicate, or fetch the data again",
            )
        seen.add(entry.id)


def check_line(where: str, amount: int, quantity: int | None, period: StripePeriod) -> None:
    """Refuse an invoice line (or pending item) Stripe cannot send: its amount past
    MAX_AMOUNT either way (a credit is negative), a quantity outside 0 to MAX_QUANTITY,
    or a period that ends before it starts."""
    # Integers all (msgspec decoded them so): compared as such, once per line read.
    if (
        -MAX_LINE_AMOUNT <= amount <= MAX_LINE_AMOUNT
        and period.start <= period.end
        and (quantity is None or 0 <= quantity <= MAX_QUANTITY)
    ):
        return
    fix = "check the input is the invoice as Stripe returns it"
    if not -MAX_LINE_AMOUNT <= amount <= MAX_LINE_AMOUNT:
        raise InputError(f"{where}: amount is {amount}, outside ±{MAX_LINE_AMOUNT:,}", fix)
    _in_range(quantity, MAX_QUANTITY, f"{where}: quantity", fix)
    raise InputError(f"{where}: period.end {period.end} is before period.start {period.start}", fix)


def _decimal(exact: Decimal | None, whole: int | None) -> Decimal | None:
    if exact is not None:
        return exact
    return None if whole is None else Decimal(whole)


def _tiers(tiers: list[StripeTier] | None) -> tuple[Tier, ...] | None:
    if tiers is None:
        return None
    return tuple(
        Tier(
            up_to=tier.up_to,
            unit_amount=_decimal(tier.unit_amount_decimal, tier.unit_amount) or Decimal(0),
            flat_amount=_decimal(tier.flat_amount_decimal, tier.flat_amount) or Decimal(0),
        )
        for tier in tiers
    )


def _tier_amounts(tiers: tuple[Tier, ...] | None) -> list[Decimal]:
    return [value for tier in tiers or () for value in (tier.unit_amount, tier.flat_amount)]


_STATUS: dict[str, Status] = {status: status for status in STATUSES}  # shared copies


class Resolver:
    """Turns payload objects into domain values, filling in what they hold only by id."""

    def __init__(
        self,
        prices: Iterable[StripePrice],
        coupons: Iterable[StripeCoupon],
        products: Iterable[StripeProduct],
    ) -> None:
        self.full_prices = {price.id: price for price in prices}
        self.full_coupons = {coupon.id: coupon for coupon in coupons}
        self.product_names = {product.id: product.name for product in products}
        self._prices: dict[str, Price] = {}
        self._coupons: dict[str, Coupon] = {}

    def subscription(self, sub: StripeSubscription) -> Subscription:
        if sub.items.has_more:
            raise InputError(
                f"subscription {sub.id}: items.has_more is true, so some of its items are missing",
                "add the rest of its items to items.data (GET /v1/subscription_items)",
            )
        customer = sub.customer if isinstance(sub.customer, str) else sub.customer.id
        return Subscription(
            id=sub.id,
            customer=customer,
            # A few values repeated across the account: shared, not one copy each.
            status=_STATUS[sub.status],
            currency=sys.intern(sub.currency.lower()),
            items=tuple([self._item(item, sub.id) for item in sub.items.data]),
            discounts=(
                self._discounts(sub.discounts, f"subscription {sub.id}") if sub.discounts else ()
            ),
            cancel_at_period_end=sub.cancel_at_period_end,
            cancel_at=sub.cancel_at,
            pause_collection=sub.pause_collection is not None,
        )

    def _item(self, item: StripeItem, sub_id: str) -> Item:
        _in_range(
            item.quantity,
            MAX_QUANTITY,
            f"subscription {sub_id}, item {item.id}: quantity",
            "check the input is the subscription as Stripe returns it",
        )
        price = self._prices.get(item.price.id)
        if price is None:
            price = self._price(item.price, f"subscription {sub_id}, item {item.id}")
        return Item(
            id=item.id,
            price=price,
            quantity=item.quantity or 0,
            discounts=(
                self._discounts(item.discounts, f"subscription {sub_id}, item {item.id}")
                if item.discounts
                else ()
            ),
            trial_end=item.current_trial.end_date if item.current_trial else None,
        )

    def _price(self, embedded: StripePrice, where: str) -> Price:
        price = self.full_prices.get(embedded.id, embedded)
        if isinstance(price.product, StripeProduct):
            self.product_names.setdefault(price.product.id, price.product.name)
        if price.recurring is None:
            raise InputError(
                f"{where}: price {price.id} has no recurring field",
                "a subscription item's price is recurring; check the input is Stripe's JSON",
            )
        tiered = price.billing_scheme == "tiered"
        amounts = {
            price.currency.lower(): PriceAmount(
                _decimal(price.unit_amount_decimal, price.unit_amount), _tiers(price.tiers)
            )
        }
        for currency, option in (price.currency_options or {}).items():
            amounts.setdefault(
                currency.lower(),
                PriceAmount(
                    _decimal(option.unit_amount_decimal, option.unit_amount),
                    _tiers(option.tiers),
                ),
            )
        for amount in amounts.values():
            for value in (amount.unit_amount, *_tier_amounts(amount.tiers)):
                _in_range(
                    value,
                    MAX_AMOUNT,
                    f"{where}: price {price.id}: an amount",
                    "check the input is the price as Stripe returns it",
                )
        if tiered and any(amount.tiers is None for amount in amounts.values()):
            raise InputError(
                f"{where}: price {price.id} is tiered but its tiers are missing",
                "add the price fetched with expand[]=tiers to the bundle's prices",
            )
        if not tiered and any(amount.unit_amount is None for amount in amounts.values()):
            raise InputError(
                f"{where}: price {price.id} has no unit_amount",
                "check the input is the price as Stripe returns it",
            )
        transform = price.transform_quantity
        result = Price(
            id=price.id,
            product_id=price.product_id,
            currency=price.currency.lower(),
            billing_scheme=price.billing_scheme,
            tiers_mode=price.tiers_mode,
            amounts=amounts,
            interval=price.recurring.interval,
            interval_count=price.recurring.interval_count,
            metered=price.recurring.usage_type == "metered",
            divide_by=transform.divide_by if transform else None,
            round_up=bool(transform and transform.round == "up"),
        )
        self._prices[price.id] = result
        return result

    def _discounts(
        self, discounts: Sequence[str | StripeDiscount], where: str
    ) -> tuple[Discount, ...]:
        result = []
        for discount in discounts:
            if isinstance(discount, str):
                raise InputError(
                    f"{where}: discount {discount} is only an id",
                    "fetch subscriptions with expand[]=data.discounts.source.coupon and "
                    "expand[]=data.items.data.discounts",
                )
            coupon = discount.source.coupon
            if coupon is None:
                continue  # a promotion or other non-coupon source carries no coupon terms
            result.append(
                Discount(id=discount.id, coupon=self._coupon(coupon, where), end=discount.end)
            )
        return tuple(result)

    def price_by_id(self, price_id: str, where: str) -> Price | None:
        """A price an invoice line names by id: one a subscription embeds, or the
        account's list; None when the data holds neither."""
        known = self._prices.get(price_id)
        if known is not None:
            return known
        listed = self.full_prices.get(price_id)
        return None if listed is None else self._price(listed, where)

    def known_discounts(
        self, discounts: Sequence[str | StripeDiscount], where: str
    ) -> tuple[tuple[Discount, ...], int]:
        """The discounts an invoice carried, and how many could not be known: given
        only by id, or with a coupon that no longer exists (history-rules.md rule 5:
        left out and counted, never guessed)."""
        known: list[Discount] = []
        unknown = 0
        for discount in discounts:
            coupon = None if isinstance(discount, str) else discount.source.coupon
            if isinstance(discount, str) or (
                isinstance(coupon, str) and coupon not in self.full_coupons
            ):
                unknown += 1
            elif coupon is not None:
                known.append(Discount(discount.id, self._coupon(coupon, where), discount.end))
        return tuple(known), unknown

    def _coupon(self, embedded: str | StripeCoupon, where: str) -> Coupon:
        coupon_id = embedded if isinstance(embedded, str) else embedded.id
        cached = self._coupons.get(coupon_id)
        if cached is not None:
            return cached
        # The bundle's copy wins: it is the one fetched with applies_to expanded.
        coupon = self.full_coupons.get(coupon_id)
        if coupon is None:
            if isinstance(embedded, str):
                raise InputError(
                    f"{where}: coupon {coupon_id} is only an id",
                    "add the coupon to the bundle's coupons, or expand it",
                )
            coupon = embedded
        fix = "check the input is the coupon as Stripe returns it"
        _in_range(coupon.percent_off, 100, f"{where}: coupon {coupon_id}: percent_off", fix)
        for amount_off in (
            coupon.amount_off,
            *(option.amount_off for option in (coupon.currency_options or {}).values()),
        ):
            _in_range(amount_off, MAX_AMOUNT, f"{where}: coupon {coupon_id}: amount_off", fix)
        if coupon.percent_off is None and coupon.amount_off is None:
            raise InputError(
                f"{where}: coupon {coupon_id} has neither percent_off nor amount_off",
                "check the input is the coupon as Stripe returns it",
            )
        result = Coupon(
            id=coupon.id,
            duration=coupon.duration,
            percent_off=coupon.percent_off,
            amount_off=coupon.amount_off,
            currency=coupon.currency.lower() if coupon.currency else None,
            amount_off_options={
                currency.lower(): option.amount_off
                for currency, option in (coupon.currency_options or {}).items()
            },
            # Absent (not expanded), null or an empty list: the coupon is not restricted;
            # Stripe cannot restrict a coupon to no product at all.
            applies_to=(
                frozenset(coupon.applies_to.products)
                if coupon.applies_to and coupon.applies_to.products
                else None
            ),
        )
        self._coupons[coupon_id] = result
        return result


def invoice_lines(invoices: Iterable[StripeInvoice]) -> list[InvoiceLine]:
    """The subscription-item lines of invoices, prorations left out."""
    lines = []
    for invoice in invoices:
        if invoice.lines.has_more:
            raise InputError(
                f"invoice {invoice.id}: lines.has_more is true, so some of its lines are missing",
                "add the rest of its lines to lines.data",
            )
        for line in invoice.lines.data:
            details = line.parent.subscription_item_details if line.parent else None
            if details is None or details.subscription_item is None or details.proration:
                continue
            check_line(
                f"invoice {invoice.id}, line {line.id}", line.amount, line.quantity, line.period
            )
            lines.append(
                InvoiceLine(
                    subscription_item=details.subscription_item,
                    invoice_status=invoice.status or "draft",
                    amount=line.amount,
                    quantity=line.quantity or 0,
                    period_end=line.period.end,
                )
            )
    return lines


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Its full collections rescan every object built so far, which made reading 100,000
    subscriptions a fifth slower; nothing built here forms a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_dataset(
    subscriptions: Iterable[StripeSubscription],
    prices: Iterable[StripePrice] = (),
    coupons: Iterable[StripeCoupon] = (),
    products: Iterable[StripeProduct] = (),
    invoices: Iterable[StripeInvoice] = (),
    resolver: Resolver | None = None,
) -> Dataset:
    """Domain values from payloads; `subscriptions` may be a generator parsing pages.
    A `resolver` given is used (and keeps what it resolved) instead of one of
    `prices`, `coupons` and `products`."""
    with bulk_allocation():
        resolver = resolver or Resolver(prices, coupons, products)
        subs = tuple(resolver.subscription(sub) for sub in subscriptions)
        return Dataset(
            subscriptions=subs,
            product_names=resolver.product_names,
            invoice_lines=tuple(invoice_lines(invoices)),
        )
