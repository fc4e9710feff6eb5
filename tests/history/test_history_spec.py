"""The worked cases of history-rules.md: a subscription at a past instant, week by week.

UTC, monthly, USD, quantity 1, default policy, rule net, unless said.
"""

import calendar
import dataclasses
import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from accounts import case_1_bundle
from builders import config, coupon, discount, item, price, sub
from ffkpi.engine.model import (
    BilledInvoice,
    BilledLine,
    Dataset,
    Discount,
    Lifetime,
    Price,
    Subscription,
)
from ffkpi.engine.money import format_money
from ffkpi.history.rebuild import rebuild_weeks


def at(text: str) -> int:
    """Unix seconds of "2026-03-18 12:00" (UTC)."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M" if " " in text else "%Y-%m-%d")
    return calendar.timegm(moment.timetuple())


def line(
    item_id: str,
    p: Price,
    start: str,
    end: str,
    *,
    quantity: int = 1,
    amount: int | None = None,
    proration: bool = False,
    discounts: tuple[Discount, ...] = (),
) -> BilledLine:
    unit = p.amounts["usd"].unit_amount or Decimal(0)
    return BilledLine(
        item=item_id,
        price=p,
        quantity=quantity,
        amount=int(unit * quantity) if amount is None else amount,
        start=at(start),
        end=at(end),
        proration=proration,
        discounts=discounts,
    )


_numbers = iter(range(10**6))


def invoice(
    sub_id: str,
    *lines: BilledLine,
    status: str = "paid",
    reason: str = "subscription_cycle",
    discounts: tuple[Discount, ...] = (),
    **dates: Any,
) -> BilledInvoice:
    first = min(x.start for x in lines)
    return BilledInvoice(
        id=f"in_{next(_numbers)}",
        subscription=sub_id,
        status=status,
        billing_reason=reason,
        lines=lines,
        discounts=discounts,
        created=first,
        paid_at=dates.get("paid_at", first if status == "paid" else None),
        marked_uncollectible_at=dates.get("uncollectible_at"),
    )


def change_5_to_8(sub_id: str, item_id: str, p: Price) -> BilledInvoice:
    """Worked case 1's change on Wed Mar 18 12:00, 5 seats to 8, as pending prorations."""
    change, end = "2026-03-18 12:00", "2026-04-01"
    return invoice(
        sub_id,
        line(item_id, p, change, end, quantity=5, amount=-2177, proration=True),
        line(item_id, p, change, end, quantity=8, amount=3484, proration=True),
        status="pending",
        reason=None,
    )


def monthly(sub_id: str, item_id: str, p: Price, months: list[str], **kw: Any) -> list[Any]:
    """A cycle invoice per month: the first day of each given month to the next."""
    invoices = []
    for start, end in itertools.pairwise(months):
        reason = "subscription_create" if not invoices else "subscription_cycle"
        invoices.append(invoice(sub_id, line(item_id, p, start, end, **kw), reason=reason))
    return invoices


def weekly(
    subs: list[Subscription],
    lifetimes: dict[str, Lifetime],
    invoices: list[BilledInvoice],
    days: list[str],
    **policy: Any,
) -> list[str]:
    data = Dataset(tuple(subs), lifetimes=lifetimes, invoices=tuple(invoices))
    rule = policy.pop("rule", "net")
    reports = rebuild_weeks(
        data, config(rule=rule, **policy), [date.fromisoformat(d) for d in days]
    )
    return [format_money(report.mrr, "usd") for report in reports]


TEN = price(1000)


def test_case_1_a_quantity_change_with_prorations_counts_the_new_quantity() -> None:
    """$10 x 5 from Mar 1; on Wed Mar 18 12:00 the quantity goes to 8 with prorations."""
    s = sub(item(TEN, 8, item_id="si_1"), sub_id="sub_1")
    invoices = [
        invoice("sub_1", line("si_1", TEN, "2026-03-01", "2026-04-01", quantity=5)),
        change_5_to_8("sub_1", "si_1", TEN),
    ]
    life = {"sub_1": Lifetime(at("2026-03-01"))}
    assert weekly([s], life, invoices, ["2026-03-16", "2026-03-23"]) == ["50.00", "80.00"]


