"""Window planning for created-window reads: pure, against lists held in memory."""

import bisect
import itertools
import math
import random
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from ffkpi.stripe.paging import EARLIEST, PAGE, Window, Windows

UNTIL = 1_800_000_000


def read_all(
    created: list[int], slots: int, since: int = EARLIEST, expected: float | None = None
) -> tuple[list[int], int]:
    """Read a list (creation times, newest first) as Stripe would serve the windows the
    plan asks for, one page per request in the order asked: what was read, and how
    many requests it took."""
    ascending = [-c for c in created]
    plan = Windows(since, UNTIL, lambda: slots, expected)
    asked: deque[Window] = deque(plan.first())
    read: list[int] = []
    requests = 0
    while asked:
        window = asked.popleft()
        requests += 1
        low = bisect.bisect_left(ascending, -(window.lt - 1))
        high = bisect.bisect_right(ascending, -window.gte)
        start = low if window.cursor is None else max(low, int(window.cursor) + 1)
        page = list(range(start, min(high, start + PAGE)))
        read += page
        times = [created[i] for i in page]
        last = str(page[-1]) if page else None
        asked.extend(plan.returned(window, times, last, start + PAGE < high, len(asked)))
    return read, requests


def test_the_first_windows_cover_all_time_without_overlap() -> None:
    windows = Windows(EARLIEST, UNTIL, lambda: 8).first()
    assert windows[0].lt == UNTIL
    assert windows[-1].gte == EARLIEST
    assert all(a.gte == b.lt for a, b in itertools.pairwise(windows))
    assert len(windows) == 5  # 16, 64, 256 and 1024 days back, and the rest


def test_a_bulk_second_is_read_by_its_own_window() -> None:
    created = [UNTIL - 10] * 450 + [UNTIL - 86_400 * k for k in range(1, 3000)]
    read, _ = read_all(created, slots=8)
    assert sorted(read) == list(range(len(created)))


@settings(max_examples=60, deadline=None)
@given(
    ages=st.lists(st.integers(0, 3 * 365 * 86_400), max_size=3000),
    bulk=st.integers(0, 400),
    slots=st.integers(1, 16),
)
def test_every_object_is_read_exactly_once(ages: list[int], bulk: int, slots: int) -> None:
    created = sorted([UNTIL - 1 - age for age in ages] + [UNTIL - 5000] * bulk, reverse=True)
    read, requests = read_all(created, slots)
    assert sorted(read) == list(range(len(created)))
    # Part-empty pages stay few: at most a page per window the plan may hold open.
    pages = -(-len(created) // PAGE)
    assert requests <= pages + 3 * (slots + 8) + pages // 2


def test_objects_created_in_batches_cost_few_extra_requests() -> None:
    """An account whose imports stamp every object of a day with one second."""
    created = [UNTIL - 86_400 * (1 + day) for day in range(140) for _ in range(143)]
    read, requests = read_all(created, slots=11)
    assert sorted(read) == list(range(len(created)))
    pages = -(-len(created) // PAGE)
    assert requests <= pages * 1.1 + 11


def test_a_small_account_costs_a_handful_of_requests_beyond_its_pages() -> None:
    """The demo's shape: 457 subscriptions over two years, sign-ups doubling every eight
    months, read at test mode's 10 requests/s (4 slots at 300 ms)."""
    rng = random.Random(3)
    two_years = 730 * 86_400
    ages = [
        int(-math.log(1 - rng.random() * (1 - 2**-3)) / math.log(2) * two_years / 3)
        for _ in range(457)
    ]
    created = sorted((UNTIL - 3600 - age for age in ages), reverse=True)
    read, requests = read_all(created, slots=4)
    assert sorted(read) == list(range(len(created)))
    assert requests <= -(-len(created) // PAGE) + 4


def test_a_list_of_known_size_is_read_in_few_windows() -> None:
    """Invoices of the last 69 days, about as many as the reader expects."""
    span = 69 * 86_400
    created = sorted((UNTIL - 1 - (k * span) // 752 for k in range(752)), reverse=True)
    read, requests = read_all(created, slots=4, since=UNTIL - span, expected=1000)
    assert sorted(read) == list(range(len(created)))
    assert requests <= 8 + 2
