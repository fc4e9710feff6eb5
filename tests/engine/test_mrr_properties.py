"""Properties of the MRR engine over random subscriptions (Hypothesis)."""

import dataclasses
from datetime import date
from decimal import Decimal, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import config, coupon, discount, item, price, sub
from ffkpi.engine.exact import EXACT
from ffkpi.engine.model import Dataset, Item, Subscription
from ffkpi.engine.mrr import Report, Rules, compute_report, end_of_day
from ffkpi.render import report_dict

AS_OF = date(2026, 11, 22)
CUTOFF = end_of_day(AS_OF)
TOLERANCE = Decimal("1e-20")
PRODUCTS = ["prod_a", "prod_b", "prod_c", "prod_x"]  # prod_x is in no tier
TIER_CONFIG = [
    {"name": "Starter", "rule": "list_price", "products": [{"id": "prod_a"}]},
    {"name": "Team", "rule": "net", "products": [{"id": "prod_b"}, {"id": "prod_c"}]},
]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

intervals = st.sampled_from(["day", "week", "month", "year"])
amounts = st.integers(min_value=0, max_value=500_000)
currencies = st.sampled_from(["usd", "usd", "eur"])


@st.composite
def prices(draw: st.DrawFn, currency: str, *, per_unit_only: bool = False) -> object:
    product = draw(st.sampled_from(PRODUCTS))
    interval = draw(intervals)
    count = draw(st.integers(min_value=1, max_value=3))
    if not per_unit_only and draw(st.booleans()):
        bounds = sorted(draw(st.sets(st.integers(1, 30), min_size=1, max_size=3)))
        tiers = [(up, draw(amounts), draw(st.integers(0, 5000))) for up in bounds]
        tiers.append((None, draw(amounts), draw(st.integers(0, 5000))))
        mode = draw(st.sampled_from(["graduated", "volume"]))
        return price(
            tiers=tiers,
            tiers_mode=mode,
            product=product,
            interval=interval,
            count=count,
            currency=currency,
        )
    return price(
        draw(amounts),
        product=product,
        interval=interval,
        count=count,
        currency=currency,
        metered=not per_unit_only and draw(st.integers(0, 9)) == 0,
    )


@st.composite
def discounts(draw: st.DrawFn) -> object:
    duration = draw(st.sampled_from(["forever", "once", "repeating"]))
    end = draw(st.none() | st.integers(CUTOFF - 100 * 86_400, CUTOFF + 100 * 86_400))
    applies_to = draw(st.none() | st.lists(st.sampled_from(PRODUCTS), max_size=2))
    if draw(st.booleans()):
        c = coupon(percent_off=draw(st.integers(1, 100)), duration=duration, applies_to=applies_to)
    else:
        c = coupon(
            amount_off=draw(st.integers(1, 200_000)),
            currency=draw(currencies),
            duration=duration,
            applies_to=applies_to,
        )
    return discount(c, end=end)


@st.composite
def subscriptions(draw: st.DrawFn, *, discount_free: bool = False) -> Subscription:
    currency = draw(currencies)
    n_items = draw(st.integers(1, 4))
    items = []
    for _ in range(n_items):
        p = draw(prices(currency, per_unit_only=discount_free))
        item_discounts = [] if discount_free else draw(st.lists(discounts(), max_size=1))
        trial = None if discount_free else draw(st.none() | st.just(CUTOFF + 86_400))
        items.append(item(p, draw(st.integers(0, 25)), discounts=item_discounts, trial_end=trial))
    return sub(
        *items,
        status=draw(st.sampled_from(["active", "active", "past_due", "trialing", "canceled"])),
        currency=currency,
        customer=draw(st.sampled_from(["cus_1", "cus_2", "cus_3", "cus_4"])),
        discounts=[] if discount_free else draw(st.lists(discounts(), max_size=3)),
        cancel_at_period_end=not discount_free and draw(st.integers(0, 9)) == 0,
    )


def compute(subs: list[Subscription], **policy: object) -> Report:
    cfg = config(tiers=TIER_CONFIG, fx={"eur": "1.0837"}, **policy)
    return compute_report(Dataset(tuple(subs)), cfg, AS_OF)


policies = st.fixed_dictionaries(
    {
        "discounts": st.sampled_from(["forever", "all", "none"]),
        "scheduled_cancellations": st.sampled_from(["exclude", "count"]),
    }
)


@SETTINGS
@given(st.lists(subscriptions(), max_size=12), policies)
def test_arr_is_twelve_times_unrounded_mrr(subs: list[Subscription], policy: dict) -> None:
    report = compute(subs, **policy)
    assert report.arr == report.mrr * 12
    for tier in report.tiers:
        assert tier.arr == tier.mrr * 12


@SETTINGS
@given(st.lists(subscriptions(), max_size=12), policies)
def test_tiers_add_up_to_mrr_and_products_to_their_tier(
    subs: list[Subscription], policy: dict
) -> None:
    report = compute(subs, **policy)
    with localcontext(EXACT):  # sums are exact, not rounded
        assert sum(tier.mrr for tier in report.tiers) == report.mrr
        for tier in report.tiers:
            assert sum(row.mrr for row in tier.products) == tier.mrr
            assert tier.subscriptions <= sum(row.subscriptions for row in tier.products)


