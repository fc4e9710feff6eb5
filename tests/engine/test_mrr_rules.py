"""Rules of docs/mrr-rules.md beyond its worked cases: one behaviour per test."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import config, coupon, discount, item, price, sub
from ffkpi.engine.model import Dataset, InvoiceLine
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import Report, compute_report, end_of_day
from ffkpi.engine.pricing import latest_metered, newest_lines
from ffkpi.errors import ConfigError, InputError

AS_OF = date(2026, 11, 22)
CUTOFF = end_of_day(AS_OF)
DAY = 86_400


def mrr(*subs: object, **options: object) -> str:
    return format_money(report(*subs, **options).mrr, "usd")


def report(*subs: object, **options: object) -> Report:
    return compute_report(Dataset(tuple(subs)), config(**options), AS_OF)  # type: ignore[arg-type]


def test_end_of_day_is_the_next_utc_midnight() -> None:
    assert end_of_day(date(2026, 11, 22)) == 1_795_392_000  # 2026-11-23T00:00:00Z


@pytest.mark.parametrize("status", ["trialing", "unpaid", "paused", "incomplete_expired"])
def test_policy_statuses_can_add_a_status(status: str) -> None:
    s = sub(item(price(5000)), status=status)  # type: ignore[arg-type]
    assert mrr(s) == "0.00"
    assert mrr(s, statuses=["active", "past_due", status]) == "50.00"


def test_excluded_statuses_are_counted_by_status() -> None:
    r = report(sub(status="trialing"), sub(status="trialing"), sub(status="canceled"))
    assert dict(r.excluded.statuses) == {"canceled": 1, "trialing": 2}


def test_item_in_its_own_trial_counts_zero_until_the_trial_ends() -> None:
    base, addon = price(10000, product="prod_a"), price(3000, product="prod_b")
    in_trial = sub(item(base), item(addon, trial_end=CUTOFF + DAY))
    trial_over = sub(item(base), item(addon, trial_end=CUTOFF))
    assert mrr(in_trial) == "100.00"
    assert mrr(trial_over) == "130.00"
    assert report(in_trial).excluded.trialing_items == 1


def test_cancel_at_in_the_future_is_zero_by_default_and_counted_by_policy() -> None:
    s = sub(item(price(10000)), cancel_at=CUTOFF + 10 * DAY)
    assert mrr(s) == "0.00"
    assert mrr(s, scheduled_cancellations="count") == "100.00"


def test_counted_cancellation_stops_once_cancel_at_has_passed() -> None:
    s = sub(item(price(10000)), cancel_at=CUTOFF - DAY)
    assert mrr(s, scheduled_cancellations="count") == "0.00"


def test_paused_collection_is_zero_unless_policy_counts_it() -> None:
    s = sub(item(price(10000)), paused=True)
    assert mrr(s) == "0.00"
    assert mrr(s, paused_collection="count") == "100.00"
    assert report(s).excluded.paused_collection == 1


def test_transform_quantity_divides_then_rounds_before_pricing() -> None:
    up = price(1000, divide_by=10, round_up=True)
    down = price(1000, divide_by=10, round_up=False)
    assert mrr(sub(item(up, 11))) == "20.00"
    assert mrr(sub(item(down, 11))) == "10.00"
    assert mrr(sub(item(up, 20))) == "20.00"


def test_unit_amount_decimal_keeps_fractions_of_a_cent() -> None:
    # 0.5 cents a unit, 3 units a month: 1.5 cents, so 10 such subscriptions are 0.15.
    subs = [sub(item(price("0.5"), 3)) for _ in range(10)]
    assert mrr(*subs) == "0.15"


def test_zero_quantity_tiered_item_bills_nothing() -> None:
    graduated = price(tiers=[(10, 0, 5000), (None, 300, 0)])
    volume = price(tiers=[(10, 100, 5000), (None, 300, 0)], tiers_mode="volume")
    assert mrr(sub(item(graduated, 0), item(price(1000)))) == "10.00"
    assert mrr(sub(item(volume, 0), item(price(1000)))) == "10.00"


def test_volume_tier_adds_the_flat_fee_of_the_tier_that_holds_the_quantity() -> None:
    volume = price(tiers=[(2, 14000, 0), (None, 12000, 5000)], tiers_mode="volume")
    assert mrr(sub(item(volume, 2))) == "280.00"
    assert mrr(sub(item(volume, 3))) == "410.00"


def test_discount_that_ended_before_as_of_no_longer_applies() -> None:
    ended = discount(coupon(percent_off=50, duration="repeating"), end=CUTOFF - DAY)
    running = discount(coupon(percent_off=50, duration="repeating"), end=CUTOFF + DAY)
    assert mrr(sub(item(price(10000)), discounts=[ended]), discounts="all") == "100.00"
    assert mrr(sub(item(price(10000)), discounts=[running]), discounts="all") == "50.00"


def test_repeating_coupon_never_counts_under_the_forever_default() -> None:
    running = discount(coupon(percent_off=50, duration="repeating"), end=CUTOFF + DAY)
    assert mrr(sub(item(price(10000)), discounts=[running])) == "100.00"


def test_discounts_none_is_list_price() -> None:
    s = sub(item(price(10000)), discounts=[discount(coupon(percent_off=50))])
    assert mrr(s, discounts="none") == "100.00"


def test_item_level_discount_applies_to_its_item_first() -> None:
    # Item b: 100 - 10 % = 90; then 50.00 off the subscription's 190 remaining.
    a = item(price(10000, product="prod_a"))
    b = item(price(10000, product="prod_b"), discounts=[discount(coupon(percent_off=10))])
    s = sub(a, b, discounts=[discount(coupon(amount_off=5000))])
    r = report(s)
    assert format_money(r.mrr, "usd") == "140.00"
    rows = {row.id: format_money(row.mrr, "usd") for row in r.tiers[0].products}
    # The 50.00 is spread 100:90 over the two items.
    assert rows == {"prod_a": "73.68", "prod_b": "66.32", "prod_c": "0.00"}


def test_subscription_discounts_apply_in_order_to_the_remaining_subtotal() -> None:
    first_percent = sub(
        item(price(10000)),
        discounts=[discount(coupon(percent_off=50)), discount(coupon(amount_off=1000))],
    )
    first_amount = sub(
        item(price(10000)),
        discounts=[discount(coupon(amount_off=1000)), discount(coupon(percent_off=50))],
    )
    assert mrr(first_percent) == "40.00"
    assert mrr(first_amount) == "45.00"


def test_coupon_applies_to_touches_only_its_products() -> None:
    c = coupon(percent_off=50, applies_to=["prod_b"])
    s = sub(
        item(price(10000, product="prod_a")),
        item(price(4000, product="prod_b")),
        discounts=[discount(c)],
    )
    rows = {row.id: format_money(row.mrr, "usd") for row in report(s).tiers[0].products}
    assert rows == {"prod_a": "100.00", "prod_b": "20.00", "prod_c": "0.00"}


def test_item_level_coupon_for_another_product_does_not_apply() -> None:
    c = coupon(percent_off=50, applies_to=["prod_b"])
    assert mrr(sub(item(price(10000), discounts=[discount(c)]))) == "100.00"


def test_amount_off_in_another_currency_uses_its_currency_option() -> None:
    c = coupon(amount_off=1000, currency="usd", options={"eur": 900})
    s = sub(item(price(5000, currency="eur")), currency="eur", discounts=[discount(c)])
    r = compute_report(Dataset((s,)), config(currency="eur"), AS_OF)
    assert format_money(r.mrr, "eur") == "41.00"


def test_amount_off_in_another_currency_without_option_does_not_apply() -> None:
    c = coupon(amount_off=1000, currency="usd")
    s = sub(item(price(5000, currency="eur")), currency="eur", discounts=[discount(c)])
    r = compute_report(Dataset((s,)), config(currency="eur"), AS_OF)
    assert format_money(r.mrr, "eur") == "50.00"


def test_amount_off_is_normalised_by_the_subscription_interval() -> None:
    # 30.00 off every quarter is 10.00 a month.
    s = sub(item(price(30000, count=3)), discounts=[discount(coupon(amount_off=3000))])
    assert mrr(s) == "90.00"


def test_subscription_discount_leaves_metered_items_alone() -> None:
    metered = price(300, product="prod_b", metered=True)
    lines = (InvoiceLine("si_m", "paid", 3000, 10, CUTOFF - 5 * DAY),)
    s = sub(
        item(price(10000)),
        item(metered, 0, item_id="si_m"),
        discounts=[discount(coupon(percent_off=50))],
    )
    r = compute_report(Dataset((s,), invoice_lines=lines), config(metered="last_invoice"), AS_OF)
    assert format_money(r.mrr, "usd") == "80.00"


def test_hundred_percent_off_is_not_a_paying_subscription() -> None:
    r = report(
        sub(item(price(10000)), discounts=[discount(coupon(percent_off=100))]),
        sub(item(price(10000))),
    )
    assert format_money(r.mrr, "usd") == "100.00"
    assert r.tiers[0].subscriptions == 1
    assert r.excluded.zero_mrr == 1


def test_price_in_the_subscription_currency_comes_from_currency_options() -> None:
    p = price(10000, options={"eur": 9000})
    s = sub(item(p), currency="eur")
    r = compute_report(Dataset((s,)), config(fx={"eur": "1.10"}), AS_OF)
    assert format_money(r.mrr, "usd") == "99.00"


def test_price_without_the_subscription_currency_is_an_error() -> None:
    s = sub(item(price(10000)), currency="eur", sub_id="sub_x")
    with pytest.raises(InputError, match=r"sub_x: price .* has no amount in EUR"):
        compute_report(Dataset((s,)), config(fx={"eur": "1.1"}), AS_OF)


def test_currency_without_rate_is_fine_when_nothing_in_it_counts() -> None:
    s = sub(item(price(10000, currency="eur")), currency="eur", status="canceled")
    assert mrr(s) == "0.00"


class TestMetered:
    def lines(self) -> tuple[InvoiceLine, ...]:
        return (
            InvoiceLine("si_m", "paid", 1000, 4, 100),
            InvoiceLine("si_m", "open", 2500, 10, 200),
            InvoiceLine("si_m", "draft", 9900, 33, 300),
            InvoiceLine("si_m", "void", 7700, 22, 300),
            InvoiceLine("si_n", "paid", 500, 1, 50),
            InvoiceLine("si_n", "paid", 700, 2, 50),
        )

    def test_newest_finalized_line_wins_and_drafts_and_voids_are_ignored(self) -> None:
        billed = latest_metered(self.lines())
        assert billed["si_m"].amount == Decimal(2500)
        assert billed["si_m"].quantity == 10

    def test_lines_of_the_same_newest_period_add_up(self) -> None:
        billed = latest_metered(self.lines())
        assert (billed["si_n"].amount, billed["si_n"].quantity) == (Decimal(1200), 3)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.builds(
                InvoiceLine,
                subscription_item=st.sampled_from(["si_a", "si_b", "si_c"]),
                invoice_status=st.sampled_from(["draft", "open", "paid", "void", "uncollectible"]),
                amount=st.integers(-5_000, 5_000),
                quantity=st.integers(0, 9),
                period_end=st.integers(1, 6),
            )
        )
    )
    def test_a_streamed_read_keeps_only_the_lines_that_decide(
        self, lines: list[InvoiceLine]
    ) -> None:
        kept = newest_lines(lines)
        assert latest_metered(kept) == latest_metered(lines)
        assert len({(line.subscription_item, line.period_end) for line in kept}) == len(
            {line.subscription_item for line in kept}
        )

    def test_excluded_by_default(self) -> None:
        s = sub(item(price(300, metered=True), 0, item_id="si_m"))
        r = compute_report(Dataset((s,), invoice_lines=self.lines()), config(), AS_OF)
        assert format_money(r.mrr, "usd") == "0.00"
        assert r.excluded.metered_items == 1

    def test_last_invoice_counts_the_amount_per_month(self) -> None:
        yearly = price(300, metered=True, interval="year")
        s = sub(item(yearly, 0, item_id="si_m"))
        r = compute_report(
            Dataset((s,), invoice_lines=self.lines()), config(metered="last_invoice"), AS_OF
        )
        assert format_money(r.mrr, "usd") == "2.08"  # 25.00 a year
        assert r.tiers[0].products[0].quantity == 10

    def test_item_without_invoice_counts_zero_and_is_reported(self) -> None:
        s = sub(item(price(300, metered=True), 0, item_id="si_new"), item(price(1000)))
        r = compute_report(
            Dataset((s,), invoice_lines=self.lines()), config(metered="last_invoice"), AS_OF
        )
        assert format_money(r.mrr, "usd") == "10.00"
        assert r.excluded.metered_items_without_invoice == 1


class TestProducts:
    def test_unlisted_products_are_reported_outside_the_total(self) -> None:
        s = sub(item(price(10000, product="prod_a")), item(price(5000, product="prod_x")))
        r = compute_report(
            Dataset((s,), product_names={"prod_x": "Extra"}), config(products=["prod_a"]), AS_OF
        )
        assert format_money(r.mrr, "usd") == "100.00"
        assert [(u.id, u.name, format_money(u.mrr, "usd")) for u in r.unlisted] == [
            ("prod_x", "Extra", "50.00")
        ]

    def test_unlisted_products_follow_the_net_rule(self) -> None:
        s = sub(item(price(5000, product="prod_x")), discounts=[discount(coupon(percent_off=10))])
        r = compute_report(Dataset((s,)), config(rule="list_price", products=["prod_a"]), AS_OF)
        assert format_money(r.unlisted[0].mrr, "usd") == "45.00"

    def test_product_matched_by_exact_name(self) -> None:
        tiers = [{"name": "T", "rule": "net", "products": [{"name": "Team"}]}]
        s = sub(item(price(10000, product="prod_t")))
        r = compute_report(
            Dataset((s,), product_names={"prod_t": "Team", "prod_u": "team"}),
            config(tiers=tiers),
            AS_OF,
        )
        assert format_money(r.mrr, "usd") == "100.00"
        assert r.tiers[0].products[0].id == "prod_t"

    def test_name_shared_by_two_products_is_an_error(self) -> None:
        tiers = [{"name": "T", "rule": "net", "products": [{"name": "Team"}]}]
        data = Dataset((sub(),), product_names={"prod_1": "Team", "prod_2": "Team"})
        with pytest.raises(ConfigError, match=r"matches 2 products \(prod_1, prod_2\)"):
            compute_report(data, config(tiers=tiers), AS_OF)

    def test_product_listed_by_id_and_by_name_in_two_tiers_is_an_error(self) -> None:
        tiers = [
            {"name": "A", "rule": "net", "products": [{"id": "prod_1"}]},
            {"name": "B", "rule": "net", "products": [{"name": "Team"}]},
        ]
        data = Dataset((sub(),), product_names={"prod_1": "Team"})
        with pytest.raises(ConfigError, match="listed in tier 'A' and in tier 'B'"):
            compute_report(data, config(tiers=tiers), AS_OF)

    def test_configured_product_absent_from_the_data_shows_a_zero_row(self) -> None:
        tiers = [{"name": "T", "rule": "net", "products": [{"name": "Gone"}]}]
        r = compute_report(Dataset((sub(),)), config(tiers=tiers), AS_OF)
        assert r.tiers[0].products[0].id is None
        assert r.tiers[0].products[0].mrr == 0

    def test_subscription_spanning_two_tiers_uses_each_tiers_rule(self) -> None:
        tiers = [
            {"name": "Starter", "rule": "list_price", "products": [{"id": "prod_s"}]},
            {"name": "Team", "rule": "net", "products": [{"id": "prod_t"}]},
        ]
        s = sub(
            item(price(2000, product="prod_s")),
            item(price(8000, product="prod_t")),
            discounts=[discount(coupon(percent_off=50))],
        )
        r = compute_report(Dataset((s,)), config(tiers=tiers), AS_OF)
        assert [format_money(t.mrr, "usd") for t in r.tiers] == ["20.00", "40.00"]
        assert [t.subscriptions for t in r.tiers] == [1, 1]

    def test_quantity_and_subscriptions_count_distinct_paying_subscriptions(self) -> None:
        p = price(1000)
        r = report(sub(item(p, 2), item(p, 3)), sub(item(p, 1)), sub(item(p, 4), status="unpaid"))
        row = r.tiers[0].products[0]
        assert (row.subscriptions, row.quantity) == (2, 6)


def test_each_customers_mrr_adds_up_across_their_subscriptions() -> None:
    r = report(
        sub(item(price(1000)), customer="cus_1"),
        sub(item(price(2000)), customer="cus_1"),
        sub(item(price(500)), customer="cus_2"),
    )
    assert {c: format_money(v, "usd") for c, v in r.customers.items()} == {
        "cus_1": "30.00",
        "cus_2": "5.00",
    }
