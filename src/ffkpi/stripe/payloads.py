"""Stripe JSON (API version 2026-10-28.endive) as ffkpi decodes it.

The payload types declare only the fields the MRR rules read; msgspec skips everything
else in Stripe's payload while decoding, which is what makes this path fast (about three
times Pydantic's rate on subscriptions, whose JSON is mostly fields the rules never read).
"""

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from ffkpi.engine.model import Status

API_VERSION = "2026-10-28.endive"

Positive = Annotated[int, msgspec.Meta(ge=1)]


class Payload(msgspec.Struct, frozen=True, gc=False):
    """A Stripe object as decoded: unknown fields skipped, never part of a reference cycle.

    Subclasses say frozen=True again: it is inherited, but type checkers see only what a
    class states (dataclass_transform).
    """


T = TypeVar("T")


class Page(Payload, Generic[T], frozen=True):
    """A list object (a page of a list endpoint, or a list embedded in an object)."""

    data: list[T]
    has_more: bool = False


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


class StripeCustomer(Payload, frozen=True):
    id: str
    name: str | None = None  # read for `ffkpi movements`, where a bundle has customers


class SubscriptionDates(Payload, frozen=True, kw_only=True):
    """A subscription's own dates: what history is rebuilt from (history-rules.md, rules
    1 and 2), whichever shape of the subscription is decoded."""

    created: int = 0
    start_date: int | None = None
    ended_at: int | None = None
    canceled_at: int | None = None
    trial_start: int | None = None
    trial_end: int | None = None


class StripeSubscription(SubscriptionDates, frozen=True):
    id: str
    customer: str | StripeCustomer
    status: Status
    currency: str
    items: Page[StripeItem]
    discounts: list[str | StripeDiscount] = []
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    pause_collection: dict[str, Any] | None = None
    billing_cycle_anchor: int | None = None  # the day its renewals fall on


class StripePeriod(Payload, frozen=True):
    start: int
    end: int


class StripeItemDetails(Payload, frozen=True):
    subscription: str | None = None
    subscription_item: str | None = None
    proration: bool = False


class StripeLineParent(Payload, frozen=True):
    subscription_item_details: StripeItemDetails | None = None


class StripePriceDetails(Payload, frozen=True):
    price: str | None = None  # an id: the price is not embedded in a line


class StripePricing(Payload, frozen=True):
    price_details: StripePriceDetails | None = None


class StripeLine(Payload, frozen=True):
    id: str
    amount: int
    period: StripePeriod
    quantity: int | None = None
    parent: StripeLineParent | None = None
    pricing: StripePricing | None = None
    discounts: list[str | StripeDiscount] = []  # the item-level ones, ids unless expanded


class StripeTransitions(Payload, frozen=True):
    paid_at: int | None = None
    marked_uncollectible_at: int | None = None


class StripeSubscriptionDetails(Payload, frozen=True):
    subscription: str | None = None
    subscription_item: str | None = None  # on an invoice item


class StripeInvoiceParent(Payload, frozen=True):
    subscription_details: StripeSubscriptionDetails | None = None


class StripeInvoice(Payload, frozen=True):
    id: str
    status: str | None
    lines: Page[StripeLine]
    created: int = 0
    billing_reason: str | None = None
    discounts: list[str | StripeDiscount] = []  # the subscription-level ones
    status_transitions: StripeTransitions | None = None
    parent: StripeInvoiceParent | None = None


class StripeInvoiceItem(Payload, frozen=True):
    """A pending invoice item (GET /v1/invoiceitems?pending=true): a line not yet billed."""

    id: str
    amount: int
    period: StripePeriod
    quantity: int = 1
    proration: bool = False
    pricing: StripePricing | None = None
    parent: StripeInvoiceParent | None = None
    invoice: str | None = None
    discounts: list[str | StripeDiscount] | None = None  # stripe-python types it Optional
    date: int = 0


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
