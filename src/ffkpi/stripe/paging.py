"""Stripe lists: one page type, every page of a list, and `created`-window reading.

A list's cursor is strictly sequential, so a large list read page after page is bound
by latency, not by Stripe's rate limit. Any list that filters on `created`
(subscriptions, invoices) is read instead in windows `[gte, lt)`, each with its own
cursor, several at once; `Windows` decides where they fall so that every request slot
stays busy to the end while few pages come back part-empty.
"""

import functools
import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from ffkpi.errors import InputError, StripeUnavailableError
from ffkpi.stripe.http import StripeHttp
from ffkpi.stripe.payloads import API_VERSION, Page, Payload, dotted, error_location, malformed


class Identified(Protocol):
    """What paging needs of a listed object: its id, the cursor."""

    @property
    def id(self) -> str: ...


class Dated(Identified, Protocol):
    """What window reading needs as well: when the object was created."""

    @property
    def created(self) -> int: ...


M = TypeVar("M", bound=Payload)
ListedT = TypeVar("ListedT", bound=Identified)
DatedT = TypeVar("DatedT", bound=Dated)

EARLIEST = 1_262_304_000  # 2010-01-01: before any Stripe object
PAGE = 100
EMPTY_PAGES = 10  # Stripe quirk: empty pages that say has_more, asked again at most this often
DAY = 86_400
# The first windows, as ages before `until`: recent days are read as their own windows,
# since a growing business created most of its objects recently.
FIRST_SPANS = (16 * DAY, 64 * DAY, 256 * DAY, 1024 * DAY)
RESERVE = 2  # windows queued beyond the slots, so a freed slot never waits
MIN_PAGES = 2.0  # a window split off is expected to hold at least this many pages
HORIZON = 16  # how far past the span a window has read its density is trusted, as a multiple
# Requests worth having in flight, as a multiple of rate x latency: enough that the rate
# limit, not latency, bounds the read; more would only open windows (each ends with a
# part-empty page) that wait in the pacer.
SLOT_FACTOR = 1.25


@dataclass(frozen=True, slots=True)
class Answer(Generic[ListedT]):
    """A page as decoded, and the bytes it came in (for a bundle that keeps them)."""

    page: Page[ListedT]
    body: bytes


PageT = TypeVar("PageT", bound=Page[Any])


def objects(answers: list[Answer[Any]]) -> list[Any]:
    """The objects of every page of one list."""
    return [entry for answer in answers for entry in answer.page.data]


def whole(listed: PageT, answers: list[Answer[Any]]) -> PageT:
    """A list object that said has_more, with every page's objects in it."""
    return msgspec.structs.replace(listed, data=objects(answers), has_more=False)


def parse(model: type[M], body: bytes, what: str) -> M:
    try:
        return msgspec.json.decode(body, type=model)
    except msgspec.ValidationError as err:
        loc, message = error_location(err)
        raise InputError(
            f"Stripe sent {what} ffkpi cannot read: {dotted(loc)}: {message}",
            f"check that the account uses API version {API_VERSION}, or report this",
        ) from None
    except msgspec.DecodeError as err:
        raise StripeUnavailableError(
            f"the answer to a request for {what} is not JSON: {malformed(err)}",
            "check that nothing between ffkpi and Stripe rewrites its answers, then try again",
        ) from None


@dataclass(eq=False)
class Window:
    """Objects created in [gte, lt), read newest first from `cursor` on."""

    gte: int
    lt: int
    cursor: str | None = None
    read: int = 0  # objects read so far
    oldest: int | None = None  # created of the oldest of them
    expected: float = 0.0  # pages still to read, as far as the plan knows
    empty_pages: int = 0

    def estimate(self) -> float:
        """Pages still to read, at the density this window has shown: [oldest, lt)."""
        assert self.oldest is not None
        density = self.read / max(1, self.lt - self.oldest)
        return density * (self.oldest + 1 - self.gte) / PAGE