def test_case_2_a_scheduled_cancellation_counts_0_from_its_request() -> None:
    p = price(120_000, interval="year")
    s = sub(item(p, item_id="si_1"), sub_id="sub_1", status="canceled")
    start, end = "2025-06-10 09:30", "2026-06-10 09:30"  # ends during its last day
    invoices = [invoice("sub_1", line("si_1", p, start, end), reason="subscription_create")]
    life = {"sub_1": Lifetime(at(start), ended_at=at(end), canceled_at=at("2026-01-14 10:00"))}
    days = ["2025-12-30", "2026-01-13", "2026-01-14", "2026-06-09", "2026-06-10"]
    assert weekly([s], life, invoices, days) == ["100.00", "100.00", "0.00", "0.00", "0.00"]
    counted = weekly([s], life, invoices, days, scheduled_cancellations="count")
    assert counted == ["100.00", "100.00", "100.00", "100.00", "0.00"]


def test_case_3_a_trial_counts_0_then_the_price() -> None:
    p = price(4900)
    s = sub(item(p, item_id="si_1"), sub_id="sub_1")
    invoices = [
        invoice(
            "sub_1",
            line("si_1", p, "2026-02-04", "2026-02-18", amount=0),
            reason="subscription_create",
        ),
        invoice("sub_1", line("si_1", p, "2026-02-18", "2026-03-18")),
    ]
    life = {
        "sub_1": Lifetime(
            at("2026-02-04"), trial_start=at("2026-02-04"), trial_end=at("2026-02-18")
        )
    }
    days = ["2026-02-08", "2026-02-15", "2026-02-22"]
    assert weekly([s], life, invoices, days) == ["0.00", "0.00", "49.00"]


def test_case_4_discounts_follow_the_invoices_that_carried_them() -> None:
    p = price(10_000)
    forever = discount(coupon(percent_off=20))
    repeating = discount(coupon(percent_off=50, duration="repeating"), end=at("2026-04-05"))
    months = ["2026-01-05", "2026-02-05", "2026-03-05", "2026-04-05", "2026-05-05"]
    s = sub(item(p, item_id="si_1"), sub_id="sub_1")
    life = {"sub_1": Lifetime(at("2026-01-05"))}
    with_forever = [
        invoice("sub_1", line("si_1", p, a, b), discounts=(forever,))
        for a, b in itertools.pairwise(months)
    ]
    days = ["2026-01-11", "2026-03-01", "2026-04-12"]
    assert weekly([s], life, with_forever, days) == ["80.00"] * 3
    with_repeating = [
        invoice("sub_1", line("si_1", p, a, b), discounts=(repeating,) if a < "2026-04" else ())
        for a, b in itertools.pairwise(months)
    ]
    assert weekly([s], life, with_repeating, days) == ["100.00"] * 3
    assert weekly([s], life, with_repeating, days, discounts="all") == [
        "50.00",
        "50.00",
        "100.00",
    ]


def test_case_5_an_unpaid_renewal_counts_as_past_due_until_canceled() -> None:
    p = price(3000)
    s = sub(item(p, item_id="si_1"), sub_id="sub_1", status="canceled")
    invoices = [
        invoice("sub_1", line("si_1", p, "2026-03-01", "2026-04-01"), reason="subscription_create"),
        invoice(
            "sub_1",
            line("si_1", p, "2026-04-01", "2026-05-01"),
            status="uncollectible",
            uncollectible_at=at("2026-04-22"),
        ),
    ]
    life = {
        "sub_1": Lifetime(at("2026-03-01"), ended_at=at("2026-04-22"), canceled_at=at("2026-04-22"))
    }
    days = ["2026-04-05", "2026-04-12", "2026-04-19", "2026-04-26"]
    assert weekly([s], life, invoices, days) == ["30.00", "30.00", "30.00", "0.00"]


def test_case_6_one_customers_subscriptions_add_up() -> None:
    x, y, z = price(10_000), price(5_000), price(6_000)
    subs = [
        sub(item(x, item_id="si_x"), sub_id="sub_x", customer="cus_c", status="canceled"),
        sub(item(y, item_id="si_y"), sub_id="sub_y", customer="cus_c", status="canceled"),
        sub(item(z, item_id="si_z"), sub_id="sub_z", customer="cus_c"),
    ]
    life = {
        "sub_x": Lifetime(at("2025-12-01"), ended_at=at("2026-03-03")),
        "sub_y": Lifetime(at("2026-01-07"), ended_at=at("2026-02-10")),
        "sub_z": Lifetime(at("2026-05-13")),
    }
    invoices = [
        *monthly(
            "sub_x",
            "si_x",
            x,
            ["2025-12-01", "2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"],
        ),
        *monthly("sub_y", "si_y", y, ["2026-01-07", "2026-02-07", "2026-03-07"]),
        *monthly("sub_z", "si_z", z, ["2026-05-13", "2026-06-13"]),
    ]
    days = ["2026-01-05", "2026-01-12", "2026-02-16", "2026-03-09", "2026-05-18"]
    assert weekly(subs, life, invoices, days) == ["100.00", "150.00", "100.00", "0.00", "60.00"]


