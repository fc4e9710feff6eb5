"""Live Stripe: every subscription of the account, as fast as its rate limit allows.

Requests go through stripe-python's StripeClient, pinned to API version endive, one
level below `raw_request`: that one parses every body into OrderedDicts (112 us a
subscription here, 2.6x ffkpi's whole parse) only for ffkpi to throw them away. Error
responses still go through the SDK, so its typed errors are what ffkpi handles.

Subscriptions are read in `created` windows, each with its own cursor, several at
once; a window that turns out large is split so that every slot stays busy to the
end. Everything passes one shared pacer (`max_rps`) and one cap on requests in flight.
"""

import itertools
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import stripe

from ffkpi.errors import (
    FfkpiError,
    InputError,
    MissingPermissionError,
    StripeAuthError,
    StripeUnavailableError,
)
from ffkpi.model import Dataset, Subscription
from ffkpi.sources.stripe_json import (
    API_VERSION,
    Payload,
    Resolver,
    StripeCoupon,
    StripeInvoice,
    StripeItem,
    StripeLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    bulk_allocation,
    dotted,
    error_location,
    invoice_lines,
    malformed,
)

M = TypeVar("M", bound=Payload)
L = TypeVar("L", bound=Payload)
Raw = dict[str, list[dict[str, Any]]]

EARLIEST = 1_262_304_000  # 2010-01-01: before any Stripe subscription
PAGE = 100
EMPTY_PAGES = 10  # Stripe quirk: empty pages that say has_more, asked again at most this often
SUBSCRIPTION_EXPAND = ["data.discounts.source.coupon", "data.items.data.discounts"]
# What a restricted key needs per endpoint, in the Dashboard's words.
PERMISSIONS = {
    "/v1/subscriptions": "Subscriptions",
    "/v1/subscription_items": "Subscriptions",
    "/v1/prices": "Prices",
    "/v1/coupons": "Coupons",
    "/v1/products": "Products",
    "/v1/invoices": "Invoices",
}
KEY_PATTERN = re.compile(r"\b([sr]k)_(live|test)_[0-9A-Za-z]+")


def scrub(text: str) -> str:
    """Text with every Stripe secret or restricted key masked."""
    return KEY_PATTERN.sub(lambda m: f"{m.group(1)}_{m.group(2)}_***", text)


def is_test_key(key: str) -> bool:
    return key.startswith(("sk_test_", "rk_test_"))


class Pacer:
    """Spaces requests evenly across all threads (no bursts), at most `max_rate` a second.

    After a 429 it slows down (by 30 %, at most once a second, since the 429s of one
    burst arrive together), then climbs back by 1 % of the maximum per success.
    """

    def __init__(self, max_rate: float) -> None:
        self.max_rate = max_rate
        self.rate = max_rate
        self._next = 0.0
        self._slowed = -1.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1 / self.rate
        if start > now:
            time.sleep(start - now)

    def slow_down(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._slowed >= 1.0:
                self.rate = max(min(1.0, self.max_rate), self.rate * 0.7)
                self._slowed = now

    def succeeded(self) -> None:
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.max_rate * 0.01)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 16.0
    max_total: float = 180.0  # seconds, for one request and all its retries


@dataclass
class Counters:
    requests: int = 0
    pages: int = 0
    subscriptions: int = 0
    phase: str = "subscriptions"  # or "items", "invoices": what the run is reading now
    done: int = 0  # objects of that phase read so far
    total: int = 0  # and how many there are
    started: float = field(default_factory=time.monotonic)