class Windows:
    """Where the windows of a read fall: the plan, told of each page as it returns.

    It starts with windows of growing age (a day, four, sixteen, ... before `until`,
    then the rest), one per slot at most. Each page tells the density of its window.
    While fewer windows are open than slots (plus RESERVE), and whenever a window is
    expected to hold more than twice its share of what is left (the pages left over
    the slots), the window whose page came back is cut and its older parts queued; a
    slot that frees up takes the largest queued window at once. So every slot stays
    busy to the end, no window is left to read alone at the end, and few pages come
    back part-empty (a window is never cut below MIN_PAGES pages).
    """

    def __init__(
        self, earliest: int, until: int, slots: Callable[[], int], expected: float | None = None
    ) -> None:
        self.earliest = earliest
        self.until = until
        self.slots = slots
        self.expected = expected  # objects, where the reader can tell
        self.queued: list[Window] = []
        self.open: set[Window] = set()  # in flight or queued

    def first(self) -> list[Window]:
        count = max(1, self.slots())
        if self.expected is not None:
            # A list of known size, even in time (invoices): as many equal windows as it
            # has pairs of pages, so a small list is not read as many part-empty pages.
            count = max(1, min(count, round(self.expected / (PAGE * MIN_PAGES))))
            span = (self.until - self.earliest) / count
            bounds = [self.until - round(k * span) for k in range(count)] + [self.earliest]
            windows = [Window(low, high) for high, low in itertools.pairwise(bounds)]
            self.open.update(windows)
            return windows
        return self._aged(count)

    def _aged(self, count: int) -> list[Window]:
        """`count` windows at most, of growing age: FIRST_SPANS, then the rest."""
        ages = [age for age in FIRST_SPANS[: count - 1] if self.until - age > self.earliest]
        bounds = [self.until, *(self.until - age for age in ages), self.earliest]
        windows = [Window(low, high) for high, low in itertools.pairwise(bounds)]
        self.open.update(windows)
        return windows

    def returned(
        self, window: Window, created: list[int], last_id: str | None, has_more: bool, busy: int
    ) -> list[Window]:
        """The windows to ask next, now that a page of `window` (newest first) is back.

        `created`: its objects' creation times; `busy`: the other requests in flight.
        """
        free = self.slots() - busy
        asks = self._page(window, created, last_id, has_more, free)
        if asks is not None:
            return asks
        window.expected = window.estimate()
        slots = max(1, self.slots())
        share = max(MIN_PAGES, sum(w.expected for w in self.open) / slots)
        parts = max(1 + slots + RESERVE - len(self.open), 2 if window.expected > 2 * share else 1)
        # Near the end, slots would idle while one window reads its last pages one after
        # the other: then a part may be as small as a page (a request is free there).
        least = MIN_PAGES if len(self.open) > slots else 1.0
        parts = min(parts, int(window.expected / least))
        if parts > 1:
            new = _split(window, parts, share)
            self.open.update(new)
            self.queued.extend(new)
        return [window, *self._take(free - 1)]

    def _page(
        self, window: Window, created: list[int], last_id: str | None, has_more: bool, free: int
    ) -> list[Window] | None:
        """Take a page of `window` in: the windows to ask next if it was read to its end
        or the page was empty (asked again); None if it has more, its cursor moved on."""
        if not has_more:
            self.open.discard(window)
            return self._take(free)
        if not created:
            what = f"objects created in [{window.gte}, {window.lt})"
            window.empty_pages = _empty_page(window.empty_pages, what)
            return [window, *self._take(free - 1)]
        window.empty_pages = 0
        window.cursor = last_id
        window.read += len(created)
        window.oldest = created[-1]
        return None

    def wake(self, ask: Callable[[], None]) -> None:
        """`ask` is to be called when the plan learns something between pages, once
        the first windows are asked for; it asks for what `woken` says."""

    def woken(self, busy: int) -> list[Window]:
        """The windows to ask for now that the plan learned something."""
        return []

    def _take(self, free: int) -> list[Window]:
        """Queued windows for the free slots, the largest first."""
        if free <= 0 or not self.queued:
            return []
        self.queued.sort(key=lambda w: w.expected)
        taken = self.queued[-free:]
        del self.queued[-free:]
        return taken[::-1]


def _split(window: Window, parts: int, share: float) -> list[Window]:
    """Cut the unread rest of `window` into `parts` windows, each older one twice as
    long as the one before it.

    Everything still to read was created at or before its oldest object read: the
    window keeps the newest part (and its cursor), its share of what is left at the
    density it has shown, and new windows take the older parts, each twice as long as
    the one before, the last down to the window's start. Near the cursor, where the density is
    known, the parts are the size it says; further back they grow, so an old, sparse or
    empty past (a growing business's, or the years before the account existed) costs a
    few requests, not one per part. Objects created in one second (a bulk import) can
    only be read with a cursor: the window that reached them keeps them.
    """
    assert window.oldest is not None
    top = window.oldest + 1
    density = window.read / max(1, window.lt - window.oldest)
    base = max(1, math.ceil(min(share, window.expected / max(1, parts)) * PAGE / density))
    wanted = {top - base * (2**k - 1) for k in range(1, parts)}
    # Past HORIZON times the span read, the density is a guess (the years before a young
    # account began hold nothing): no cut there, the oldest part reads on to the start.
    horizon = window.oldest - HORIZON * (window.lt - window.oldest)
    cuts = sorted(
        (cut for cut in wanted if max(window.gte, horizon) < cut <= window.oldest), reverse=True
    )
    if not cuts:
        return []
    floor, window.gte = window.gte, cuts[0]
    window.expected = density * (top - window.gte) / PAGE
    return [
        Window(low, high, expected=density * (high - low) / PAGE)
        for high, low in itertools.pairwise([*cuts, floor])
    ]


def _trimmed(answer: Answer[DatedT], keep: int) -> Answer[DatedT]:
    """A page of a window cut while it was in flight, down to its first `keep` objects
    (newest first: those still in the window), as Stripe's bytes. It was the last."""
    fields = msgspec.json.decode(answer.body, type=dict[str, msgspec.Raw])
    entries = msgspec.json.decode(fields["data"], type=list[msgspec.Raw])
    fields["data"] = msgspec.Raw(msgspec.json.encode(entries[:keep]))
    fields["has_more"] = msgspec.Raw(b"false")
    page = msgspec.structs.replace(answer.page, data=answer.page.data[:keep], has_more=False)
    return Answer(page, msgspec.json.encode(fields))


