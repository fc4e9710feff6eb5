"""The rules of docs/mrr-rules.md: subscriptions + config + as-of date -> one Report.

Pure: no I/O, no clock, no environment. Amounts stay Decimal at full precision; rounding
happens only where a report is rendered or stored.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal

from ffkpi.config import Config
from ffkpi.engine.calendar import end_of_day
from ffkpi.engine.exact import EXACT, CustomerSums, exact_sum, shared, summed
from ffkpi.engine.exclusions import REASONS, STATUS_REASON, Exclusions
from ffkpi.engine.listing import resolve
from ffkpi.engine.model import Dataset, InvoiceLine, Price, Subscription
from ffkpi.engine.money import to_major
from ffkpi.engine.pricing import ZERO, Metered, charge, latest_metered, net_amounts, per_month
from ffkpi.errors import ConfigError, InputError

Rule = Literal["net", "list_price"]
TWELVE = Decimal(12)
# What one counted subscription adds: per product (id, MRR, quantity), per tier (index, MRR).
Shape = tuple[tuple[tuple[str, Decimal, int], ...], tuple[tuple[int, Decimal], ...]]
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


@dataclass(frozen=True, slots=True)
class Report:
    as_of: date
    currency: str
    mrr: Decimal
    tiers: tuple[TierReport, ...]
    unlisted: tuple[ProductRow, ...]
    # Each customer's MRR within each tier (config order), customers with MRR > 0 only;
    # None where the report was asked for its figures alone (compute_report).
    customer_tiers: Mapping[str, tuple[Decimal, ...]] | None
    customer_totals: Mapping[str, Decimal] | None  # the same summed over the tiers
    excluded: Exclusions

    @property
    def arr(self) -> Decimal:
        return self.mrr * TWELVE

    @property
    def customers(self) -> Mapping[str, Decimal]:
        """Each customer's MRR within the tiers."""
        if self.customer_totals is None:
            raise ValueError("a report of the figures alone keeps no customers")
        return self.customer_totals


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


def compute_report(
    data: Dataset,
    config: Config,
    as_of: date,
    *,
    customers: bool = True,
    sink: Callable[["Counted"], object] | None = None,
) -> Report:
    """Apply the MRR rules to every subscription; see docs/mrr-rules.md. Without
    `customers`, the report has the figures alone (Report.customer_tiers None): what
    `ffkpi mrr` shows, in memory that does not grow with the customers. `sink`: given
    each subscription as counted, too (where a caller keeps the customers itself)."""
    rules = Rules(config, data.product_names, data.invoice_lines)
    totals = Totals(rules, customers=customers)
    cutoff = end_of_day(as_of)
    if data.with_lines is None:
        each = (rules.count(sub, cutoff) for sub in data.subscriptions)
    else:  # each subscription with its own metered lines, none of the others held
        each = (rules.count(sub, cutoff, latest_metered(lines)) for sub, lines in data.with_lines())
    for counted in each:
        totals.add(counted)
        if sink is not None:
            sink(counted)
    if not customers:
        return totals.report(as_of, None)
    kept = totals.customers  # done adding: the report takes them as they are
    made: dict[int, Decimal] = {}
    return totals.report(as_of, (kept, {c: summed(v, made) for c, v in kept.items()}))


@dataclass(frozen=True, slots=True)
class Counted:
    """What one subscription adds to a report. Computed once, it can be added to any
    number of reports (the weeks a rebuilt subscription stays the same)."""

    status: str
    customer: str
    currency: str
    reason: str | None  # a Reason's key, STATUS_REASON or "zero_mrr"; None: it counts
    items_excluded: tuple[str, ...] = ()  # an item-level Reason's key per item at 0
    products: tuple[tuple[str, Decimal, int], ...] = ()  # id, MRR, quantity; MRR > 0
    tiers: tuple[tuple[int, Decimal], ...] = ()  # tier index, MRR within it; MRR > 0


