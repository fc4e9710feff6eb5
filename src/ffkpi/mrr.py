"""The rules of spec/mrr-rules.md: subscriptions + config + as-of date -> one Report.

Pure: no I/O, no clock, no environment. Amounts stay Decimal at full precision; rounding
happens only where a report is rendered or stored.
"""

import calendar
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any, Literal

from ffkpi.config import Config, Policy
from ffkpi.errors import ConfigError, InputError
from ffkpi.model import Coupon, Dataset, Discount, InvoiceLine, Price, PriceAmount, Subscription
from ffkpi.money import format_money, to_major

Rule = Literal["net", "list_price"]
ZERO = Decimal(0)
TWELVE = Decimal(12)
FINALIZED = frozenset({"open", "paid"})
PRECISION = 34  # significant digits while computing: decimal128, well past any cent


@dataclass(frozen=True, slots=True)
class ProductRow:
    id: str | None  # None: a product named in the config that the data does not hold
    name: str
    mrr: Decimal
    subscriptions: int
    quantity: int

    @property
    def arr(self) -> Decimal:
        return self.mrr * TWELVE


@dataclass(frozen=True, slots=True)
class TierReport:
    name: str
    rule: Rule
    mrr: Decimal
    subscriptions: int
    quantity: int
    products: tuple[ProductRow, ...]

    @property
    def arr(self) -> Decimal:
        return self.mrr * TWELVE


@dataclass(slots=True)
class Exclusions:
    """Subscriptions (and items) that count 0, and why: what the report leaves out.

    Counted up while computing, read-only once in a Report.
    """

    statuses: dict[str, int] = field(default_factory=dict)
    scheduled_cancellation: int = 0
    paused_collection: int = 0
    zero_mrr: int = 0
    trialing_items: int = 0
    metered_items: int = 0
    metered_items_without_invoice: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    as_of: date
    currency: str
    mrr: Decimal
    tiers: tuple[TierReport, ...]
    unlisted: tuple[ProductRow, ...]
    customers: Mapping[str, Decimal]  # each customer's MRR within the tiers
    excluded: Exclusions

    @property
    def arr(self) -> Decimal:
        return self.mrr * TWELVE


def end_of_day(as_of: date) -> int:
    """The instant (Unix seconds, UTC) the as-of day ends: the report describes that moment."""
    return calendar.timegm((as_of + timedelta(days=1)).timetuple())


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


def _net(sub: Subscription, listed: list[Decimal], policy: Policy, cutoff: int) -> list[Decimal]:
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


@dataclass(slots=True)
class _Bucket:
    mrr: Decimal = ZERO
    subscriptions: int = 0
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class _Listing:
    """Which tier each product id belongs to, and the rows the config asks for."""

    tier_of: Mapping[str, int]
    rows: tuple[tuple[tuple[str | None, str], ...], ...]  # per tier: (product id, name)


def _resolve(config: Config, names: Mapping[str, str]) -> _Listing:
    ids_by_name: dict[str, list[str]] = {}
    for known_id, known_name in names.items():
        ids_by_name.setdefault(known_name, []).append(known_id)
    tier_of: dict[str, int] = {}
    rows: list[tuple[tuple[str | None, str], ...]] = []
    for t, tier in enumerate(config.tiers):
        tier_rows: list[tuple[str | None, str]] = []
        for ref in tier.products:
            if ref.id:
                product_id: str | None = ref.id
                name = ref.name or names.get(ref.id, ref.id)
            else:
                assert ref.name is not None  # a ProductRef has an id or a name
                name = ref.name
                matches = sorted(ids_by_name.get(name, ()))
                if len(matches) > 1:
                    raise ConfigError(
                        f"tier {tier.name!r}: product name {name!r} matches "
                        f"{len(matches)} products ({', '.join(matches)})",
                        "list the product by id instead",
                    )
                product_id = matches[0] if matches else None
            if product_id is not None:
                if product_id in tier_of:
                    other = config.tiers[tier_of[product_id]].name
                    raise ConfigError(
                        f"product {product_id} ({name}) is listed in tier {other!r} and in "
                        f"tier {tier.name!r}",
                        "a product belongs to one tier; remove one of the entries",
                    )
                tier_of[product_id] = t
            tier_rows.append((product_id, name))
        rows.append(tuple(tier_rows))
    return _Listing(tier_of, tuple(rows))