def test_case_7_a_voided_month_is_paused_collection() -> None:
    p = price(4000)
    s = sub(item(p, item_id="si_1"), sub_id="sub_1")
    invoices = monthly("sub_1", "si_1", p, ["2026-05-01", "2026-06-01"])
    invoices.append(invoice("sub_1", line("si_1", p, "2026-06-01", "2026-07-01"), status="void"))
    invoices += monthly("sub_1", "si_1", p, ["2026-07-01", "2026-08-01"])
    life = {"sub_1": Lifetime(at("2026-05-01"))}
    days = ["2026-05-25", "2026-06-08", "2026-06-29", "2026-07-06"]
    assert weekly([s], life, invoices, days) == ["40.00", "0.00", "0.00", "40.00"]
    counted = weekly([s], life, invoices, days, paused_collection="count")
    assert counted == ["40.00"] * 4


def test_case_8_list_price_ignores_the_coupon() -> None:
    p = price(1500)
    half = discount(coupon(percent_off=50))
    s = sub(item(p, item_id="si_1"), sub_id="sub_1")
    invoices = [
        invoice("sub_1", line("si_1", p, a, b), discounts=(half,))
        for a, b in (("2026-01-01", "2026-02-01"), ("2026-02-01", "2026-03-01"))
    ]
    life = {"sub_1": Lifetime(at("2026-01-01"))}
    days = ["2026-01-10", "2026-02-10"]
    assert weekly([s], life, invoices, days, rule="list_price") == ["15.00", "15.00"]
    assert weekly([s], life, invoices, days) == ["7.50", "7.50"]


def test_case_9_an_add_on_dropped_without_prorations_counts_until_the_next_invoice() -> None:
    base, addon = price(10_000), price(2_000, product="prod_b")
    s = sub(item(base, item_id="si_base"), sub_id="sub_1")
    invoices = [
        invoice(
            "sub_1",
            line("si_base", base, "2026-05-01", "2026-06-01"),
            line("si_add", addon, "2026-05-01", "2026-06-01"),
        ),
        invoice("sub_1", line("si_base", base, "2026-06-01", "2026-07-01")),
    ]
    life = {"sub_1": Lifetime(at("2026-05-01"))}
    days = ["2026-05-11", "2026-05-25", "2026-06-01", "2026-06-08"]
    assert weekly([s], life, invoices, days) == ["120.00", "120.00", "100.00", "100.00"]


@pytest.mark.parametrize("status", ["draft"])
def test_drafts_never_set_an_item(status: str) -> None:
    p, q = price(1000), price(9000)
    s = sub(item(p, item_id="si_1"), sub_id="sub_1")
    invoices = [
        invoice("sub_1", line("si_1", p, "2026-01-01", "2026-02-01")),
        invoice(
            "sub_1", line("si_1", q, "2026-01-15", "2026-02-01", proration=True), status=status
        ),
    ]
    life = {"sub_1": Lifetime(at("2026-01-01"))}
    assert weekly([s], life, invoices, ["2026-01-20"]) == ["10.00"]


def test_the_order_of_invoices_and_lines_never_changes_a_week() -> None:
    """Pages and lines come back in any order; the weeks must not depend on it."""
    import random

    x, y, addon = price(10_000), price(5_000), price(2_000, product="prod_b")
    subs = [
        sub(item(x, 8, item_id="si_x"), sub_id="sub_x", customer="cus_c"),
        sub(item(y, item_id="si_y"), sub_id="sub_y", customer="cus_c"),
    ]
    life = {"sub_x": Lifetime(at("2026-03-01")), "sub_y": Lifetime(at("2026-03-05"))}
    invoices = [
        invoice(
            "sub_x",
            line("si_x", x, "2026-03-01", "2026-04-01", quantity=5),
            line("si_a", addon, "2026-03-01", "2026-04-01"),
            reason="subscription_create",
        ),
        change_5_to_8("sub_x", "si_x", x),
        invoice("sub_x", line("si_x", x, "2026-04-01", "2026-05-01", quantity=8)),
        *monthly("sub_y", "si_y", y, ["2026-03-05", "2026-04-05", "2026-05-05"]),
    ]
    days = ["2026-03-10", "2026-03-23", "2026-04-06", "2026-04-20"]
    expected = weekly(subs, life, invoices, days)
    assert expected == ["570.00", "870.00", "850.00", "850.00"]
    rng = random.Random(7)
    for _ in range(20):
        shuffled = [
            dataclasses.replace(i, lines=tuple(rng.sample(i.lines, len(i.lines))))
            for i in rng.sample(invoices, len(invoices))
        ]
        assert weekly(rng.sample(subs, 2), life, shuffled, days) == expected