class Rules:
    """The config resolved once against the data's products: counts one subscription
    at a time, in the reporting currency at full precision."""

    def __init__(
        self,
        config: Config,
        product_names: Mapping[str, str],
        invoice_lines: Iterable[InvoiceLine] = (),
    ) -> None:
        self.config = config
        self.policy = config.policy
        self.names = product_names
        self.listing = resolve(config, product_names)
        self.statuses = frozenset(self.policy.statuses)
        self.last_invoice = self.policy.metered == "last_invoice"
        self.metered = latest_metered(invoice_lines) if self.last_invoice else {}
        rules = [tier.rule for tier in config.tiers]
        self.tier_of = self.listing.tier_of
        self.at_list_price = {p for p, t in self.tier_of.items() if rules[t] == "list_price"}
        # Many subscriptions share a price and quantity, and every currency one rate.
        self._monthly: dict[tuple[str, str, int], Decimal] = {}
        self._factors: dict[str, Decimal] = {}
        self._shapes: dict[tuple[Shape, tuple[int | str, ...]], Shape] = {}

    def count(
        self, sub: Subscription, cutoff: int, metered: Mapping[str, Metered] | None = None
    ) -> Counted:
        """What `sub` adds to a report whose as-of day ends at `cutoff`; `metered`: the
        latest metered lines to use instead of the data's."""
        with localcontext(prec=PRECISION):
            reason = self._excluded(sub, cutoff)
            if reason is not None:
                return Counted(sub.status, sub.customer, sub.currency, reason)
            if not self.last_invoice:
                metered = {}  # metered items count 0, whatever they were billed
            listed, quantities, discounted, items_excluded = self._listed(
                sub, cutoff, self.metered if metered is None else metered
            )
            net = net_amounts(sub, listed, self.policy, cutoff) if discounted else listed
            per_product = self._per_product(sub, listed, net, quantities)
            if all(amount <= 0 for amount, _ in per_product.values()):
                return Counted(sub.status, sub.customer, sub.currency, "zero_mrr", items_excluded)
            return self._counted(sub, per_product, items_excluded)

    def _excluded(self, sub: Subscription, cutoff: int) -> str | None:
        """Why the whole subscription counts 0 (a Reason's key, or STATUS_REASON)."""
        if sub.status not in self.statuses:
            return STATUS_REASON
        if sub.cancel_at_period_end or sub.cancel_at is not None:
            ended = sub.cancel_at is not None and sub.cancel_at <= cutoff
            if self.policy.scheduled_cancellations == "exclude" or ended:
                return "scheduled_cancellation"
        if sub.pause_collection and self.policy.paused_collection == "exclude":
            return "paused_collection"
        return None

    def _listed(
        self, sub: Subscription, cutoff: int, metered: Mapping[str, Metered]
    ) -> tuple[list[Decimal], list[int], bool, tuple[str, ...]]:
        """Each item's monthly amount at list price (minor units) and its quantity,
        whether any discount is attached, and the items that count 0 and why."""
        listed: list[Decimal] = []
        quantities: list[int] = []
        excluded: list[str] = []
        discounted = bool(sub.discounts)
        monthly = self._monthly
        for item in sub.items:
            price = item.price
            quantity = item.quantity
            discounted = discounted or bool(item.discounts)
            if item.trial_end is not None and item.trial_end > cutoff:
                excluded.append("trialing_items")
                amount = ZERO
            elif price.metered:
                billed = metered.get(item.id)
                if billed is not None:
                    # Stripe has no quantity for a metered item: use the invoiced one.
                    quantity = billed.quantity
                    amount = per_month(billed.amount, price.interval, price.interval_count)
                else:
                    amount = ZERO
                    excluded.append(
                        "metered_items_without_invoice" if self.last_invoice else "metered_items"
                    )
            else:
                key = (price.id, sub.currency, quantity)
                cached = monthly.get(key)
                if cached is None:
                    cached = monthly[key] = _monthly(sub, price, quantity)
                amount = cached
            listed.append(amount)
            quantities.append(quantity)
        return listed, quantities, discounted, tuple(excluded)

    def _per_product(
        self, sub: Subscription, listed: list[Decimal], net: list[Decimal], quantities: list[int]
    ) -> dict[str, tuple[Decimal, int]]:
        """The subscription's amount and quantity per product, by each product's rule."""
        per_product: dict[str, tuple[Decimal, int]] = {}
        at_list_price = self.at_list_price
        for i, item in enumerate(sub.items):
            product_id = item.price.product_id
            amount = listed[i] if product_id in at_list_price else net[i]
            so_far, quantity = per_product.get(product_id, (ZERO, 0))
            per_product[product_id] = (
                so_far + amount,
                quantity + (quantities[i] if amount > 0 else 0),
            )
        return per_product

    def _counted(
        self,
        sub: Subscription,
        per_product: dict[str, tuple[Decimal, int]],
        items_excluded: tuple[str, ...],
    ) -> Counted:
        """A counted subscription's products and tiers, in the reporting currency."""
        factor = self._factors.get(sub.currency)
        if factor is None:
            factor = self._factors[sub.currency] = _factor(self.config, sub)
        products: list[tuple[str, Decimal, int]] = []
        tiers: dict[int, Decimal] = {}
        for product, (amount, quantity) in per_product.items():
            if amount <= 0:
                continue
            major = amount * factor
            products.append((product, major, quantity))
            t = self.tier_of.get(product)
            if t is not None:
                tiers[t] = EXACT.add(tiers.get(t, ZERO), major)
        # The many subscriptions that count alike (a rebuild holds every week's) share one.
        ranked = tuple(sorted(tiers.items()))
        mrrs = [*(mrr for _, mrr, _ in products), *(mrr for _, mrr in ranked)]
        shape = shared(self._shapes, (tuple(products), ranked), mrrs)
        return Counted(sub.status, sub.customer, sub.currency, None, items_excluded, *shape)


