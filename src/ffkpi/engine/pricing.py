"""One subscription's amounts by the rules of docs/mrr-rules.md: a price at a quantity,
normalised to a month, then its discounts. Pure; amounts in minor units, full precision."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ffkpi.config import Policy
from ffkpi.engine.model import Coupon, Discount, InvoiceLine, Price, PriceAmount, Subscription

ZERO = Decimal(0)
FINALIZED = frozenset({"open", "paid"})


def per_month(amount: Decimal, interval: str, count: int) -> Decimal:
    """An amount charged every `count` intervals, normalised to one month."""
    if interval == "month":
        return amount / count
    if interval == "year":
        return amount / (12 * count)
    if interval == "week":
        return amount * 52 / (12 * count)
    return amount * 365 / (12 * count)  # day


def charge(price: Price, amount: PriceAmount, quantity: int) -> Decimal:
    """What one billing period of `price` costs at `quantity`, in minor units."""
    if price.divide_by:
        whole, rest = divmod(quantity, price.divide_by)
        quantity = whole + 1 if rest and price.round_up else whole
    if price.billing_scheme == "per_unit":
        return (amount.unit_amount or ZERO) * quantity
    tiers = amount.tiers or ()
    if quantity <= 0:
        return ZERO  # no units, no tier touched: nothing is billed
    if price.tiers_mode == "volume":
        for tier in tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                return tier.unit_amount * quantity + tier.flat_amount
        return ZERO
    total = ZERO
    billed = 0
    for tier in tiers:
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if top <= billed:
            break
        total += tier.unit_amount * (top - billed) + tier.flat_amount
        billed = top
    return total


@dataclass(frozen=True, slots=True)
class Metered:
    """What a metered item was last billed: the amount and the quantity on that invoice."""

    amount: Decimal
    quantity: int


def latest_metered(lines: Iterable[InvoiceLine]) -> dict[str, Metered]:
    """Each subscription item's line on its newest finalized invoice (by line period end).

    Drafts and voided invoices never count; lines of the newest period are added up.
    """
    best: dict[str, tuple[int, int, int]] = {}
    for line in lines:
        if line.invoice_status not in FINALIZED:
            continue
        seen = best.get(line.subscription_item)
        if seen is None or line.period_end > seen[0]:
            best[line.subscription_item] = (line.period_end, line.amount, line.quantity)
        elif line.period_end == seen[0]:
            best[line.subscription_item] = (
                seen[0],
                seen[1] + line.amount,
                seen[2] + line.quantity,
            )
    return {item: Metered(Decimal(amount), qty) for item, (_, amount, qty) in best.items()}


def newest_lines(lines: Iterable[InvoiceLine]) -> list[InvoiceLine]:
    """The lines latest_metered reads of `lines` (each item's finalized lines of its
    newest period), in their order: latest_metered gives the same on them alone. What a
    streamed read keeps of a subscription's invoices."""
    newest: dict[str, int] = {}
    finalized = [line for line in lines if line.invoice_status in FINALIZED]
    for line in finalized:
        newest[line.subscription_item] = max(newest.get(line.subscription_item, 0), line.period_end)
    return [line for line in finalized if line.period_end == newest[line.subscription_item]]


def _discount_applies(discount: Discount, policy: Policy, cutoff: int) -> bool:
    if discount.end is not None and discount.end <= cutoff:
        return False
    if policy.discounts == "none":
        return False
    return discount.coupon.duration == "forever" or policy.discounts == "all"


def _amount_off(coupon: Coupon, currency: str) -> int | None:
    if coupon.amount_off is None:
        return None
    if coupon.currency == currency:
        return coupon.amount_off
    return coupon.amount_off_options.get(currency)  # another currency with no option: no effect


def _apply(
    amounts: list[Decimal],
    indices: Sequence[int],
    coupon: Coupon,
    currency: str,
    interval: str,
    interval_count: int,
) -> None:
    """Reduce amounts[indices] by one discount, spread in proportion to their amounts."""
    subtotal = sum((amounts[i] for i in indices), ZERO)
    if subtotal <= 0:
        return
    if coupon.percent_off is not None:
        keep = max(ZERO, 1 - coupon.percent_off / 100)
        for i in indices:
            amounts[i] *= keep
        return
    off = _amount_off(coupon, currency)
    if off is None:
        return
    # amount_off is per billing period: normalise it like the price it discounts.
    reduction = per_month(Decimal(off), interval, interval_count)
    if reduction >= subtotal:
        for i in indices:
            amounts[i] = ZERO  # a subscription's MRR floors at 0
        return
    for i in indices:
        amounts[i] -= reduction * amounts[i] / subtotal


def net_amounts(
    sub: Subscription, listed: list[Decimal], policy: Policy, cutoff: int
) -> list[Decimal]:
    """Each item's amount after the discounts that apply at `cutoff`."""
    amounts = list(listed)
    for i, item in enumerate(sub.items):
        for discount in item.discounts:
            coupon = discount.coupon
            if _discount_applies(discount, policy, cutoff) and (
                coupon.applies_to is None or item.price.product_id in coupon.applies_to
            ):
                price = item.price
                _apply(amounts, (i,), coupon, sub.currency, price.interval, price.interval_count)
    if not sub.discounts:
        return amounts
    licensed = [i for i, item in enumerate(sub.items) if not item.price.metered]
    if not licensed:
        return amounts
    # Every item of a subscription bills on one interval; amount_off follows it.
    first = sub.items[licensed[0]].price
    for discount in sub.discounts:
        if not _discount_applies(discount, policy, cutoff):
            continue
        coupon = discount.coupon
        targets = (
            licensed
            if coupon.applies_to is None
            else [i for i in licensed if sub.items[i].price.product_id in coupon.applies_to]
        )
        _apply(amounts, targets, coupon, sub.currency, first.interval, first.interval_count)
    return amounts
