"""The worked cases of docs/mrr-rules.md, one test row each."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from builders import config, coupon, discount, item, price, sub
from ffkpi.engine.model import Dataset, Subscription
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import compute_report, end_of_day
from ffkpi.errors import ConfigError

AS_OF = date(2026, 11, 22)
CUTOFF = end_of_day(AS_OF)


def tiered(mode: str) -> Any:
    # Spec case 9: 1-5 at 5.00, 6-10 at 4.00, 11-15 at 3.00, 16-20 at 2.00, 21+ at 1.00.
    bounds = [(5, 500, 0), (10, 400, 0), (15, 300, 0), (20, 200, 0), (None, 100, 0)]
    return price(tiers=bounds, tiers_mode=mode)


@dataclass
class Case:
    subs: Callable[[], list[Subscription]]
    mrr: str
    arr: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def many(n: int, make: Callable[[], Subscription]) -> list[Subscription]:
    return [make() for _ in range(n)]


CASES = {
    "1 monthly": Case(lambda: [sub(item(price(2000)))], "20.00", "240.00"),
    "2 monthly and yearly": Case(
        lambda: (
            many(100, lambda: sub(item(price(10000))))
            + many(50, lambda: sub(item(price(60000, interval="year"))))
        ),
        "12500.00",
    ),
    "3 yearly, quantity 2, forever coupon": Case(
        lambda: [
            sub(
                item(price(120000, interval="year"), 2),
                discounts=[discount(coupon(percent_off=20))],
            )
        ],
        "160.00",
        "1920.00",
    ),
    "4 once coupon ignored": Case(
        lambda: [
            sub(
                item(price(120000, interval="year"), 2),
                discounts=[discount(coupon(percent_off=20, duration="once"))],
            )
        ],
        "200.00",
    ),
    "4 once coupon with discounts=all": Case(
        lambda: [
            sub(
                item(price(120000, interval="year"), 2),
                discounts=[discount(coupon(percent_off=20, duration="once"))],
            )
        ],
        "160.00",
        options={"discounts": "all"},
    ),
    "5 every 3 months": Case(lambda: [sub(item(price(30000, count=3)))], "100.00"),
    "5 every 2 years": Case(lambda: [sub(item(price(240000, interval="year", count=2)))], "100.00"),
    "6 weekly": Case(lambda: [sub(item(price(1000, interval="week")))], "43.33", "520.00"),
    "6 three weekly: sum, then round": Case(
        lambda: many(3, lambda: sub(item(price(1000, interval="week")))), "130.00"
    ),
    "6 thirds summed onto a half cent: rounded up": Case(
        # 3 x 10.00 every 3 months (3.333... each, 10.00 together) + 18.06 a year (1.505):
        # exactly 11.505, which the three thirds alone would have left at 11.50499...
        lambda: [
            *many(3, lambda: sub(item(price(1000, count=3)))),
            sub(item(price(1806, interval="year"))),
        ],
        "11.51",
        "138.06",
    ),
    "7 daily": Case(lambda: [sub(item(price(100, interval="day")))], "30.42"),
    "9 graduated qty 6": Case(lambda: [sub(item(tiered("graduated"), 6))], "29.00"),
    "9 graduated qty 20": Case(lambda: [sub(item(tiered("graduated"), 20))], "70.00"),
    "9 graduated qty 25": Case(lambda: [sub(item(tiered("graduated"), 25))], "75.00"),
    "9 volume qty 5": Case(lambda: [sub(item(tiered("volume"), 5))], "25.00"),
    "9 volume qty 6": Case(lambda: [sub(item(tiered("volume"), 6))], "24.00"),
    "9 volume qty 25": Case(lambda: [sub(item(tiered("volume"), 25))], "25.00"),
    "10 graduated flat fee qty 15": Case(
        lambda: [sub(item(price(tiers=[(10, 0, 5000), (None, 300, 0)]), 15))], "65.00"
    ),
    "10 graduated flat fee qty 10": Case(
        lambda: [sub(item(price(tiers=[(10, 0, 5000), (None, 300, 0)]), 10))], "50.00"
    ),
    "11 past_due counts": Case(lambda: [sub(item(price(5000)), status="past_due")], "50.00"),
    "11 trialing is 0": Case(lambda: [sub(item(price(5000)), status="trialing")], "0.00"),
    "11 unpaid is 0": Case(lambda: [sub(item(price(5000)), status="unpaid")], "0.00"),
    "11 canceled is 0": Case(lambda: [sub(item(price(5000)), status="canceled")], "0.00"),
    "11 incomplete is 0": Case(lambda: [sub(item(price(5000)), status="incomplete")], "0.00"),
    "12 cancel_at_period_end is 0": Case(
        lambda: [sub(item(price(10000)), cancel_at_period_end=True)], "0.00"
    ),
    "12 cancel_at_period_end counted by policy": Case(
        lambda: [sub(item(price(10000)), cancel_at_period_end=True)],
        "100.00",
        options={"scheduled_cancellations": "count"},
    ),
    "13 amount_off larger than price floors at 0": Case(
        lambda: [sub(item(price(1000)), discounts=[discount(coupon(amount_off=1500))])],
        "0.00",
    ),
    "14 yearly amount_off": Case(
        lambda: [
            sub(
                item(price(120000, interval="year")),
                discounts=[discount(coupon(amount_off=12000))],
            )
        ],
        "90.00",
    ),
    "15 items with a metered one, 10 % forever": Case(
        lambda: [
            sub(
                item(price(42500, product="prod_a")),
                item(price(3500, product="prod_b"), 4),
                item(price(3500, product="prod_b"), 2),
                item(price(300, product="prod_c", metered=True), 0),
                discounts=[discount(coupon(percent_off=10))],
            )
        ],
        "571.50",
    ),
    "18 a year for the price of 11 months": Case(
        lambda: [sub(item(price(22000, interval="year")))], "18.33", "220.00"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_worked_case(case: Case) -> None:
    report = compute_report(Dataset(tuple(case.subs())), config(**case.options), AS_OF)
    assert format_money(report.mrr, "usd") == case.mrr
    if case.arr is not None:
        assert format_money(report.arr, "usd") == case.arr


def test_a_half_cent_in_a_tier_and_a_product_rounds_up_as_the_total_does() -> None:
    thirds = [sub(item(price(1000, count=3, product="prod_a"))) for _ in range(3)]
    half = sub(item(price(1806, interval="year", product="prod_b")))
    report = compute_report(Dataset((*thirds, half)), config(), AS_OF)
    assert format_money(report.tiers[0].mrr, "usd") == "11.51"
    assert [format_money(row.mrr, "usd") for row in report.tiers[0].products] == [
        "10.00",
        "1.51",
        "0.00",
    ]


def test_case_8_jpy_has_no_minor_units() -> None:
    data = Dataset((sub(item(price(10000, interval="year", currency="jpy")), currency="jpy"),))
    report = compute_report(data, config(currency="jpy"), AS_OF)
    assert format_money(report.mrr, "jpy") == "833"
    assert format_money(report.arr, "jpy") == "10000"


def test_case_15_before_discount_is_635() -> None:
    items = (
        item(price(42500, product="prod_a")),
        item(price(3500, product="prod_b"), 4),
        item(price(3500, product="prod_b"), 2),
        item(price(300, product="prod_c", metered=True), 0),
    )
    report = compute_report(Dataset((sub(*items),)), config(), AS_OF)
    assert format_money(report.mrr, "usd") == "635.00"
    assert report.excluded.metered_items == 1


def starter_subs() -> list[Subscription]:
    """Spec case 16: 10 subs at 20.00, 2 with 25 % forever and 3 with 50 % once."""
    subs = [sub(item(price(2000))) for _ in range(5)]
    subs += [sub(item(price(2000)), discounts=[discount(coupon(percent_off=25))]) for _ in range(2)]
    subs += [
        sub(item(price(2000)), discounts=[discount(coupon(percent_off=50, duration="once"))])
        for _ in range(3)
    ]
    return subs


@pytest.mark.parametrize(
    ("rule", "discounts", "expected"),
    [
        ("list_price", "forever", "200.00"),
        ("list_price", "all", "200.00"),
        ("net", "forever", "190.00"),
        ("net", "all", "160.00"),
        ("net", "none", "200.00"),
    ],
)
def test_case_16_starter_rule(rule: str, discounts: str, expected: str) -> None:
    data = Dataset(tuple(starter_subs()))
    report = compute_report(data, config(rule=rule, discounts=discounts), AS_OF)
    assert format_money(report.mrr, "usd") == expected
    assert report.tiers[0].subscriptions == 10


def test_case_17_converts_with_the_fx_rate() -> None:
    data = Dataset(
        (
            sub(item(price(10000))),
            sub(item(price(10000, currency="eur")), currency="eur"),
        )
    )
    report = compute_report(data, config(fx={"eur": "1.10"}), AS_OF)
    assert format_money(report.mrr, "usd") == "210.00"


def test_case_17_missing_rate_is_an_error_naming_the_currency() -> None:
    data = Dataset((sub(item(price(10000, currency="eur")), currency="eur", sub_id="sub_eur"),))
    with pytest.raises(ConfigError) as raised:
        compute_report(data, config(), AS_OF)
    assert "no exchange rate for EUR (subscription sub_eur is billed in EUR)" in (
        raised.value.message
    )
    assert 'add eur = "<rate>" under [fx]' in raised.value.message
