"""A rebuild's weeks of customers kept as a ledger of changes (history/ledger.py): every
week reads back as the map it was, in any order of reading, and a rebuilt week's
customers are those of that day rebuilt alone."""

import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import read, simulated
from ffkpi.engine.exact import exact_sum
from ffkpi.history.ledger import ALL, HELD, Ledger, held
from ffkpi.history.rebuild import rebuild
from ffkpi.history.shards import same_digits
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo

amounts = st.decimals(min_value=0, max_value=500, places=2)
weeks_of_customers = st.lists(
    st.dictionaries(
        st.sampled_from([f"cus_{n}" for n in range(12)]),
        st.tuples(amounts, amounts),
        max_size=10,
    ),
    min_size=1,
    max_size=3 * HELD,
)


def ledger_of(series: list[dict[str, tuple[Decimal, ...]]]) -> Ledger:
    ledger = Ledger()
    before: dict[str, tuple[Decimal, ...]] = {}
    for week in series:
        changes: dict[str, tuple[Decimal, ...] | None] = {
            c: v for c, v in week.items() if before.get(c) != v
        }
        changes.update({c: None for c in before if c not in week})
        ledger.append(changes)
        before = week
    return ledger


@settings(max_examples=200, deadline=None)
@given(weeks_of_customers, st.randoms(use_true_random=False))
def test_every_week_reads_back_as_it_was_in_any_order(
    series: list[dict[str, tuple[Decimal, ...]]], order: random.Random
) -> None:
    ledger = ledger_of(series)
    reads = [order.randrange(len(series)) for _ in range(4 * len(series))]
    for week in reads + list(range(len(series))):
        assert ledger.whole(week) == series[week]
        for k in (0, 1):
            assert ledger.whole(week, k) == {c: v[k] for c, v in series[week].items() if v[k] > 0}
        totals = ledger.whole(week, ALL)
        assert totals == {c: exact_sum(v) for c, v in series[week].items()}
        assert all(str(totals[c]) == str(exact_sum(v)) for c, v in series[week].items())
    assert len(ledger._made) <= HELD


@settings(max_examples=50, deadline=None)
@given(weeks_of_customers)
def test_a_week_reads_as_a_mapping_and_a_made_map_is_shared_not_copied(
    series: list[dict[str, tuple[Decimal, ...]]],
) -> None:
    ledger = Ledger()
    weeks = []
    before: dict[str, tuple[Decimal, ...]] = {}
    for week in series:
        changes: dict[str, tuple[Decimal, ...] | None] = dict.fromkeys(before)
        changes.update(week)
        weeks.append(ledger.append(changes))
        before = week
    for view, expected in zip(weeks, series, strict=True):
        assert view == expected
        assert dict(view) == expected
        assert len(view) == len(expected)
        assert sorted(view.items()) == sorted(expected.items())
        assert all((c in view) == (c in expected) for c in ["cus_0", "cus_5", "other"])
        assert held(view) is held(view)  # made once while kept
        assert view.in_tier(0) == {c: v[0] for c, v in expected.items() if v[0] > 0}
        assert view.in_all() == {c: sum(v) for c, v in expected.items()}
    plain = {"cus_1": (Decimal(1), Decimal(0))}
    assert held(plain) is plain


def weekly(count: int) -> list[date]:
    return [DEMO_AS_OF - timedelta(weeks=k) for k in range(count - 1, -1, -1)]


def test_each_rebuilt_week_has_the_customers_of_that_day_rebuilt_alone() -> None:
    config = demo_config()
    for data in (load_demo(history=True), read(simulated(7, signups=120), history=True)):
        days = weekly(60)
        whole = rebuild(data, config, days)
        for i in range(0, len(days), 3):  # every third week, and the last
            alone = rebuild(data, config, [days[i]]).reports[0]
            report = whole.reports[i]
            assert dict(report.customer_tiers) == dict(alone.customer_tiers), days[i]
            assert dict(report.customer_totals) == dict(alone.customer_totals), days[i]
        assert (
            whole.reports[-1].customer_tiers
            == rebuild(data, config, days[-1:]).reports[0].customer_tiers
        )


def test_customers_paying_alike_share_one_tuple_but_never_another_digit() -> None:
    ledger = Ledger()
    plan, written_apart = (Decimal("49.00"), Decimal(0)), (Decimal("49.0"), Decimal(0))
    alike = (Decimal("49.00"), Decimal(0))  # another tuple, equal to the digit
    week = ledger.append({"cus_a": plan, "cus_b": alike, "cus_c": written_apart})
    made = week.whole()
    assert made["cus_a"] is made["cus_b"]
    assert made["cus_c"] == plan
    assert str(made["cus_c"][0]) == "49.0"  # kept as written, not as the first equal one
    assert str(week.in_all()["cus_c"]) == "49.0"
    in_all = week.in_all().whole()
    assert in_all["cus_a"] is in_all["cus_b"]  # one sum for those paying alike


def test_a_week_holds_only_the_customers_whose_mrr_changed_to_the_digit() -> None:
    """A renewal or a payment touches a customer without changing what it pays: the
    ledger keeps no entry for it, and does for 5.20 become 5.2."""
    data = read(simulated(7, signups=120), history=True)
    reports = rebuild(data, demo_config(), weekly(60)).reports
    ledger = reports[0].customer_tiers.part(0).ledger
    before: dict[str, tuple[Decimal, ...]] = {}
    for report, changes in zip(reports, ledger._changes, strict=True):
        now = report.customer_tiers.part(0).whole()
        moved = {c for c in before.keys() | now.keys() if repr(before.get(c)) != repr(now.get(c))}
        assert set(changes) == moved
        before = now
    assert same_digits((Decimal("5.20"),), (Decimal("5.20"),))
    assert not same_digits((Decimal("5.20"),), (Decimal("5.2"),))
    assert not same_digits(None, (Decimal("5.2"),))
    assert same_digits(None, None)