def _empty_page(seen: int, what: str) -> int:
    """Count one more empty page that says has_more; too many in a row is an error."""
    if seen >= EMPTY_PAGES:
        raise StripeUnavailableError(
            f"Stripe kept returning empty pages that say has_more for {what}",
            "try again later",
        )
    return seen + 1


class Lister:
    """Reads whole lists through one StripeHttp, on a pool of request threads."""

    def __init__(self, http: StripeHttp, pool: ThreadPoolExecutor, concurrency: int) -> None:
        self.http = http
        self.pool = pool
        self.concurrency = concurrency

    def all(
        self, path: str, params: Mapping[str, Any], model: type[Page[ListedT]], what: str
    ) -> list[Answer[ListedT]]:
        """Every page of a list, one after the other (its cursor is sequential)."""
        answers: list[Answer[ListedT]] = []
        cursor: str | None = None
        empty = 0
        while True:
            page_params = {**params, "limit": PAGE}
            if cursor:
                page_params["starting_after"] = cursor
            body = self.http.get(path, page_params)
            page = parse(model, body, what)
            if page.data or not page.has_more:
                answers.append(Answer(page, body))
            if not page.has_more:
                return answers
            if not page.data:
                empty = _empty_page(empty, what)
                continue
            cursor = page.data[-1].id

    def windows(
        self,
        path: str,
        params: Mapping[str, Any],
        model: type[Page[DatedT]],
        what: str,
        plan: "Windows",
    ) -> Iterator[Answer[DatedT]]:
        """Every page of a list created in the span of `plan`, as its windows return them.

        The first windows are asked for at once, before anything the caller asks for
        next; each page that comes back asks for the next ones on its own request
        thread, so a caller busy with a page (or waiting for something else) never
        holds the requests back."""
        returned: queue.SimpleQueue[Answer[DatedT] | BaseException] = queue.SimpleQueue()
        lock = threading.Lock()  # over the plan and the counts; never held to submit
        counts = {"in_flight": 0, "outstanding": 0}  # outstanding: not yet handed over

        def ask(windows: list[Window]) -> None:
            """Count `windows` as asked for (under the lock), then submit them."""
            with lock:
                counts["in_flight"] += len(windows)
                counts["outstanding"] += len(windows)
            for window in windows:
                future = self.pool.submit(self._window_page, path, params, model, what, window)
                # Run at once if it is already done: hence no lock held here.
                future.add_done_callback(functools.partial(back, window))

        def back(window: Window, done: "Future[Answer[DatedT]]") -> None:
            try:
                answer = done.result()
                with lock:
                    # Its start may have been raised while the page was in flight: what
                    # it read past it (the oldest, last) belongs to a window of its own.
                    data = answer.page.data
                    if data and data[-1].created < window.gte:
                        kept = next(k for k, e in enumerate(data) if e.created < window.gte)
                        answer = _trimmed(answer, kept)
                    page = answer.page
                    created = [entry.created for entry in page.data]
                    last = page.data[-1].id if page.data else None
                    counts["in_flight"] -= 1
                    self.http.counters.pages += 1
                    busy = counts["in_flight"]
                    asks = plan.returned(window, created, last, page.has_more, busy)
                ask(asks)  # counted before this page is handed over
                returned.put(answer)
            except BaseException as err:  # handed to the caller's thread
                returned.put(err)

        def wake() -> None:
            """The plan learned something between pages: ask what it wants now."""
            try:
                with lock:
                    asks = plan.woken(counts["in_flight"])
                ask(asks)
            except BaseException as err:  # handed to the caller's thread
                returned.put(err)

        with lock:
            first = plan.first()
        ask(first)
        plan.wake(wake)
        return self._handed(returned, lock, counts)

    @staticmethod
    def _handed(
        returned: "queue.SimpleQueue[Answer[DatedT] | BaseException]",
        lock: threading.Lock,
        counts: dict[str, int],
    ) -> Iterator[Answer[DatedT]]:
        """The pages of `windows` in the order they came back, to the caller's thread."""
        handed = 0
        while True:
            with lock:
                if handed == counts["outstanding"]:
                    return
            answer = returned.get()
            if isinstance(answer, BaseException):
                raise answer
            handed += 1
            yield answer

    def slots(self) -> int:
        """Requests worth having in flight: past rate x latency they only queue."""
        http = self.http
        return min(
            self.concurrency, max(2, math.ceil(SLOT_FACTOR * http.pacer.rate * http.latency))
        )

    def _window_page(
        self,
        path: str,
        params: Mapping[str, Any],
        model: type[Page[DatedT]],
        what: str,
        window: Window,
    ) -> Answer[DatedT]:
        page_params: dict[str, Any] = {
            **params,
            "limit": PAGE,
            "created": {"gte": window.gte, "lt": window.lt},
        }
        if window.cursor:
            page_params["starting_after"] = window.cursor
        body = self.http.get(path, page_params)
        return Answer(parse(model, body, what), body)