@dataclass(slots=True)
class _Bucket:
    mrr: Decimal = ZERO
    subscriptions: int = 0
    quantity: int = 0


class Totals:
    """A report being summed: Counted contributions added (or, with sign -1, taken
    away again)."""

    def __init__(self, rules: Rules, *, customers: bool = True) -> None:
        self.rules = rules
        self.keeps_customers = customers  # False: each customer's MRR is not kept
        self.products: dict[str, _Bucket] = {}
        self.tier_subscriptions = [0] * len(rules.config.tiers)
        self.sums = CustomerSums(len(rules.config.tiers))
        self.customers = self.sums.customers
        self.statuses: dict[str, int] = {}
        self.reasons: dict[str, int] = {}

    def add(self, counted: Counted, sign: int = 1) -> None:
        reasons = self.reasons
        for key in counted.items_excluded:
            reasons[key] = reasons.get(key, 0) + sign
        if counted.reason == STATUS_REASON:
            self.statuses[counted.status] = self.statuses.get(counted.status, 0) + sign
            return
        if counted.reason is not None:
            reasons[counted.reason] = reasons.get(counted.reason, 0) + sign
            return
        add = EXACT.add if sign > 0 else EXACT.subtract
        products = self.products
        for product, mrr, quantity in counted.products:
            bucket = products.get(product)
            if bucket is None:
                bucket = products[product] = _Bucket()
            bucket.mrr = add(bucket.mrr, mrr)
            bucket.subscriptions += sign
            bucket.quantity += sign * quantity
        if not counted.tiers:
            return
        for t, _ in counted.tiers:
            self.tier_subscriptions[t] += sign
        if self.keeps_customers:
            self.sums.add(counted.customer, counted.tiers, sign)

    def report(
        self,
        as_of: date,
        customers: tuple[Mapping[str, tuple[Decimal, ...]], Mapping[str, Decimal]] | None,
    ) -> Report:
        """The report so far, with `customers`: each one's MRR per tier and in all tiers,
        where the caller keeps them (a rebuild's ledger; compute_report, done adding,
        these Totals' own), never copied; None: the figures alone."""
        config = self.rules.config
        listing = self.rules.listing
        products = {k: b for k, b in self.products.items() if b.subscriptions}
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
                    mrr=exact_sum(row.mrr for row in rows),
                    subscriptions=self.tier_subscriptions[t],
                    quantity=sum(row.quantity for row in rows),
                    products=rows,
                )
            )
        names = self.rules.names
        unlisted = sorted(
            (
                _row(product_id, names.get(product_id, product_id), bucket)
                for product_id, bucket in products.items()
                if product_id not in listing.tier_of
            ),
            key=lambda row: (-row.mrr, row.name),
        )
        reasons = self.reasons
        excluded = Exclusions(
            statuses={k: n for k, n in sorted(self.statuses.items()) if n},
            **{reason.key: reasons.get(reason.key, 0) for reason in REASONS},
        )
        return Report(
            as_of=as_of,
            currency=config.currency,
            mrr=exact_sum(tier.mrr for tier in tiers),
            tiers=tuple(tiers),
            unlisted=tuple(unlisted),
            customer_tiers=None if customers is None else customers[0],
            customer_totals=None if customers is None else customers[1],
            excluded=excluded,
        )


def _row(product_id: str | None, name: str, bucket: _Bucket | None) -> ProductRow:
    if bucket is None:
        return ProductRow(product_id, name, ZERO, 0, 0)
    return ProductRow(product_id, name, bucket.mrr, bucket.subscriptions, bucket.quantity)