@SETTINGS
@given(st.lists(subscriptions(), max_size=12), policies)
def test_whole_is_the_sum_of_each_subscription_alone(
    subs: list[Subscription], policy: dict
) -> None:
    whole = compute(subs, **policy)
    alone = [compute([s], **policy) for s in subs]
    with localcontext(EXACT):  # sums are exact: the whole is the sum of its parts
        assert whole.mrr == sum((r.mrr for r in alone), Decimal(0))
        unlisted = sum((row.mrr for row in whole.unlisted), Decimal(0))
        assert unlisted == sum((row.mrr for r in alone for row in r.unlisted), Decimal(0))
        assert sum(whole.customers.values(), Decimal(0)) == whole.mrr
    assert whole.tiers[1].subscriptions == sum(r.tiers[1].subscriptions for r in alone)


@SETTINGS
@given(st.lists(subscriptions(), max_size=12), policies)
def test_a_report_without_its_customers_has_the_same_figures(
    subs: list[Subscription], policy: dict
) -> None:
    """`ffkpi mrr` keeps no customer: the figures are those of the report that does."""
    cfg = config(tiers=TIER_CONFIG, fx={"eur": "1.0837"}, **policy)
    whole = compute_report(Dataset(tuple(subs)), cfg, AS_OF)
    alone = compute_report(Dataset(tuple(subs)), cfg, AS_OF, customers=False)
    assert alone == dataclasses.replace(whole, customer_tiers=None, customer_totals=None)
    assert report_dict(alone) == report_dict(whole)
    with pytest.raises(ValueError, match="keeps no customers"):
        alone.customers  # noqa: B018


@SETTINGS
@given(st.lists(subscriptions(), max_size=12), policies, st.randoms())
def test_input_order_never_changes_the_result(
    subs: list[Subscription], policy: dict, random: object
) -> None:
    shuffled = list(subs)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert report_dict(compute(shuffled, **policy)) == report_dict(compute(subs, **policy))


@SETTINGS
@given(subscriptions(), policies)
def test_no_subscription_contributes_less_than_zero(s: Subscription, policy: dict) -> None:
    report = compute([s], **policy)
    assert report.mrr >= 0
    rows = [row for tier in report.tiers for row in tier.products] + list(report.unlisted)
    assert all(row.mrr >= 0 for row in rows)
    assert all(value > 0 for value in report.customers.values())


def doubled(s: Subscription) -> Subscription:
    items: tuple[Item, ...] = tuple(
        dataclasses.replace(i, quantity=i.quantity * 2) for i in s.items
    )
    return dataclasses.replace(s, items=items)


@SETTINGS
@given(st.lists(subscriptions(discount_free=True), max_size=12))
def test_doubling_every_quantity_doubles_a_discount_free_mrr(subs: list[Subscription]) -> None:
    once = compute(subs)
    twice = compute([doubled(s) for s in subs])
    assert abs(twice.mrr - 2 * once.mrr) <= TOLERANCE


def test_subscriptions_that_count_alike_share_one_shape_but_never_another_digit() -> None:
    rules = Rules(config(), {})
    alike = [rules.count(sub(item(price(2000), 3)), CUTOFF) for _ in range(3)]
    assert len({id(c.products) for c in alike}) == len({id(c.tiers) for c in alike}) == 1
    assert len({c.customer for c in alike}) == 3  # each its own customer
    # 520 and 520.0 minor units are the same MRR written with other digits: a customer
    # file keeps the digits, so each keeps its own.
    whole, tenths = (rules.count(sub(item(price(amount))), CUTOFF) for amount in ("520", "520.0"))
    assert whole.products[0][1] == tenths.products[0][1]
    assert str(whole.products[0][1]) != str(tenths.products[0][1])
    assert str(whole.tiers[0][1]) != str(tenths.tiers[0][1])


def test_customers_paying_alike_share_their_figures_but_never_another_digit() -> None:
    """A report's customers paying alike share one tuple and one total (a customer map of
    a million customers is a map, not a million tuples); 520 and 520.0 minor units stay
    apart, as the customer file writes them."""
    subs = [sub(item(price(amount))) for amount in ("520", "520", "520.0", "520.0")]
    report = compute_report(Dataset(tuple(subs)), config(), AS_OF)
    tiers, totals = report.customer_tiers, report.customer_totals
    assert tiers is not None
    assert totals is not None
    first, second, third, fourth = (s.customer for s in subs)
    assert tiers[first] is tiers[second]
    assert totals[first] is totals[second]
    assert tiers[third] is tiers[fourth]
    assert totals[third] is totals[fourth]
    assert totals[first] == totals[third]
    assert str(totals[first]) != str(totals[third])
    assert str(tiers[first][0]) != str(tiers[third][0])
