"""Invoices expected from subscriptions (Spread), and invoice windows planned from them
(SpreadWindows): pure, against lists held in memory, with pages in flight while the
plan cuts their windows, as Lister serves them."""

import bisect
import calendar
from collections import deque
from concurrent.futures import Future
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_paging import read_all

import stripe_fixtures as sf
from ffkpi.stripe.paging import PAGE, Answer, Window, _trimmed
from ffkpi.stripe.payloads import Page, StripeInvoice, StripeSubscription
from ffkpi.stripe.spread import Spread, SpreadWindows

UNTIL = 1_800_000_000
SINCE = UNTIL - 3 * 365 * 86_400
DAY = 86_400


def at(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 12, 0, 0))


def subscription(
    start: int, interval: str = "month", count: int = 1, **dates: int
) -> StripeSubscription:
    body = sf.subscription_of(
        "sub_Spread",
        "cus_Spread",
        (sf.price("price_Spread", "prod_Spread", 1000, interval=interval, interval_count=count), 1),
        created=start,
    )
    return msgspec.convert({**body, "start_date": start, **dates}, StripeSubscription)


def renewals(spread: Spread) -> list[str]:
    """The days the spread expects an invoice on."""
    return [
        datetime.fromtimestamp(spread.since + hour * 3600, UTC).date().isoformat()
        for hour, count in enumerate(spread.hours)
        for _ in range(int(count))
    ]


def test_a_monthly_subscription_renews_on_its_anchor_day_or_the_months_last() -> None:
    spread = Spread(at(2025, 1, 1), at(2025, 6, 15))
    start = at(2025, 1, 31)
    spread.subscription(subscription(start, billing_cycle_anchor=at(2025, 3, 31)))
    assert renewals(spread) == [
        "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"
    ]  # fmt: skip


def test_renewals_stop_when_the_subscription_ended_and_start_with_the_read() -> None:
    spread = Spread(at(2024, 6, 1), at(2026, 1, 1))
    start = at(2023, 3, 10)
    spread.subscription(subscription(start, "year", billing_cycle_anchor=start))
    weekly = at(2025, 12, 1)
    spread.subscription(subscription(weekly, "week", 2, ended_at=weekly + 29 * DAY))
    # The start before the read is not counted; a yearly renewal in each year read; a
    # subscription every two weeks, ended after four weeks: three invoices.
    assert renewals(spread) == [
        "2025-03-10", "2025-12-01", "2025-12-15", "2025-12-29"
    ]  # fmt: skip


def test_counts_and_instants_answer_each_other() -> None:
    spread = Spread(SINCE, UNTIL)
    for k in range(5000):
        spread.add(SINCE + (k * k) % (UNTIL - SINCE))
    spread.done()
    assert spread.count(SINCE, UNTIL) == 5000
    for invoices in (0.5, 1, 10, 2500, 4999):
        instant = spread.instant(invoices)
        assert spread.before(instant) == pytest.approx(invoices, abs=1)


def test_the_demo_accounts_invoices_lie_where_its_subscriptions_say() -> None:
    """Each quarter of the demo's two years holds about the invoices its
    subscriptions foresee: prorations and retries are not foreseen."""
    import make_demo

    bundle = make_demo.demo_bundle()
    since = bundle["history_from"]
    spread = Spread(since, bundle["fetched_at"])
    for body in bundle["subscriptions"]:
        spread.subscription(msgspec.convert(body, StripeSubscription))
    spread.done()
    created = sorted(i["created"] for i in bundle["invoices"] if i["created"] >= since)
    quarter = 91 * DAY
    for start in range(since, bundle["fetched_at"] - quarter, quarter):
        actual = bisect.bisect_left(created, start + quarter) - bisect.bisect_left(created, start)
        assert spread.count(start, start + quarter) == pytest.approx(actual, rel=0.25, abs=20)