class TestFromStripeJson:
    """The billed history as a bundle holds it, in Stripe's own shapes."""

    @staticmethod
    def bundle(line_price: str = "price_1") -> dict[str, Any]:
        return case_1_bundle(line_price)

    def test_case_1_from_a_bundle(self) -> None:
        import json

        from ffkpi.sources.files import parse_input

        data = parse_input(json.dumps(self.bundle()).encode(), "in.json", history=True)
        days = [date(2026, 3, 16), date(2026, 3, 23)]
        reports = rebuild_weeks(data, config(), days)
        assert [format_money(r.mrr, "usd") for r in reports] == ["50.00", "80.00"]

    def test_a_price_the_data_does_not_hold_is_named(self) -> None:
        import json

        from ffkpi.errors import InputError
        from ffkpi.sources.files import parse_input

        raw = json.dumps(self.bundle(line_price="price_gone")).encode()
        with pytest.raises(InputError) as raised:
            parse_input(raw, "in.json", history=True)
        assert raised.value.message == (
            "in.json: invoice in_1, line il_1: price price_gone is not in the data (fetch again "
            "with ffkpi fetch --since, which saves every price)"
        )

    def test_a_bundle_without_invoices_says_how_to_fetch_one(self) -> None:
        import json

        from ffkpi.errors import InputError
        from ffkpi.sources.files import parse_input

        plain = {k: v for k, v in self.bundle().items() if k != "invoice_items"}
        with pytest.raises(InputError) as raised:
            parse_input(json.dumps(plain).encode(), "in.json", history=True)
        assert raised.value.message == (
            'in.json: it holds no billed history (no "invoice_items"), so past '
            "weeks cannot be rebuilt from it (fetch it with ffkpi fetch --since YYYY-MM-DD, "
            "which saves them)"
        )


def test_an_item_trial_ending_between_the_read_and_the_end_of_its_day() -> None:
    """Read at noon; an add-on's own trial ends at 18:00. The week of the read counts the
    subscription as it stood at noon, by the rules at the end of the day (the trial over),
    as `ffkpi mrr --as-of` on that read does; the week before counts the trial as 0."""
    from ffkpi.engine.mrr import compute_report
    from ffkpi.history.rebuild import dataset_at, instant_of
    from ffkpi.history.timeline import Timelines

    base, addon = price(10_000), price(3_000, product="prod_b")
    s = sub(item(base, item_id="si_1"), item(addon, item_id="si_2"), sub_id="sub_1")
    invoices = [
        invoice(
            "sub_1", line("si_1", base, "2026-11-01", "2026-12-01"), reason="subscription_create"
        ),
        invoice(
            "sub_1",
            line("si_2", addon, "2026-11-05 18:00", "2026-11-19 18:00", amount=0),
            line("si_2", addon, "2026-11-19 18:00", "2026-12-01", amount=1_700, proration=True),
            status="pending",
            reason=None,
        ),
    ]
    data = Dataset(
        (s,),
        lifetimes={"sub_1": Lifetime(at("2026-11-01"))},
        invoices=tuple(invoices),
        read_at=at("2026-11-19 12:00"),
    )
    cfg = config()
    days = [date(2026, 11, 12), date(2026, 11, 19)]
    weeks = rebuild_weeks(data, cfg, days)
    assert [format_money(w.mrr, "usd") for w in weeks] == ["100.00", "130.00"]
    indexed = list(Timelines(data))
    for day, week in zip(days, weeks, strict=True):
        slow = compute_report(dataset_at(data, indexed, instant_of(day, data.read_at)), cfg, day)
        assert (week.mrr, week.excluded) == (slow.mrr, slow.excluded)
