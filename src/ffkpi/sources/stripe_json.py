"""Stripe JSON (API version 2026-10-28.endive) -> ffkpi's domain values.

The payload types declare only the fields the MRR rules read; msgspec skips everything
else in Stripe's payload while decoding, which is what makes this path fast (about three
times Pydantic's rate on subscriptions, whose JSON is mostly fields the rules never read).
A payload that lacks what the rules need is an error naming the object and the field.
"""

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from ffkpi.errors import InputError
from ffkpi.model import (
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

API_VERSION = "2026-10-28.endive"

Positive = Annotated[int, msgspec.Meta(ge=1)]


class Payload(msgspec.Struct, frozen=True, gc=False):
    """A Stripe object as decoded: unknown fields skipped, never part of a reference cycle.

    Subclasses say frozen=True again: it is inherited, but type checkers see only what a
    class states (dataclass_transform).
    """


class StripeTier(Payload, frozen=True):
    up_to: int | None
    unit_amount: int | None = None
    unit_amount_decimal: Decimal | None = None
    flat_amount: int | None = None
    flat_amount_decimal: Decimal | None = None


class StripeCurrencyOption(Payload, frozen=True):
    unit_amount: int | None = None
    unit_amount_decimal: Decimal | None = None
    tiers: list[StripeTier] | None = None


class StripeRecurring(Payload, frozen=True):
    interval: Literal["day", "week", "month", "year"]
    interval_count: Positive
    usage_type: Literal["licensed", "metered"] = "licensed"


class StripeTransformQuantity(Payload, frozen=True):
    divide_by: Positive
    round: Literal["up", "down"]


class StripeProduct(Payload, frozen=True):
    id: str
    name: str


class StripePrice(Payload, frozen=True):
    id: str
    product: str | StripeProduct
    currency: str
    recurring: StripeRecurring | None
    billing_scheme: Literal["per_unit", "tiered"] = "per_unit"
    unit_amount: int | None = None
    unit_amount_decimal: Decimal | None = None
    tiers_mode: Literal["graduated", "volume"] | None = None
    tiers: list[StripeTier] | None = None  # only present when expanded
    transform_quantity: StripeTransformQuantity | None = None
    currency_options: dict[str, StripeCurrencyOption] | None = None

    @property
    def product_id(self) -> str:
        return self.product if isinstance(self.product, str) else self.product.id


class StripeAppliesTo(Payload, frozen=True):
    products: list[str]


class StripeAmountOption(Payload, frozen=True):
    amount_off: int


class StripeCoupon(Payload, frozen=True):
    id: str
    duration: Literal["forever", "once", "repeating"]
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    currency_options: dict[str, StripeAmountOption] | None = None
    applies_to: StripeAppliesTo | None = None  # only present when expanded


class StripeDiscountSource(Payload, frozen=True):
    type: str = "coupon"
    coupon: str | StripeCoupon | None = None


class StripeDiscount(Payload, frozen=True):
    id: str
    source: StripeDiscountSource
    end: int | None = None


class StripeTrial(Payload, frozen=True):
    end_date: int


class StripeItem(Payload, frozen=True):
    id: str
    price: StripePrice
    quantity: int | None = None  # null for metered prices
    discounts: list[str | StripeDiscount] = []
    current_trial: StripeTrial | None = None


class StripeItemList(Payload, frozen=True):
    data: list[StripeItem]
    has_more: bool = False


class StripeCustomer(Payload, frozen=True):
    id: str


class StripeSubscription(Payload, frozen=True):
    id: str
    customer: str | StripeCustomer
    status: Status
    currency: str
    items: StripeItemList
    discounts: list[str | StripeDiscount] = []
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    pause_collection: dict[str, Any] | None = None
    created: int = 0


class StripePeriod(Payload, frozen=True):
    start: int
    end: int


class StripeItemDetails(Payload, frozen=True):
    subscription_item: str | None = None
    proration: bool = False


class StripeLineParent(Payload, frozen=True):
    subscription_item_details: StripeItemDetails | None = None


class StripeLine(Payload, frozen=True):
    amount: int
    period: StripePeriod
    quantity: int | None = None
    parent: StripeLineParent | None = None


class StripeLineList(Payload, frozen=True):
    data: list[StripeLine]
    has_more: bool = False


class StripeInvoice(Payload, frozen=True):
    id: str
    status: str | None
    lines: StripeLineList


class StripeList(Payload, frozen=True):
    """One page of GET /v1/subscriptions."""

    object: Literal["list"]
    data: list[StripeSubscription]
    has_more: bool = False


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_MISSING = re.compile(r"Object missing required field `(.+)`")


def error_location(err: msgspec.ValidationError) -> tuple[list[str | int], str]:
    """Where in the document a payload went wrong (keys and list positions), and what.

    msgspec says it as "Expected `int`, got `str` - at `$.data[3].items`"; a dict's key is
    shown as "[...]".
    """
    message, _, path = str(err).partition(" - at `$")
    loc: list[str | int] = [
        int(index) if index.isdigit() else (key or "[...]")
        for key, index in _PATH_PART.findall(path.rstrip("`"))
    ]
    missing = _MISSING.fullmatch(message)
    if missing:
        loc.append(missing[1])
        message = "field is missing"
    return loc, message.replace("`", "")


def malformed(err: msgspec.DecodeError) -> str:
    """Why text is not JSON, in a reader's words."""
    reason = str(err).removeprefix("JSON is malformed: ")
    if reason == "Input data was truncated":
        return "it ends before the JSON does (a cut-off download?)"
    return reason


def dotted(loc: Sequence[str | int]) -> str:
    """A location as a reader writes it: items.data[1].price."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[...]":  # a dict's key, which msgspec does not name
            text += part
        else:
            text += f".{part}"
    return text.lstrip(".")


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
            status=sub.status,
            currency=sub.currency.lower(),
            items=tuple([self._item(item, sub.id) for item in sub.items.data]),
            discounts=(
                self._discounts(sub.discounts, f"subscription {sub.id}") if sub.discounts else ()
            ),
            cancel_at_period_end=sub.cancel_at_period_end,
            cancel_at=sub.cancel_at,
            pause_collection=sub.pause_collection is not None,
        )

    def _item(self, item: StripeItem, sub_id: str) -> Item:
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
) -> Dataset:
    """Domain values from payloads; `subscriptions` may be a generator parsing pages."""
    with bulk_allocation():
        resolver = Resolver(prices, coupons, products)
        subs = tuple(resolver.subscription(sub) for sub in subscriptions)
        return Dataset(
            subscriptions=subs,
            product_names=resolver.product_names,
            invoice_lines=tuple(invoice_lines(invoices)),
        )
