"""Where a read's invoices lie in time, foreseen from its subscriptions, and the invoice
windows planned from it.

Each subscription bills when it starts and at each renewal of its billing cycle (its
anchor sets the day) until it ends. Once every subscription is read, the pages a window
holds are known before it is read: the windows are cut where each ends as the others
do and just short of a full last page, and the years before the first subscription
cost no request of their own. It is a plan, not a count: prorations, retried payments
and one-off invoices are not foreseen; how far it is off is learned from the pages as
they come back.
"""

import bisect
import calendar
import itertools
import math
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime

from ffkpi.stripe.paging import (
    FIRST_SPANS,
    MIN_PAGES,
    PAGE,
    Window,
    Windows,
    _split,
)
from ffkpi.stripe.payloads import StripeSubscription

BUCKET = 3_600  # an hour: invoices are expected to the hour, spread evenly within it
STEP = {"day": 86_400, "week": 7 * 86_400}


class Spread:
    """Invoices expected in [since, until), an hour at a time."""

    def __init__(self, since: int, until: int) -> None:
        self.since = since
        self.until = until
        self.hours = array("d", bytes(8 * max(1, math.ceil((until - since) / BUCKET))))
        self._before: list[float] = []

    def subscription(self, sub: StripeSubscription) -> None:
        """The invoices `sub` is expected to have been sent: at its start, and at each
        renewal from then until it ended (or until now)."""
        start = sub.start_date if sub.start_date is not None else sub.created
        self.add(start)
        recurring = sub.items.data[0].price.recurring if sub.items.data else None
        if recurring is None:
            return
        end = min(sub.ended_at if sub.ended_at is not None else self.until, self.until)
        anchor = sub.billing_cycle_anchor if sub.billing_cycle_anchor is not None else start
        first = max(start, self.since)
        for instant in _renewals(anchor, recurring.interval, recurring.interval_count, first):
            if instant >= end:
                break
            if instant > start:
                self.add(instant)

    def add(self, instant: int) -> None:
        """One invoice expected at `instant`."""
        if self.since <= instant < self.until:
            self.hours[(instant - self.since) // BUCKET] += 1

    def done(self) -> "Spread":
        """Every subscription is in: the cumulative counts, for the questions below."""
        self._before = [0.0, *itertools.accumulate(self.hours)]
        return self

    def before(self, instant: int) -> float:
        """Invoices expected to be created before `instant`."""
        offset = min(max(instant - self.since, 0), len(self.hours) * BUCKET)
        hour, into = divmod(offset, BUCKET)
        if hour >= len(self.hours):
            return self._before[-1]
        return self._before[hour] + self.hours[hour] * into / BUCKET

    def count(self, gte: int, lt: int) -> float:
        return self.before(lt) - self.before(gte)

    def instant(self, invoices: float) -> int:
        """The instant before which `invoices` are expected (the inverse of `before`)."""
        if invoices <= 0:
            return self.since
        hour = bisect.bisect_left(self._before, invoices) - 1
        if hour >= len(self.hours):
            return self.since + len(self.hours) * BUCKET
        into = (invoices - self._before[hour]) / self.hours[hour] if self.hours[hour] else 0
        return self.since + hour * BUCKET + math.ceil(into * BUCKET)


def _renewals(anchor: int, interval: str, count: int, first: int) -> Iterator[int]:
    """The billing cycle's renewals aligned on `anchor`, from the last one at or before
    `first` on (a generator of instants, ever later)."""
    if interval in STEP:
        step = STEP[interval] * count
        k = (first - anchor) // step
        return (anchor + step * n for n in itertools.count(k))
    months = count * (12 if interval == "year" else 1)
    at = datetime.fromtimestamp(anchor, UTC)
    k = ((first - anchor) // (31 * 86_400 * months)) - 1  # at or before `first`
    while _shifted(at, months * k) > first:
        k -= 1
    return (_shifted(at, months * n) for n in itertools.count(k))


def _shifted(at: datetime, months: int) -> int:
    """`at` moved by whole months, on the same day (or the month's last)."""
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return int(at.replace(year=year, month=month + 1, day=day).timestamp())


MARGIN = 0.05  # of a planned window's invoices, left for the spread being off
FILL = 4 * MIN_PAGES  # pages of a window cut before the spread, at the least
DOUBT = 2.0  # a spread off what is read by more than this factor is dropped


class SpreadWindows(Windows):
    """Invoice windows planned from their spread, once the subscriptions are read.

    Until then, windows of growing age read on, cut only where the other lists leave
    slots idle. When the spread comes, the rounds left are planned: the fewest rounds
    (a page a slot each) in which the slots read what is left, a window that holds
    more handing its older part, cut to size, to the slots that are idle or will be
    once their window is read. Every part but a window's oldest is cut to end just
    short of a full last page. A window with a page in flight is cut as well: what
    that page reads past its new start is cut from it (Lister.windows). After that a
    window is cut again where it turns out to hold over twice its share, or, with
    slots idle near the end, where it may need more than its next page. If no spread
    comes (the canceled subscriptions were not read), or it is off what is read by
    more than DOUBT, the plan goes on as `Windows` does.
    """

    def __init__(
        self,
        earliest: int,
        until: int,
        slots: Callable[[], int],
        told: "Future[Spread | None]",
        load: Callable[[], int],
    ) -> None:
        super().__init__(earliest, until, slots)
        self.told: Future[Spread | None] | None = told
        self.load = load  # requests in flight, of every list
        self.spread: Spread | None = None
        self.pages: list[tuple[int, int, int]] = []  # [oldest, top) and invoices of a page
        self.read = 0  # invoices read, and as many as the spread expected where they were
        self.foreseen = 0.0

    def wake(self, ask: Callable[[], None]) -> None:
        if self.told is not None:
            self.told.add_done_callback(lambda _: ask())

    def woken(self, busy: int) -> list[Window]:
        return self._take(self.slots() - busy) if self._learned() else []

    def first(self) -> list[Window]:
        return self._aged(max(2, min(len(FIRST_SPANS) + 1, self.slots() - self.load())))

    def returned(
        self, window: Window, created: list[int], last_id: str | None, has_more: bool, busy: int
    ) -> list[Window]:
        if created and (self.told is not None or self.spread is not None):
            top = window.lt if window.oldest is None else window.oldest + 1
            self.pages.append((created[-1], top, len(created)))
        if self.spread is None and not self._learned() and self.told is None:
            return super().returned(window, created, last_id, has_more, busy)  # none came
        if self.spread is not None and not 1 / DOUBT < self._ratio() < DOUBT:
            self.spread = None  # far off what is read: from here on, as `Windows` plans
            return super().returned(window, created, last_id, has_more, busy)
        free = self.slots() - busy
        asks = self._page(window, created, last_id, has_more, free)
        if asks is not None:
            return asks
        if self.spread is None:
            self._fill(window)
        else:
            window.expected = self._pages(window)
            idle = free - 1 - len(self.queued)
            share = max(MIN_PAGES, sum(w.expected for w in self.open) / self.slots())
            parts = 1
            if window.expected > 2 * share:
                parts = round(window.expected / share)
            elif idle > 0 and window.expected > 1 - 2 * MARGIN:
                # Slots idle (near the end): a window that may need more than its next
                # page shares what is left with them (a request is free there, a round
                # is not).
                parts = min(1 + idle, math.ceil(window.expected / (1 - 2 * MARGIN)))
            if parts > 1:
                self._cut(window, [math.ceil(window.expected / parts)] * parts)
        return [window, *self._take(free - 1)]

    def _learned(self) -> bool:
        """Whether the spread has just come: then the plan is made (under the lock)."""
        if self.told is None or not self.told.done():
            return False
        self.spread, self.told = self.told.result(), None
        if self.spread is None:
            return False
        self._plan()
        return True

    def _fill(self, window: Window) -> None:
        """Before the spread: cut `window` where the other lists leave slots idle."""
        window.expected = window.estimate()
        spare = self.slots() - self.load() - 1 - len(self.queued)  # its next page too
        parts = min(1 + spare, int(window.expected / MIN_PAGES))
        if parts > 1:
            # As long as the plan can tell (the pages left over the slots), else short.
            share = sum(w.expected for w in self.open) / self.slots()
            new = _split(window, parts, max(share, FILL)) or _split(window, parts, FILL)
            self.open.update(new)
            self.queued.extend(new)

    def _ratio(self) -> float:
        """Invoices read over invoices the spread expected where they were read."""
        assert self.spread is not None
        for oldest, top, count in self.pages:
            self.read += count
            self.foreseen += self.spread.count(oldest, top)
        self.pages.clear()
        return (self.read + PAGE) / (self.foreseen + PAGE)  # a page's worth of doubt

    def _pages(self, window: Window) -> float:
        """Pages left in `window`, at the spread, corrected by what has been read."""
        assert self.spread is not None
        rest = window.lt if window.oldest is None else window.oldest + 1
        return self._ratio() * self.spread.count(window.gte, rest) / PAGE

    def _plan(self) -> None:
        """Plan the rounds left: the fewest rounds (a page a slot each) in which the
        slots read what is left, where a window with more than that many pages hands
        its older part, cut to size, to the slots that are idle or will be once their
        window is read. A window's first part counts the page it has in flight."""
        for window in self.open:
            window.expected = self._pages(window)
        windows = sorted(self.open, key=lambda w: w.expected, reverse=True)
        # A window cut to end short of a full page reads (1 - MARGIN) of a page a round.
        need = {w: w.expected / (1 - MARGIN) for w in windows}
        rounds = 1
        while True:
            over = sum(max(0.0, need[w] - rounds) for w in windows)
            free = [rounds] * max(0, self.slots() - len(windows))
            free += [math.floor(rounds - need[w]) for w in windows if need[w] < rounds]
            if over <= sum(free):
                break
            rounds += 1
        free.sort(reverse=True)
        for window in windows:
            sizes = [rounds]
            while sum(sizes) < need[window] and free:
                sizes.append(free.pop(0))
            if len(sizes) > 1:
                self._cut(window, sizes)

    def _cut(self, window: Window, sizes: list[int]) -> None:
        """Cut what is left of `window` into windows of these many pages, the newest
        first, the oldest taking the rest. Each but the oldest is cut to end just short
        of a full last page (MARGIN of its invoices left for the spread being off), so
        only the oldest ends part-empty."""
        assert self.spread is not None
        spread = self.spread
        rest = window.lt if window.oldest is None else window.oldest + 1
        ends = list(itertools.accumulate(size * PAGE * (1 - MARGIN) for size in sizes[:-1]))
        ends = [end for end in ends if end < window.expected * PAGE]
        if not ends:
            return
        ratio = self._ratio()
        top = spread.before(rest)
        cuts = sorted({spread.instant(top - end / ratio) for end in ends}, reverse=True)
        cuts = [cut for cut in cuts if window.gte < cut < rest]
        if not cuts:
            return
        floor, window.gte = window.gte, cuts[0]
        window.expected = ratio * spread.count(window.gte, rest) / PAGE
        new = [
            Window(low, high, expected=ratio * spread.count(low, high) / PAGE)
            for high, low in itertools.pairwise([*cuts, floor])
        ]
        self.open.update(new)
        self.queued.extend(new)
