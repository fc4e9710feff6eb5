"""Small builders for ffkpi's domain values and configs, so tests read like the spec."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ffkpi.config import Config
from ffkpi.engine.model import (
    Coupon,
    Discount,
    Interval,
    Item,
    Price,
    PriceAmount,
    Status,
    Subscription,
    Tier,
)

_counter = iter(range(10**9))


def next_id(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def price(
    unit_amount: int | str | None = 2000,
    *,
    interval: Interval = "month",
    count: int = 1,
    product: str = "prod_a",
    currency: str = "usd",
    tiers: Sequence[tuple[int | None, int, int]] | None = None,
    tiers_mode: str | None = None,
    metered: bool = False,
    divide_by: int | None = None,
    round_up: bool = False,
    options: dict[str, int] | None = None,
) -> Price:
    """A price in minor units; tiers as (up_to, unit_amount, flat_amount)."""
    tier_values = (
        None
        if tiers is None
        else tuple(Tier(up, Decimal(unit), Decimal(flat)) for up, unit, flat in tiers)
    )
    unit = None if unit_amount is None or tiers is not None else Decimal(unit_amount)
    amounts = {currency: PriceAmount(unit, tier_values)}
    for other, amount in (options or {}).items():
        amounts[other] = PriceAmount(Decimal(amount), None)
    return Price(
        id=next_id("price"),
        product_id=product,
        currency=currency,
        billing_scheme="tiered" if tiers is not None else "per_unit",
        tiers_mode=tiers_mode or ("graduated" if tiers is not None else None),  # type: ignore[arg-type]
        amounts=amounts,
        interval=interval,
        interval_count=count,
        metered=metered,
        divide_by=divide_by,
        round_up=round_up,
    )


def coupon(
    *,
    percent_off: str | int | None = None,
    amount_off: int | None = None,
    currency: str | None = "usd",
    duration: str = "forever",
    options: dict[str, int] | None = None,
    applies_to: Sequence[str] | None = None,
) -> Coupon:
    return Coupon(
        id=next_id("coupon"),
        duration=duration,  # type: ignore[arg-type]
        percent_off=None if percent_off is None else Decimal(percent_off),
        amount_off=amount_off,
        currency=currency if amount_off is not None else None,
        amount_off_options=options or {},
        applies_to=None if applies_to is None else frozenset(applies_to),
    )


def discount(c: Coupon, end: int | None = None) -> Discount:
    return Discount(id=next_id("di"), coupon=c, end=end)


def item(
    p: Price,
    quantity: int = 1,
    *,
    discounts: Sequence[Discount] = (),
    trial_end: int | None = None,
    item_id: str | None = None,
) -> Item:
    return Item(
        id=item_id or next_id("si"),
        price=p,
        quantity=quantity,
        discounts=tuple(discounts),
        trial_end=trial_end,
    )


def sub(
    *items: Item,
    status: Status = "active",
    currency: str = "usd",
    discounts: Sequence[Discount] = (),
    customer: str | None = None,
    cancel_at_period_end: bool = False,
    cancel_at: int | None = None,
    paused: bool = False,
    sub_id: str | None = None,
) -> Subscription:
    return Subscription(
        id=sub_id or next_id("sub"),
        customer=customer or next_id("cus"),
        status=status,
        currency=currency,
        items=items or (item(price()),),
        discounts=tuple(discounts),
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=cancel_at,
        pause_collection=paused,
    )


def config(
    *,
    rule: str = "net",
    products: Sequence[str] = ("prod_a", "prod_b", "prod_c"),
    currency: str = "usd",
    fx: dict[str, str] | None = None,
    tiers: list[dict[str, Any]] | None = None,
    **policy: Any,
) -> Config:
    """One tier named "Main" over `products` unless `tiers` is given."""
    return Config.model_validate(
        {
            "currency": currency,
            "fx": fx or {},
            "policy": policy,
            "tiers": tiers
            or [{"name": "Main", "rule": rule, "products": [{"id": p} for p in products]}],
        }
    )