class StripeHttp:
    """GET requests to Stripe: paced, capped, retried with backoff, errors explained."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        max_rps: float = 20,
        retry: RetryPolicy | None = None,
        timeout: float = 30,
    ) -> None:
        stripe.enable_telemetry = False  # no telemetry id written or sent
        self.key = api_key
        self.client = stripe.StripeClient(
            api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,  # retries are ours: the SDK's skip most 429s
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.pacer = Pacer(max_rps)
        self.retry = retry or RetryPolicy()
        self.counters = Counters()
        self.cancelled = threading.Event()  # set when the run has failed: stop at once
        self.latency = 0.3  # seconds, a moving average of successful requests
        self._lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        began = time.monotonic()
        for attempt in range(1, self.retry.attempts + 1):
            self.pacer.wait()
            if self.cancelled.is_set():
                raise _Cancelled
            with self._lock:
                self.counters.requests += 1
            reason = self._attempt(path, params)
            if isinstance(reason, bytes):
                return reason
            elapsed = time.monotonic() - began
            delay = random.uniform(0, min(self.retry.max_delay, self.retry.base_delay * 2**attempt))
            if attempt == self.retry.attempts or elapsed + delay > self.retry.max_total:
                raise StripeUnavailableError(
                    f"GET {path} failed {attempt} times over {elapsed:.0f} s; last: {reason}",
                    "Stripe is unreachable or busy: try again later, or lower --max-rps",
                    scrub(f"GET {path} with {dict(params or {})}"),
                )
            if self.cancelled.wait(delay):
                raise _Cancelled
        raise AssertionError("unreachable")  # the loop returns or raises

    def _attempt(self, path: str, params: Mapping[str, Any] | None) -> bytes | str:
        """The body, or why this attempt may be retried; raises what retrying can't fix."""
        requestor = self.client._requestor
        sent = time.monotonic()
        try:
            body, code, headers = requestor.request_raw(
                "get",
                path,
                params=dict(params or {}),
                options={},
                base_address="api",
                api_mode="V1",
                usage=["ffkpi"],
            )
            if code < 400:
                self.pacer.succeeded()
                with self._lock:
                    self.latency = 0.8 * self.latency + 0.2 * (time.monotonic() - sent)
                return body if isinstance(body, bytes) else str(body).encode()
            requestor._interpret_response(body, code, headers, "V1")
            return f"HTTP {code}"
        except stripe.RateLimitError as err:
            self.pacer.slow_down()
            why = (err.headers or {}).get("Stripe-Rate-Limited-Reason", "rate limited")
            return f"429 {why}"
        except stripe.APIConnectionError as err:
            return scrub(f"connection failed: {err.user_message or err}")
        except stripe.AuthenticationError as err:
            raise StripeAuthError(
                f"Stripe rejected the API key: {scrub(err.user_message or str(err))}",
                "check STRIPE_API_KEY or the file given to --api-key-file",
                _detail(err, path),
            ) from None
        except stripe.PermissionError as err:
            resource = PERMISSIONS.get(_endpoint(path), path)
            raise MissingPermissionError(
                f"the restricted key has no read access to {resource} (GET {path})",
                f"give the key the {resource} Read permission in the Stripe Dashboard "
                "(Developers > API keys), or use a key that has it",
                resource,
                _detail(err, path),
            ) from None
        except stripe.StripeError as err:
            status = err.http_status or 0
            # The SDK drops the code of a 409 (a plain APIError): read it from the body.
            error_code = err.code or _body_code(err.json_body)
            if status >= 500 or (status == 409 and error_code == "lock_timeout"):
                return f"HTTP {status} {error_code or ''}".strip()
            raise FfkpiError(
                f"Stripe refused GET {path}: {scrub(err.user_message or str(err))}",
                "this is a bug in ffkpi: please report it with --verbose output",
                _detail(err, path),
            ) from None


def _detail(err: stripe.StripeError, path: str) -> str:
    return scrub(
        f"GET {path}: HTTP {err.http_status}, request {err.request_id}, "
        f"Stripe said: {err.user_message or err}"
    )


def _body_code(body: object) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class _Cancelled(Exception):
    """Another request of the run failed; this one stops without a word of its own."""


def missing_permissions(http: StripeHttp, paths: Iterable[str]) -> list[MissingPermissionError]:
    """Which of these list endpoints the key may not read (one request each)."""
    missing = []
    for path in paths:
        try:
            http.get(path, {"limit": 1})
        except MissingPermissionError as err:
            missing.append(err)
    return missing


def _endpoint(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3])


class _ListPage(Payload, frozen=True):
    """A page of a list: its objects, and whether more follow."""

    data: list[Any]
    has_more: bool = False


class _Id(Payload, frozen=True):
    id: str


class _IdPage(_ListPage, frozen=True):
    data: list[_Id]


class _LinePage(_ListPage, frozen=True):
    data: list[StripeLine]


class _SubscriptionPage(_ListPage, frozen=True):
    data: list[StripeSubscription]


class _ItemPage(_ListPage, frozen=True):
    data: list[StripeItem]


class _PricePage(_ListPage, frozen=True):
    data: list[StripePrice]


class _CouponPage(_ListPage, frozen=True):
    data: list[StripeCoupon]


class _ProductPage(_ListPage, frozen=True):
    data: list[StripeProduct]


class _InvoicePage(_ListPage, frozen=True):
    data: list[StripeInvoice]


@dataclass
class _Window:
    """Subscriptions created in [gte, lt), read newest first from `cursor` on."""

    gte: int
    lt: int
    cursor: str | None = None
    empty_pages: int = 0

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "limit": PAGE,
            "created": {"gte": self.gte, "lt": self.lt},
            "expand": SUBSCRIPTION_EXPAND,
        }
        if self.cursor:
            params["starting_after"] = self.cursor
        return params