def read_planned(
    created: list[int], slots: int, spread: Spread | None, after: int
) -> tuple[list[int], int]:
    """Read a list (creation times, newest first) as Stripe serves the windows the plan
    asks for, each page as it was asked (its window's start may be raised while it is
    in flight) and trimmed as Lister trims it; the spread is told after `after` pages.
    What was read, and how many requests it took."""
    ascending = [-c for c in created]
    told: Future[Spread | None] = Future()
    asked: deque[tuple[Window, int, str | None]] = deque()
    plan = SpreadWindows(SINCE, UNTIL, lambda: slots, told, lambda: len(asked))
    woken: list[bool] = []
    plan.wake(lambda: woken.append(True))
    asked.extend((w, w.gte, w.cursor) for w in plan.first())
    read: list[int] = []
    requests = 0
    while asked:
        window, gte, cursor = asked.popleft()
        requests += 1
        low = bisect.bisect_left(ascending, -(window.lt - 1))
        high = bisect.bisect_right(ascending, -gte)
        start = low if cursor is None else max(low, int(cursor) + 1)
        page = list(range(start, min(high, start + PAGE)))
        has_more = start + PAGE < high
        beyond = [created[i] < window.gte for i in page]
        if any(beyond):
            page, has_more = page[: beyond.index(True)], False
        read += page
        last = str(page[-1]) if page else None
        times = [created[i] for i in page]
        asks = plan.returned(window, times, last, has_more, len(asked))
        asked.extend((w, w.gte, w.cursor) for w in asks)
        if requests == after:
            told.set_result(spread)
            assert woken == [True]
            asked.extend((w, w.gte, w.cursor) for w in plan.woken(len(asked)))
    return read, requests


def spread_of(
    created: list[int], scale: float = 1.0, shift: int = 0, mirrored: bool = False
) -> Spread:
    """A spread of these invoices: as they are, more or fewer, earlier, or with their
    oldest and newest swapped (as many in all, nowhere where they are)."""
    spread = Spread(SINCE, UNTIL)
    for instant in created:
        moved = UNTIL - 1 - (instant - SINCE) if mirrored else instant + shift
        spread.hours[min(max(moved - SINCE, 0), UNTIL - SINCE - 1) // 3600] += scale
    return spread.done()


@settings(max_examples=80, deadline=None)
@given(
    ages=st.lists(st.integers(0, 2 * 365 * DAY), min_size=200, max_size=4000),
    bulk=st.integers(0, 300),
    slots=st.integers(1, 14),
    after=st.integers(1, 12),
    quality=st.sampled_from(["exact", "half", "shifted", "mirrored", "none", "nothing"]),
)
def test_every_invoice_is_read_exactly_once_whatever_the_spread_says(
    ages: list[int], bulk: int, slots: int, after: int, quality: str
) -> None:
    created = sorted([UNTIL - 1 - age for age in ages] + [UNTIL - 9 * DAY] * bulk, reverse=True)
    spread = {
        "exact": lambda: spread_of(created),
        "half": lambda: spread_of(created, 0.5),
        "shifted": lambda: spread_of(created, shift=-40 * DAY),
        "mirrored": lambda: spread_of(created, mirrored=True),
        "none": lambda: None,
        "nothing": lambda: spread_of([]),
    }[quality]()
    read, requests = read_planned(created, slots, spread, after)
    assert sorted(read) == list(range(len(created)))
    pages = -(-len(created) // PAGE)
    assert requests <= pages + 3 * (slots + 8) + pages // 2


def test_a_spread_reads_an_account_in_fewer_requests_than_density_alone() -> None:
    """Two years of a growing account's invoices, 6,000 in 60 pages, the spread 4 %
    high (as a simulated account's is: retries and prorations are not foreseen)."""
    created = sorted(
        (UNTIL - 1 - int(730 * DAY * (1 - (k / 6000) ** 0.5)) for k in range(6000)),
        reverse=True,
    )
    read, requests = read_planned(created, 10, spread_of(created, 1.04), after=2)
    assert sorted(read) == list(range(len(created)))
    _, alone = read_all(created, 10, since=SINCE)
    assert requests <= 60 + 8 < alone


def test_a_page_read_past_its_windows_new_start_keeps_stripes_bytes_for_the_rest() -> None:
    invoices = [
        sf.invoice(
            f"in_Trim{k}",
            customer="cus_Trim",
            subscription_id="sub_Trim",
            status="paid",
            currency="usd",
            lines=[],
            created=UNTIL - k * DAY,
        )
        for k in range(5)
    ]
    body = msgspec.json.encode(sf.list_page(invoices, has_more=True, url="/v1/invoices"))
    page = msgspec.json.decode(body, type=Page[StripeInvoice])
    trimmed = _trimmed(Answer(page, body), 3)
    assert [i.id for i in trimmed.page.data] == ["in_Trim0", "in_Trim1", "in_Trim2"]
    assert not trimmed.page.has_more
    kept = msgspec.json.decode(trimmed.body)
    assert kept["data"] == invoices[:3]
    assert kept["url"] == "/v1/invoices"
    assert kept["has_more"] is False