def _monthly(sub: Subscription, price: Price, quantity: int) -> Decimal:
    amount = price.amounts.get(sub.currency)
    if amount is None:
        raise InputError(
            f"subscription {sub.id}: price {price.id} has no amount in "
            f"{sub.currency.upper()}, the subscription's currency",
            "include the price's currency_options in the input",
        )
    return per_month(charge(price, amount, quantity), price.interval, price.interval_count)


def _factor(config: Config, sub: Subscription) -> Decimal:
    """Reporting-currency major units per minor unit of the subscription's currency."""
    rate = config.rate(sub.currency)
    if rate is None:
        code = sub.currency.upper()
        raise ConfigError(
            f"no exchange rate for {code} (subscription {sub.id} is billed in {code})",
            f'add {sub.currency} = "<rate>" under [fx] in the config: '
            f"1 {code} = <rate> {config.currency.upper()}",
        )
    return to_major(rate, sub.currency)


def compute_report(data: Dataset, config: Config, as_of: date) -> Report:
    """Apply the MRR rules to every subscription; see spec/mrr-rules.md."""
    with localcontext(prec=PRECISION):
        return _compute(data, config, as_of)


def _compute(data: Dataset, config: Config, as_of: date) -> Report:
    policy = config.policy
    cutoff = end_of_day(as_of)
    listing = _resolve(config, data.product_names)
    rules: list[Rule] = [tier.rule for tier in config.tiers]
    statuses = frozenset(policy.statuses)
    metered = latest_metered(data.invoice_lines) if policy.metered == "last_invoice" else {}
    products: dict[str, _Bucket] = {}
    tier_subscriptions = [0] * len(config.tiers)
    customers: dict[str, Decimal] = {}
    counts = Exclusions()
    seen: set[str] = set()
    tier_of = listing.tier_of
    at_list_price = {p for p, t in tier_of.items() if rules[t] == "list_price"}
    # Many subscriptions share a price and quantity, and every currency one rate.
    monthly: dict[tuple[str, str, int], Decimal] = {}
    monthly_get = monthly.get
    factors: dict[str, Decimal] = {}

    for sub in data.subscriptions:
        if sub.id in seen:
            raise InputError(
                f"subscription {sub.id} appears twice in the input",
                "remove the duplicate, or fetch the data again",
            )
        seen.add(sub.id)
        if sub.status not in statuses:
            counts.statuses[sub.status] = counts.statuses.get(sub.status, 0) + 1
            continue
        if sub.cancel_at_period_end or sub.cancel_at is not None:
            ended = sub.cancel_at is not None and sub.cancel_at <= cutoff
            if policy.scheduled_cancellations == "exclude" or ended:
                counts.scheduled_cancellation += 1
                continue
        if sub.pause_collection and policy.paused_collection == "exclude":
            counts.paused_collection += 1
            continue

        listed: list[Decimal] = []
        quantities: list[int] = []
        discounted = bool(sub.discounts)
        for item in sub.items:
            price = item.price
            quantity = item.quantity
            discounted = discounted or bool(item.discounts)
            if item.trial_end is not None and item.trial_end > cutoff:
                counts.trialing_items += 1
                amount = ZERO
            elif price.metered:
                billed = metered.get(item.id)
                if billed is not None:
                    # Stripe has no quantity for a metered item: use the invoiced one.
                    quantity = billed.quantity
                    amount = per_month(billed.amount, price.interval, price.interval_count)
                else:
                    amount = ZERO
                    if policy.metered == "last_invoice":
                        counts.metered_items_without_invoice += 1
                    else:
                        counts.metered_items += 1
            else:
                key = (price.id, sub.currency, quantity)
                cached = monthly_get(key)
                if cached is None:
                    cached = monthly[key] = _monthly(sub, price, quantity)
                amount = cached
            listed.append(amount)
            quantities.append(quantity)

        net = _net(sub, listed, policy, cutoff) if discounted else listed

        per_product: dict[str, tuple[Decimal, int]] = {}
        for i, item in enumerate(sub.items):
            product_id = item.price.product_id
            amount = listed[i] if product_id in at_list_price else net[i]
            so_far, quantity = per_product.get(product_id, (ZERO, 0))
            per_product[product_id] = (
                so_far + amount,
                quantity + (quantities[i] if amount > 0 else 0),
            )

        for amount, _ in per_product.values():
            if amount > 0:
                break
        else:
            counts.zero_mrr += 1
            continue
        factor = factors.get(sub.currency)
        if factor is None:
            factor = factors[sub.currency] = _factor(config, sub)
        counted_tiers: set[int] = set()
        in_tiers = ZERO
        for product, (amount, quantity) in per_product.items():
            if amount <= 0:
                continue
            major = amount * factor
            bucket = products.get(product)
            if bucket is None:
                bucket = products[product] = _Bucket()
            bucket.mrr += major
            bucket.subscriptions += 1
            bucket.quantity += quantity
            t = tier_of.get(product)
            if t is not None:
                counted_tiers.add(t)
                in_tiers += major
        for t in counted_tiers:
            tier_subscriptions[t] += 1
        if in_tiers > 0:
            customers[sub.customer] = customers.get(sub.customer, ZERO) + in_tiers

    tiers: list[TierReport] = []
    for t, tier in enumerate(config.tiers):
        rows = tuple(
            _row(listed_id, name, products.get(listed_id) if listed_id else None)
            for listed_id, name in listing.rows[t]
        )
        tiers.append(
            TierReport(
                name=tier.name,
                rule=tier.rule,
                mrr=sum((row.mrr for row in rows), ZERO),
                subscriptions=tier_subscriptions[t],
                quantity=sum(row.quantity for row in rows),
                products=rows,
            )
        )
    unlisted = sorted(
        (
            _row(product_id, data.product_names.get(product_id, product_id), bucket)
            for product_id, bucket in products.items()
            if product_id not in listing.tier_of
        ),
        key=lambda row: (-row.mrr, row.name),
    )
    return Report(
        as_of=as_of,
        currency=config.currency,
        mrr=sum((tier.mrr for tier in tiers), ZERO),
        tiers=tuple(tiers),
        unlisted=tuple(unlisted),
        customers=customers,
        excluded=dataclasses.replace(counts, statuses=dict(sorted(counts.statuses.items()))),
    )


def _row(product_id: str | None, name: str, bucket: _Bucket | None) -> ProductRow:
    if bucket is None:
        return ProductRow(product_id, name, ZERO, 0, 0)
    return ProductRow(product_id, name, bucket.mrr, bucket.subscriptions, bucket.quantity)


def _row_document(row: ProductRow, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "mrr": format_money(row.mrr, currency),
        "arr": format_money(row.arr, currency),
        "subscriptions": row.subscriptions,
        "quantity": row.quantity,
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain data, money rounded to the currency's digits: what JSON output
    and snapshot files hold."""
    cur = report.currency
    return {
        "as_of": report.as_of,
        "currency": cur,
        "mrr": format_money(report.mrr, cur),
        "arr": format_money(report.arr, cur),
        "tiers": [
            {
                "name": tier.name,
                "rule": tier.rule,
                "mrr": format_money(tier.mrr, cur),
                "arr": format_money(tier.arr, cur),
                "subscriptions": tier.subscriptions,
                "quantity": tier.quantity,
                "products": [_row_document(row, cur) for row in tier.products],
            }
            for tier in report.tiers
        ],
        "unlisted": [_row_document(row, cur) for row in report.unlisted],
        "excluded": dataclasses.asdict(report.excluded),
    }