@dataclass
class Fetched:
    """What a run read: the domain data, and Stripe's JSON when asked to keep it.

    Raw subscriptions are kept as compact JSON text: a third of the memory of dicts.
    """

    dataset: Dataset
    raw_subscriptions: list[str] = field(default_factory=list)
    raw: Raw = field(default_factory=dict)  # prices, coupons, products, invoices


class AccountReader:
    """Reads every subscription and the side data the MRR rules need, from one account."""

    def __init__(
        self,
        http: StripeHttp,
        *,
        concurrency: int = 8,
        now: int | None = None,
        on_progress: Callable[[Counters], None] | None = None,
    ) -> None:
        self.http = http
        self.concurrency = concurrency
        self.now = now if now is not None else int(time.time())
        self.on_progress = on_progress or (lambda counters: None)

    def read(self, *, invoices_for: frozenset[str] | None, keep_raw: bool = False) -> Fetched:
        """`invoices_for`: statuses of subscriptions whose metered items need invoices."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="ffkpi") as pool:
            try:
                return self._read(pool, invoices_for, keep_raw)
            except BaseException:
                self.http.cancelled.set()  # requests in flight or backing off stop now
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _read(
        self, pool: ThreadPoolExecutor, invoices_for: frozenset[str] | None, keep_raw: bool
    ) -> Fetched:
        raw: Raw | None = (
            {"prices": [], "coupons": [], "products": [], "invoices": []} if keep_raw else None
        )
        # Side data is read alongside the first subscription pages, not before them.
        lists = {
            "prices": pool.submit(self._list_all, "/v1/prices", {"expand": ["data.tiers"]}),
            "coupons": pool.submit(self._list_all, "/v1/coupons", {"expand": ["data.applies_to"]}),
            "products": pool.submit(self._list_all, "/v1/products", {}),
        }
        resolver: Resolver | None = None
        subscriptions: dict[str, Subscription] = {}
        partial: dict[str, StripeSubscription] = {}  # more items than a page embeds
        raw_subs: dict[str, str] = {}
        counters = self.http.counters
        with bulk_allocation():
            for page, raw_page in self._subscription_pages(pool, keep_raw):
                if resolver is None:
                    resolver = self._side_data(lists, raw)
                fresh = []
                for position, sub in enumerate(page.data):
                    if sub.id in subscriptions or sub.id in partial:
                        continue  # windows and retries can overlap: once each
                    if raw_page is not None:
                        raw_subs[sub.id] = raw_page[position]
                    if sub.items.has_more:
                        partial[sub.id] = sub
                    else:
                        fresh.append(sub)
                self._side_data_by_id(pool, fresh, resolver, raw)
                for sub in fresh:
                    subscriptions[sub.id] = resolver.subscription(sub)
                counters.subscriptions = len(subscriptions) + len(partial)
                self.on_progress(counters)
            if resolver is None:
                resolver = self._side_data(lists, raw)
            completed = self._complete_items(pool, partial, raw_subs if keep_raw else None)
            self._side_data_by_id(pool, completed, resolver, raw)
            for sub in completed:
                subscriptions[sub.id] = resolver.subscription(sub)
        domain = tuple(subscriptions.values())
        lines = []
        if invoices_for is not None:
            metered = [
                sub.id
                for sub in domain
                if sub.status in invoices_for and any(i.price.metered for i in sub.items)
            ]
            lines = invoice_lines(self._invoices(pool, metered, raw))
        dataset = Dataset(domain, product_names=resolver.product_names, invoice_lines=tuple(lines))
        return Fetched(dataset, list(raw_subs.values()), raw or {})

    def _side_data(self, lists: dict[str, Future[list[bytes]]], raw: Raw | None) -> Resolver:
        pages = {name: future.result() for name, future in lists.items()}
        prices: list[StripePrice] = _all(_PricePage, pages["prices"], "prices")
        tiered = {p.id for p in prices if p.billing_scheme == "tiered"}
        coupons = _all(_CouponPage, pages["coupons"], "coupons")
        products = _all(_ProductPage, pages["products"], "products")
        if raw is not None:
            raw["prices"] = [p for p in _raw_data(pages["prices"]) if p["id"] in tiered]
            raw["coupons"] = _raw_data(pages["coupons"])
            raw["products"] = _raw_data(pages["products"])
        return Resolver([p for p in prices if p.id in tiered], coupons, products)

    def _phase(self, phase: str, total: int) -> None:
        counters = self.http.counters
        counters.phase, counters.done, counters.total = phase, 0, total
        self.on_progress(counters)

    def _advance(self) -> None:
        self.http.counters.done += 1
        self.on_progress(self.http.counters)

    def _list_all(self, path: str, params: Mapping[str, Any]) -> list[bytes]:
        bodies: list[bytes] = []
        cursor: str | None = None
        empty = 0
        while True:
            page_params = {**params, "limit": PAGE}
            if cursor:
                page_params["starting_after"] = cursor
            body = self.http.get(path, page_params)
            page = _parse(_IdPage, body, path)
            if not page.has_more:
                bodies.append(body)
                return bodies
            if not page.data:
                empty = _empty_page(empty, path)
                continue
            bodies.append(body)
            cursor = page.data[-1].id

    def _subscription_pages(
        self, pool: ThreadPoolExecutor, keep_raw: bool
    ) -> Iterator[tuple[_SubscriptionPage, list[str] | None]]:
        """Every page of subscriptions, as windows return them; windows split as they go.

        It starts with one window over all time. Each page says how densely
        subscriptions were created there; while requests slots are free, the rest of a
        window is cut into new windows expected to hold about `WINDOW_PAGES` pages each
        (fewer toward the end, so the last pages are read in parallel too). Few, large
        windows keep the partial last page of each, an extra request, rare.
        """
        counters = self.http.counters
        pending: dict[Future[tuple[_SubscriptionPage, list[str] | None]], _Window] = {}

        def submit(window: _Window) -> None:
            pending[pool.submit(self._subscription_page, window, keep_raw)] = window

        submit(_Window(EARLIEST, self.now + 86_400))
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                window = pending.pop(future)
                page, raw_page = future.result()
                counters.pages += 1
                yield page, raw_page
                if not page.has_more:
                    continue
                if not page.data:
                    what = f"subscriptions created in [{window.gte}, {window.lt})"
                    window.empty_pages = _empty_page(window.empty_pages, what)
                    submit(window)
                    continue
                window.cursor = page.data[-1].id
                # The read is rate-bound once rate x latency requests are in flight; more
                # windows than that only add partial last pages (extra requests).
                needed = math.ceil(1.5 * self.http.pacer.rate * self.http.latency)
                free = min(self.concurrency, max(2, needed)) - len(pending) - 1
                for part in _split(window, page, free):
                    submit(part)
                submit(window)

    def _subscription_page(
        self, window: _Window, keep_raw: bool
    ) -> tuple[_SubscriptionPage, list[str] | None]:
        body = self.http.get("/v1/subscriptions", window.params())
        page = _parse(_SubscriptionPage, body, "subscriptions")
        if not keep_raw:
            return page, None
        compact = [json.dumps(entry, separators=(",", ":")) for entry in json.loads(body)["data"]]
        return page, compact

    def _complete_items(
        self,
        pool: ThreadPoolExecutor,
        partial: dict[str, StripeSubscription],
        raw_subs: dict[str, str] | None,
    ) -> list[StripeSubscription]:
        """Subscriptions with more items than a list page embeds, with all of them."""
        params = {"expand": ["data.discounts"]}
        ids = list(partial)
        completed = []
        self._phase("items", len(ids))
        for sub_id, bodies in zip(
            ids,
            pool.map(
                lambda s: self._list_all("/v1/subscription_items", {**params, "subscription": s}),
                ids,
            ),
            strict=True,
        ):
            sub = partial[sub_id]
            items = _whole(sub.items, bodies, _ItemPage, "subscription items")
            completed.append(msgspec.structs.replace(sub, items=items))
            self._advance()
            if raw_subs is not None:
                entry = json.loads(raw_subs[sub_id])
                entry["items"] = _whole_raw(entry["items"], bodies)
                raw_subs[sub_id] = json.dumps(entry, separators=(",", ":"))
        return completed

    def _side_data_by_id(
        self,
        pool: ThreadPoolExecutor,
        subscriptions: Iterable[StripeSubscription],
        resolver: Resolver,
        raw: Raw | None,
    ) -> None:
        """Tiered prices and coupons the account lists did not hold, fetched once each."""
        prices: set[str] = set()
        coupons: set[str] = set()
        for sub in subscriptions:
            discounts = list(sub.discounts)
            for item in sub.items.data:
                if item.price.billing_scheme == "tiered":
                    prices.add(item.price.id)
                discounts += item.discounts
            for discount in discounts:
                if not isinstance(discount, str) and isinstance(discount.source.coupon, str):
                    coupons.add(discount.source.coupon)
        for body in self._by_id(pool, "prices", prices - resolver.full_prices.keys(), "tiers"):
            price = _parse(StripePrice, body, "price")
            resolver.full_prices[price.id] = price
            if raw is not None:
                raw["prices"].append(json.loads(body))
        for body in self._by_id(
            pool, "coupons", coupons - resolver.full_coupons.keys(), "applies_to"
        ):
            coupon = _parse(StripeCoupon, body, "coupon")
            resolver.full_coupons[coupon.id] = coupon
            if raw is not None:
                raw["coupons"].append(json.loads(body))

    def _by_id(
        self, pool: ThreadPoolExecutor, resource: str, ids: set[str], expand: str
    ) -> Iterator[bytes]:
        return pool.map(
            lambda one: self.http.get(f"/v1/{resource}/{one}", {"expand": [expand]}), sorted(ids)
        )

    def _invoices(
        self,
        pool: ThreadPoolExecutor,
        subscription_ids: list[str],
        raw: Raw | None,
    ) -> list[StripeInvoice]:
        """The newest invoices of each subscription with metered items (lines complete)."""
        invoices: list[StripeInvoice] = []

        def newest_invoices(subscription: str) -> bytes:
            return self.http.get("/v1/invoices", {"subscription": subscription, "limit": 10})

        self._phase("invoices", len(subscription_ids))
        for body in pool.map(newest_invoices, subscription_ids):
            self._advance()
            page = _parse(_InvoicePage, body, "invoices")
            raw_page = json.loads(body)["data"] if raw is not None else None
            for position, invoice in enumerate(page.data):
                if invoice.lines.has_more:
                    bodies = self._list_all(f"/v1/invoices/{invoice.id}/lines", {})
                    lines = _whole(invoice.lines, bodies, _LinePage, "invoice lines")
                    invoice = msgspec.structs.replace(invoice, lines=lines)  # noqa: PLW2901
                    if raw_page is not None:
                        raw_page[position]["lines"] = _whole_raw(
                            raw_page[position]["lines"], bodies
                        )
                invoices.append(invoice)
            if raw is not None and raw_page is not None:
                raw["invoices"].extend(raw_page)
        return invoices


WINDOW_PAGES = 20


def _empty_page(seen: int, what: str) -> int:
    """Count one more empty page that says has_more; too many in a row is an error."""
    if seen >= EMPTY_PAGES:
        raise StripeUnavailableError(
            f"Stripe kept returning empty pages that say has_more for {what}",
            "try again later",
        )
    return seen + 1


def _split(window: _Window, page: "_SubscriptionPage", free: int) -> list[_Window]:
    """Cut the unread rest of a window into new windows while request slots are free.

    Everything still to read was created at or before the page's oldest subscription:
    the window keeps the newest part (and its cursor), new windows take older parts,
    each expected to hold about WINDOW_PAGES pages at the density this page showed,
    and the oldest new window takes whatever is left down to the window's start.
    """
    if free <= 0:
        return []
    newest, oldest = page.data[0].created, page.data[-1].created
    density = len(page.data) / max(1, newest - oldest)  # subscriptions per second
    rest = oldest + 1 - window.gte
    expected_pages = density * rest / PAGE
    per_window = max(2.0, min(WINDOW_PAGES, expected_pages / (free + 1)))
    parts = min(free + 1, int(expected_pages / per_window))
    if parts < 2:
        return []
    span = max(1, int(per_window * PAGE / density))
    cuts = [max(window.gte, oldest + 1 - span * k) for k in range(1, parts)] + [window.gte]
    window.gte = cuts[0]
    return [_Window(low, high) for high, low in itertools.pairwise(cuts) if low < high]


def _parse(model: type[M], body: bytes, what: str) -> M:
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


def _all(model: type[_ListPage], bodies: list[bytes], what: str) -> list[Any]:
    """The objects of every page of one list."""
    return [entry for body in bodies for entry in _parse(model, body, what).data]


def _whole(listed: L, bodies: list[bytes], model: type[_ListPage], what: str) -> L:
    """A list object that said has_more, with every page's objects in it."""
    return msgspec.structs.replace(listed, data=_all(model, bodies, what), has_more=False)


def _whole_raw(listed: dict[str, Any], bodies: list[bytes]) -> dict[str, Any]:
    return {**listed, "data": _raw_data(bodies), "has_more": False}


def _raw_data(bodies: list[bytes]) -> list[dict[str, Any]]:
    return [entry for body in bodies for entry in json.loads(body)["data"]]
