"""The rules of docs/mrr-rules.md: subscriptions + config + as-of date -> one Report.

Pure: no I/O, no clock, no environment. Amounts stay Decimal at full precision; rounding
happens only where a report is rendered or stored.
"""

import calendar
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Literal

from ffkpi.config import Config
from ffkpi.errors import ConfigError, InputError
from ffkpi.model import Dataset, Price, Subscription
from ffkpi.money import to_major
from ffkpi.pricing import ZERO, charge, latest_metered, net_amounts, per_month

Rule = Literal["net", "list_price"]
TWELVE = Decimal(12)
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

    Counted up while computing, read-only once in a Report. Each count but `statuses`
    is one of REASONS.
    """

    statuses: dict[str, int] = field(default_factory=dict)
    scheduled_cancellation: int = 0
    paused_collection: int = 0
    zero_mrr: int = 0
    trialing_items: int = 0
    metered_items: int = 0
    metered_items_without_invoice: int = 0

    def counts(self) -> list[tuple["Reason", int]]:
        """Each reason with its count, in REASONS' order (zeros included)."""
        return [(reason, getattr(self, reason.key)) for reason in REASONS]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a subscription or an item counts 0, in the words of each place that says it."""

    key: str  # the Exclusions field, and the key under "excluded" in JSON and snapshots
    item: bool  # an item of a subscription that counts, not the subscription
    caption: str  # the report table's caption: "<count> <caption>"
    finding: str  # `ffkpi check`: "<count> <finding>"
    warn: bool = False  # a warning in `ffkpi check`: money the report may be missing


STATUS_REASON = "status"  # not a Reason: its count goes to Exclusions.statuses
REASONS = (
    Reason(
        "scheduled_cancellation",
        False,
        "scheduled to cancel",
        "subscriptions scheduled to cancel: count 0",
    ),
    Reason(
        "paused_collection",
        False,
        "with collection paused",
        "subscriptions with collection paused: count 0",
    ),
    Reason(
        "zero_mrr",
        False,
        "at 0 after discounts and trials",
        "subscriptions at 0 after discounts and trials",
    ),
    Reason(
        "trialing_items", True, "in a trial of their own", "items in a trial of their own: count 0"
    ),
    Reason(
        "metered_items",
        True,
        'metered (policy metered = "exclude")',
        'metered items left out (policy metered = "exclude"; "last_invoice" counts them)',
        warn=True,
    ),
    Reason(
        "metered_items_without_invoice",
        True,
        "metered with no finalized invoice yet",
        "metered items with no finalized invoice yet: count 0",
        warn=True,
    ),
)


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
    """Apply the MRR rules to every subscription; see docs/mrr-rules.md."""
    with localcontext(prec=PRECISION):
        run = _Run(config, data, as_of)
        seen: set[str] = set()
        for sub in data.subscriptions:
            if sub.id in seen:
                raise InputError(
                    f"subscription {sub.id} appears twice in the input",
                    "remove the duplicate, or fetch the data again",
                )
            seen.add(sub.id)
            run.count(sub)
        return run.report()


class _Run:
    """One report being computed: the config resolved once, and the totals so far."""

    def __init__(self, config: Config, data: Dataset, as_of: date) -> None:
        self.config = config
        self.policy = config.policy
        self.as_of = as_of
        self.cutoff = end_of_day(as_of)
        self.names = data.product_names
        self.listing = _resolve(config, data.product_names)
        self.statuses = frozenset(self.policy.statuses)
        self.metered = (
            latest_metered(data.invoice_lines) if self.policy.metered == "last_invoice" else {}
        )
        rules = [tier.rule for tier in config.tiers]
        self.tier_of = self.listing.tier_of
        self.at_list_price = {p for p, t in self.tier_of.items() if rules[t] == "list_price"}
        self.products: dict[str, _Bucket] = {}
        self.tier_subscriptions = [0] * len(config.tiers)
        self.customers: dict[str, Decimal] = {}
        self.excluded = Exclusions()
        # Many subscriptions share a price and quantity, and every currency one rate.
        self._monthly: dict[tuple[str, str, int], Decimal] = {}
        self._factors: dict[str, Decimal] = {}

    def count(self, sub: Subscription) -> None:
        """Add one subscription to the totals, or to the exclusions with its one reason."""
        reason = self._excluded(sub)
        if reason is not None:
            excluded = self.excluded
            if reason == STATUS_REASON:
                excluded.statuses[sub.status] = excluded.statuses.get(sub.status, 0) + 1
            else:
                setattr(excluded, reason, getattr(excluded, reason) + 1)
            return
        listed, quantities, discounted = self._listed(sub)
        net = net_amounts(sub, listed, self.policy, self.cutoff) if discounted else listed
        per_product = self._per_product(sub, listed, net, quantities)
        for amount, _ in per_product.values():
            if amount > 0:
                self._add(sub, per_product)
                return
        self.excluded.zero_mrr += 1

    def _excluded(self, sub: Subscription) -> str | None:
        """Why the whole subscription counts 0 (a Reason's key, or STATUS_REASON)."""
        if sub.status not in self.statuses:
            return STATUS_REASON
        if sub.cancel_at_period_end or sub.cancel_at is not None:
            ended = sub.cancel_at is not None and sub.cancel_at <= self.cutoff
            if self.policy.scheduled_cancellations == "exclude" or ended:
                return "scheduled_cancellation"
        if sub.pause_collection and self.policy.paused_collection == "exclude":
            return "paused_collection"
        return None

    def _listed(self, sub: Subscription) -> tuple[list[Decimal], list[int], bool]:
        """Each item's monthly amount at list price (minor units) and its quantity, and
        whether any discount is attached."""
        listed: list[Decimal] = []
        quantities: list[int] = []
        discounted = bool(sub.discounts)
        cutoff = self.cutoff
        monthly = self._monthly
        for item in sub.items:
            price = item.price
            quantity = item.quantity
            discounted = discounted or bool(item.discounts)
            if item.trial_end is not None and item.trial_end > cutoff:
                self.excluded.trialing_items += 1
                amount = ZERO
            elif price.metered:
                billed = self.metered.get(item.id)
                if billed is not None:
                    # Stripe has no quantity for a metered item: use the invoiced one.
                    quantity = billed.quantity
                    amount = per_month(billed.amount, price.interval, price.interval_count)
                else:
                    amount = ZERO
                    if self.policy.metered == "last_invoice":
                        self.excluded.metered_items_without_invoice += 1
                    else:
                        self.excluded.metered_items += 1
            else:
                key = (price.id, sub.currency, quantity)
                cached = monthly.get(key)
                if cached is None:
                    cached = monthly[key] = _monthly(sub, price, quantity)
                amount = cached
            listed.append(amount)
            quantities.append(quantity)
        return listed, quantities, discounted

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

    def _add(self, sub: Subscription, per_product: dict[str, tuple[Decimal, int]]) -> None:
        """Add a counted subscription to its products, tiers and customer."""
        factor = self._factors.get(sub.currency)
        if factor is None:
            factor = self._factors[sub.currency] = _factor(self.config, sub)
        products = self.products
        tier_of = self.tier_of
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
            self.tier_subscriptions[t] += 1
        if in_tiers > 0:
            customers = self.customers
            customers[sub.customer] = customers.get(sub.customer, ZERO) + in_tiers

    def report(self) -> Report:
        tiers: list[TierReport] = []
        for t, tier in enumerate(self.config.tiers):
            rows = tuple(
                _row(listed_id, name, self.products.get(listed_id) if listed_id else None)
                for listed_id, name in self.listing.rows[t]
            )
            tiers.append(
                TierReport(
                    name=tier.name,
                    rule=tier.rule,
                    mrr=sum((row.mrr for row in rows), ZERO),
                    subscriptions=self.tier_subscriptions[t],
                    quantity=sum(row.quantity for row in rows),
                    products=rows,
                )
            )
        unlisted = sorted(
            (
                _row(product_id, self.names.get(product_id, product_id), bucket)
                for product_id, bucket in self.products.items()
                if product_id not in self.tier_of
            ),
            key=lambda row: (-row.mrr, row.name),
        )
        excluded = dataclasses.replace(
            self.excluded, statuses=dict(sorted(self.excluded.statuses.items()))
        )
        return Report(
            as_of=self.as_of,
            currency=self.config.currency,
            mrr=sum((tier.mrr for tier in tiers), ZERO),
            tiers=tuple(tiers),
            unlisted=tuple(unlisted),
            customers=self.customers,
            excluded=dataclasses.replace(
                excluded, statuses=dict(sorted(excluded.statuses.items()))
            ),
        )


def _row(product_id: str | None, name: str, bucket: _Bucket | None) -> ProductRow:
    if bucket is None:
        return ProductRow(product_id, name, ZERO, 0, 0)
    return ProductRow(product_id, name, bucket.mrr, bucket.subscriptions, bucket.quantity)
