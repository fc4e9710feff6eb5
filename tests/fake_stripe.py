"""A Stripe imitation on 127.0.0.1 for tests and benchmarks: the endive shapes ffkpi uses.

Objects are stored as Stripe stores them (discounts, coupons and tiers by reference)
and expanded per request, with Stripe's limit of four levels (`data.` counts as one).
Lists are newest first with `starting_after`/`ending_before` cursors, `limit` 1-100,
`created[gte|gt|lt|lte]`, `status`, `price` and `customer` filters. Keys: one secret
key, restricted keys with a set of permissions, 401/403 as Stripe words them. Its own
rate limit answers 429 with Stripe-Rate-Limited-Reason. Faults can be injected:
latency, 500s, 409 lock_timeout, dropped connections, spurious empty pages.

Run alone (for benchmarks): python tests/fake_stripe.py --subscriptions N --port P ...
"""

import argparse
import bisect
import copy
import gc
import json
import math
import random
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ffkpi.stripe.lists import ENDPOINTS

Json = dict[str, Any]
SECRET_KEY = "sk_test_ffkpiFakeStripeKey0001"
ACCOUNT = "acct_1FfkpiFake0001"
# Each Read permission of a restricted key, as Stripe names it in a 403.
RAK = {
    "Subscriptions": "rak_subscription_read",
    "Prices": "rak_price_read",
    "Coupons": "rak_coupon_read",
    "Products": "rak_product_read",
    "Invoices": "rak_invoice_read",
    "Customers": "rak_customer_read",
}
# The endpoints ffkpi's table lists, and the rest of a subscription's items.
RESOURCE_OF = {
    endpoint.path.removeprefix("/v1/"): (RAK[endpoint.permission], endpoint.permission)
    for endpoint in ENDPOINTS
} | {"subscription_items": (RAK["Subscriptions"], "Subscriptions")}
ALL_PERMISSIONS = frozenset(p for p, _ in RESOURCE_OF.values())
SIMPLE = {e.path.removeprefix("/v1/"): e for e in ENDPOINTS if e.read in ("side", "names")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that left before its answer (a run interrupted, a timeout) is what a
        # real API shrugs off too; a traceback here would land in another test's stderr.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for a fake API on 127.0.0.1, serving on a thread of its own."""
    server = _Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0  # 500
    lock_timeout_rate: float = 0.0  # 409 lock_timeout
    drop_rate: float = 0.0  # connection closed with no response
    empty_page_rate: float = 0.0  # a subscription page with no data that says has_more
    always_fail: bool = False  # every request 500
    not_json: bool = False  # every answer a 200 HTML page, as a captive portal sends
    seed: int = 1
    # Faults for the first requests admitted, in order ("drop", "500", "409"), before the
    # random ones: a test that needs each fault to happen gets it whatever the order.
    first: tuple[str, ...] = ()


@dataclass
class Logged:
    path: str
    params: dict[str, Any]
    status: int
    at: float
    key: str
    version: str | None


@dataclass
class Store:
    subscriptions: list[Json] = field(default_factory=list)  # newest first
    by_id: dict[str, Json] = field(default_factory=dict)
    prices: dict[str, Json] = field(default_factory=dict)
    tiers: dict[str, list[Json]] = field(default_factory=dict)
    coupons: dict[str, Json] = field(default_factory=dict)
    applies_to: dict[str, Json] = field(default_factory=dict)
    discounts: dict[str, Json] = field(default_factory=dict)
    products: dict[str, Json] = field(default_factory=dict)
    customers: dict[str, Json] = field(default_factory=dict)
    invoices: list[Json] = field(default_factory=list)  # newest first
    invoice_items: list[Json] = field(default_factory=list)  # newest first
    position: dict[str, int] = field(default_factory=dict)  # subscription id -> list index
    negated_created: list[int] = field(default_factory=list)  # ascending, for bisect
    invoice_position: dict[str, int] = field(default_factory=dict)  # id -> list index
    invoice_negated_created: list[int] = field(default_factory=list)  # ascending


def _canonical_price(price: Json, store: Store) -> Json:
    body = {k: v for k, v in price.items() if k != "tiers"}
    if "tiers" in price:
        store.tiers[price["id"]] = price["tiers"]
    store.prices.setdefault(price["id"], body)
    return body


def _canonical_discount(discount: Json, store: Store) -> str:
    coupon = discount["source"]["coupon"]
    if isinstance(coupon, dict):
        _store_coupon(coupon, store)
        coupon = coupon["id"]
    store.discounts[discount["id"]] = {
        **discount,
        "source": {**discount["source"], "coupon": coupon},
    }
    return str(discount["id"])


def _store_coupon(coupon: Json, store: Store) -> None:
    body = {k: v for k, v in coupon.items() if k != "applies_to"}
    if "applies_to" in coupon:
        store.applies_to[coupon["id"]] = coupon["applies_to"]
    store.coupons.setdefault(coupon["id"], body)


def load(bundle: Json) -> Store:
    """A bundle in ffkpi's format (expanded as it likes) -> Stripe's stored form."""
    store = Store()
    for price in bundle.get("prices", []):
        _canonical_price(price, store)
    for coupon in bundle.get("coupons", []):
        _store_coupon(coupon, store)
        if "applies_to" in coupon:
            store.applies_to[coupon["id"]] = coupon["applies_to"]
    for product in bundle.get("products", []):
        store.products[product["id"]] = product
    for customer in bundle.get("customers", []):
        store.customers[customer["id"]] = customer
    for raw in bundle["subscriptions"]:
        sub = copy.deepcopy(raw)
        sub["discounts"] = [
            d if isinstance(d, str) else _canonical_discount(d, store) for d in sub["discounts"]
        ]
        for item in sub["items"]["data"]:
            item["price"] = _canonical_price(item["price"], store)
            item["discounts"] = [
                d if isinstance(d, str) else _canonical_discount(d, store)
                for d in item["discounts"]
            ]
        store.subscriptions.append(sub)
        store.by_id[sub["id"]] = sub
    store.subscriptions.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
    store.position = {s["id"]: n for n, s in enumerate(store.subscriptions)}
    store.negated_created = [-s["created"] for s in store.subscriptions]
    store.invoices = sorted(
        bundle.get("invoices", []), key=lambda i: (i["created"], i["id"]), reverse=True
    )
    store.invoice_negated_created = [-i["created"] for i in store.invoices]
    store.invoice_position = {i["id"]: n for n, i in enumerate(store.invoices)}
    store.invoice_items = sorted(
        bundle.get("invoice_items", []), key=lambda i: (i["date"], i["id"]), reverse=True
    )
    return store


class StripeError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": "invalid_request_error", **extra}}
        self.headers: dict[str, str] = {}


def _parse_query(query: str) -> dict[str, Any]:
    """Stripe's bracket form: created[gte]=1, expand[]=a or expand[0]=a."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "[" in key:
            name, _, rest = key.partition("[")
            inner = rest.rstrip("]")
            if name == "expand" or inner == "" or inner.isdigit():
                params.setdefault(name, []).append(value)
            else:
                params.setdefault(name, {})[inner] = value
        else:
            params[key] = value
    return params


def _created_bounds(params: dict[str, Any]) -> tuple[int, int]:
    """created[gte|gt|lt|lte] (or created=N) as inclusive bounds."""
    created = params.get("created", {})
    if isinstance(created, str):
        created = {"gte": created, "lte": created}
    bounds = {op: int(value) for op, value in created.items()}
    newest = min(bounds.get("lt", 2**62) - 1, bounds.get("lte", 2**62))
    oldest = max(bounds.get("gte", -(2**62)), bounds.get("gt", -(2**62)) + 1)
    return oldest, newest


class FakeStripe:
    def __init__(
        self,
        bundle: Json,
        *,
        rate_limit: float | None = None,
        faults: Faults | None = None,
        restricted: dict[str, frozenset[str]] | None = None,
        items_per_subscription: int = 20,
        lines_per_invoice: int = 10,
    ) -> None:
        self.store = load(bundle)
        self.rate_limit = rate_limit
        self.faults = faults or Faults()
        self.restricted = restricted or {}
        self.items_cut = items_per_subscription
        self.lines_cut = lines_per_invoice
        self.log: list[Logged] = []
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self._scripted_count = 0
        self._cache: dict[tuple[str, tuple[str, ...]], str] = {}
        self.server: ThreadingHTTPServer | None = None

    # --- serving -------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = serve(Handler, port)
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _scripted(self) -> str | None:
        with self._lock:
            done = self._scripted_count
            self._scripted_count += 1
        return self.faults.first[done] if done < len(self.faults.first) else None

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._random.random() < rate

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        params = _parse_query(url.query)
        key = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        version = handler.headers.get("Stripe-Version")
        status, body, headers = 200, "", {}
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        try:
            self._admit()
            scripted = self._scripted()
            if scripted == "drop" or self._roll(self.faults.drop_rate):
                self._record(url.path, params, 0, key, version)
                handler.close_connection = True
                handler.connection.shutdown(2)
                return
            if scripted == "500" or self.faults.always_fail or self._roll(self.faults.error_rate):
                raise StripeError(500, "An unknown error occurred", type="api_error")
            if scripted == "409" or self._roll(self.faults.lock_timeout_rate):
                raise StripeError(
                    409, "This object cannot be accessed right now", code="lock_timeout"
                )
            self._authorize(key, url.path)
            body = self._route(url.path, params)
        except StripeError as err:
            status, body, headers = err.status, json.dumps(err.body), err.headers
        self._record(url.path, params, status, key, version)
        content_type = "application/json"
        if self.faults.not_json:
            status, body, content_type = (
                200,
                "<html><body>Sign in to Wi-Fi</body></html>",
                "text/html",
            )
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_fake{len(self.log)}")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _record(
        self, path: str, params: dict[str, Any], status: int, key: str, version: str | None
    ) -> None:
        with self._lock:
            self.log.append(Logged(path, params, status, time.monotonic(), key, version))

    def _admit(self) -> None:
        if self.rate_limit is None:
            return
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                err = StripeError(
                    429,
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                )
                err.headers = {"Stripe-Rate-Limited-Reason": "global-rate"}
                raise err
            self._recent.append(now)

    def _authorize(self, key: str, path: str) -> None:
        masked = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else key
        if key == SECRET_KEY:
            return
        permissions = self.restricted.get(key)
        if permissions is None:
            raise StripeError(401, f"Invalid API Key provided: {masked}")
        resource = path.split("/")[2] if path.count("/") >= 2 else ""
        needed = RESOURCE_OF.get(resource, ("rak_unknown", "Unknown"))[0]
        if needed not in permissions:
            raise StripeError(
                403,
                f"The provided key '{masked}' does not have the required permissions for this "
                f"endpoint on account '{ACCOUNT}'. Having the '{needed}' permission would allow "
                "this request to continue.",
            )

    # --- routes ----------------------------------------------------------------------
    def _route(self, path: str, params: dict[str, Any]) -> str:
        parts = path.strip("/").split("/")
        if parts[0] != "v1" or len(parts) < 2:
            raise StripeError(404, f"Unrecognized request URL (GET: {path}).")
        expand = [str(e) for e in params.get("expand", [])]
        for entry in expand:
            if entry.count(".") + 1 > 4:
                raise StripeError(
                    400,
                    f"You cannot expand more than 4 levels of a property. Property: {entry}",
                    param="expand",
                )
        resource, rest = parts[1], parts[2:]
        if resource == "subscriptions" and not rest:
            return self._list_subscriptions(params, expand)
        if resource == "subscription_items" and not rest:
            sub = self.store.by_id.get(str(params.get("subscription")))
            if sub is None:
                raise StripeError(404, f"No such subscription: '{params.get('subscription')}'")
            items = [
                self._expand(i, [e.removeprefix("data.") for e in expand])
                for i in sub["items"]["data"]
            ]
            return self._page(items, params, "/v1/subscription_items")
        simple = SIMPLE.get(resource)
        if simple is not None:  # listed whole, or retrieved by id
            return self._simple(getattr(self.store, simple.key), rest, params, expand, simple.kind)
        if resource == "invoices":
            return self._invoices(rest, params)
        if resource == "invoiceitems" and not rest:
            pending = params.get("pending")
            chosen = [
                i
                for i in self.store.invoice_items
                if pending is None or (i["invoice"] is None) == (pending == "true")
            ]
            return self._page(chosen, params, "/v1/invoiceitems")
        raise StripeError(404, f"Unrecognized request URL (GET: {path}).")

    def _limit(self, params: dict[str, Any]) -> int:
        raw = params.get("limit", "10")
        if not str(raw).isdigit() or not 1 <= int(raw) <= 100:
            raise StripeError(
                400, f"Invalid integer: {raw}; limit must be between 1 and 100", param="limit"
            )
        return int(raw)

    def _page(self, objects: list[Json], params: dict[str, Any], url: str) -> str:
        limit = self._limit(params)
        ids = [o["id"] for o in objects]
        start, end = 0, len(objects)
        if "starting_after" in params:
            if params["starting_after"] not in ids:
                raise StripeError(
                    400, f"No such object: '{params['starting_after']}'", param="starting_after"
                )
            start = ids.index(params["starting_after"]) + 1
        if "ending_before" in params:
            if params["ending_before"] not in ids:
                raise StripeError(
                    400, f"No such object: '{params['ending_before']}'", param="ending_before"
                )
            end = ids.index(params["ending_before"])
            start = max(start, end - limit)
        chosen = objects[start : min(end, start + limit)]
        has_more = start + limit < end if "ending_before" not in params else start > 0
        return json.dumps({"object": "list", "data": chosen, "has_more": has_more, "url": url})

    def _list_subscriptions(self, params: dict[str, Any], expand: list[str]) -> str:
        store = self.store
        status = params.get("status")
        oldest, newest = _created_bounds(params)
        # The list is newest first: the created range is one slice of it.
        low = bisect.bisect_left(store.negated_created, -newest)
        high = bisect.bisect_right(store.negated_created, -oldest)

        def wanted(sub: Json) -> bool:
            if status is None and sub["status"] == "canceled":
                return False  # Stripe's default: everything but canceled
            if status not in (None, "all") and sub["status"] != status:
                return False
            if "customer" in params and sub["customer"] != params["customer"]:
                return False
            return "price" not in params or any(
                i["price"]["id"] == params["price"] for i in sub["items"]["data"]
            )

        limit = self._limit(params)
        if "ending_before" in params:
            page = json.loads(
                self._page(
                    [{"id": s["id"]} for s in store.subscriptions[low:high] if wanted(s)],
                    params,
                    "/v1/subscriptions",
                )
            )
            chosen, has_more = [entry["id"] for entry in page["data"]], page["has_more"]
        else:
            start = low
            if "starting_after" in params:
                cursor = store.position.get(str(params["starting_after"]))
                if cursor is None:
                    raise StripeError(
                        400,
                        f"No such subscription: '{params['starting_after']}'",
                        param="starting_after",
                    )
                start = max(low, cursor + 1)
            chosen, has_more = [], False
            for sub in store.subscriptions[start:high]:
                if wanted(sub):
                    if len(chosen) == limit:
                        has_more = True
                        break
                    chosen.append(sub["id"])
        if chosen and "starting_after" in params and self._roll(self.faults.empty_page_rate):
            return '{"object":"list","data":[],"has_more":true,"url":"/v1/subscriptions"}'
        key = tuple(sorted(expand))
        rendered = [self._rendered(sub_id, key) for sub_id in chosen]
        more = "true" if has_more else "false"
        return (
            '{"object":"list","data":[' + ",".join(rendered) + f'],"has_more":{more},'
            '"url":"/v1/subscriptions"}'
        )

    def _rendered(self, sub_id: str, expand: tuple[str, ...]) -> str:
        text = self._cache.get((sub_id, expand))
        if text is None:
            text = json.dumps(self._subscription(self.store.by_id[sub_id], list(expand)))
            self._cache[(sub_id, expand)] = text
        return text

    def prerender(self, expand: list[str]) -> None:
        """Render every subscription once, so a benchmark times latency, not this fake."""
        key = tuple(sorted(expand))
        for sub in self.store.subscriptions:
            self._rendered(sub["id"], key)

    def _subscription(self, stored: Json, expand: list[str]) -> Json:
        sub = json.loads(json.dumps(stored))  # a deep copy, several times faster
        items = sub["items"]["data"]
        sub["items"] = {
            **sub["items"],
            "data": items[: self.items_cut],
            "has_more": len(items) > self.items_cut,
            "total_count": len(items),
        }
        return self._expand(sub, [e.removeprefix("data.") for e in expand], copied=True)

    def _expand(self, obj: Json, paths: list[str], *, copied: bool = False) -> Json:
        if not copied:
            obj = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(obj, path.split("."))
        return obj

    def _expand_path(self, node: Any, parts: list[str]) -> None:
        if not parts or node is None:
            return
        if isinstance(node, list):
            for entry in node:
                self._expand_path(entry, parts)
            return
        head, rest = parts[0], parts[1:]
        kind = node.get("object")
        if kind == "list" and head == "data":
            self._expand_path(node["data"], rest)
            return
        if (
            head not in node
            and not (kind == "price" and head == "tiers")
            and not (kind == "coupon" and head == "applies_to")
        ):
            raise StripeError(400, f"This property cannot be expanded ({head}).", param="expand")
        if kind in ("subscription", "subscription_item") and head == "discounts":
            node["discounts"] = [
                copy.deepcopy(self.store.discounts[d]) if isinstance(d, str) else d
                for d in node["discounts"]
            ]
        elif head in {"price", "source", "items"}:
            pass  # objects Stripe embeds anyway: the path only walks through them
        elif "coupon" in node and head == "coupon" and isinstance(node["coupon"], str):
            node["coupon"] = self._coupon(node["coupon"], [])
        elif kind == "price" and head == "tiers":
            node["tiers"] = copy.deepcopy(self.store.tiers.get(node["id"], []))
        elif kind == "coupon" and head == "applies_to":
            node["applies_to"] = copy.deepcopy(
                self.store.applies_to.get(node["id"], {"products": []})
            )
        elif kind == "subscription" and head == "customer":
            node["customer"] = {"id": node["customer"], "object": "customer"}
        else:
            raise StripeError(400, f"This property cannot be expanded ({head}).", param="expand")
        self._expand_path(node[head], rest)

    def _coupon(self, coupon_id: str, expand: list[str]) -> Json:
        coupon = copy.deepcopy(self.store.coupons[coupon_id])
        if "applies_to" in expand:
            coupon["applies_to"] = copy.deepcopy(
                self.store.applies_to.get(coupon_id, {"products": []})
            )
        return coupon

    def _simple(
        self,
        table: dict[str, Json],
        rest: list[str],
        params: dict[str, Any],
        expand: list[str],
        kind: str,
    ) -> str:
        if rest:
            if rest[0] not in table:
                raise StripeError(404, f"No such {kind}: '{rest[0]}'", code="resource_missing")
            return json.dumps(self._expand(table[rest[0]], expand))
        objects = sorted(table.values(), key=lambda o: (o.get("created", 0), o["id"]), reverse=True)
        inner = [e.removeprefix("data.") for e in expand]
        return self._page([self._expand(o, inner) for o in objects], params, f"/v1/{kind}s")

    def _invoices(self, rest: list[str], params: dict[str, Any]) -> str:
        if rest:
            position = self.store.invoice_position.get(rest[0])
            invoice = None if position is None else self.store.invoices[position]
            if invoice is None:
                raise StripeError(404, f"No such invoice: '{rest[0]}'", code="resource_missing")
            if rest[1:] == ["lines"]:
                return self._page(invoice["lines"]["data"], params, f"/v1/invoices/{rest[0]}/lines")
            return json.dumps(self._invoice(invoice))
        store = self.store
        oldest, newest = _created_bounds(params)
        # Newest first, as Stripe lists them: the created range is one slice of the list,
        # and only the page served is rendered (a list of 200,000 stays fast).
        low = bisect.bisect_left(store.invoice_negated_created, -newest)
        high = bisect.bisect_right(store.invoice_negated_created, -oldest)
        if "subscription" in params:
            wanted = params["subscription"]
            chosen = [
                i
                for i in store.invoices[low:high]
                if i["parent"]["subscription_details"]["subscription"] == wanted
            ]
            return self._page([self._invoice(i) for i in chosen], params, "/v1/invoices")
        if "ending_before" in params:  # rare here: the general path
            return self._page(
                [self._invoice(i) for i in store.invoices[low:high]], params, "/v1/invoices"
            )
        start = low
        after = params.get("starting_after")
        if after is not None:
            position = store.invoice_position.get(after)
            if position is None or not low <= position < high:
                raise StripeError(400, f"No such object: '{after}'", param="starting_after")
            start = position + 1
        limit = self._limit(params)
        page = [self._invoice(i) for i in store.invoices[start : min(high, start + limit)]]
        has_more = start + limit < high
        body = {"object": "list", "data": page, "has_more": has_more, "url": "/v1/invoices"}
        return json.dumps(body)

    def _invoice(self, invoice: Json) -> Json:
        lines = invoice["lines"]["data"]
        return {
            **invoice,
            "lines": {
                **invoice["lines"],
                "data": lines[: self.lines_cut],
                "has_more": len(lines) > self.lines_cut,
            },
        }

    # --- for assertions ---------------------------------------------------------------
    def requests(self, path_prefix: str = "") -> list[Logged]:
        with self._lock:
            return [entry for entry in self.log if entry.path.startswith(path_prefix)]


BULK = 500  # subscriptions a bulk import creates in one second


def growing(subscriptions: list[Json], now: int, seed: int = 7) -> None:
    """Creation times of a growing business: sign-ups doubling every six months over
    four years, so most subscriptions are recent, and a bulk import of BULK in one
    second a month ago (a migration from another billing system)."""
    rng = random.Random(seed)
    year = 365 * 86_400
    bulk_second = now - 30 * 86_400
    for n, sub in enumerate(subscriptions):
        if n < BULK:
            sub["created"] = bulk_second
            continue
        age = rng.expovariate(math.log(2) / (year / 2))
        while age >= 4 * year:
            age = rng.expovariate(math.log(2) / (year / 2))
        sub["created"] = now - 86_400 - int(age)
    subscriptions.sort(key=lambda sub: (-sub["created"], sub["id"]))


POWER_BULK = 300  # created in one second in the power-law profile


def power_law(subscriptions: list[Json], now: int, seed: int = 13) -> None:
    """Creation times whose ages follow a power law, seven years x u^2.5 for uniform u
    (most subscriptions recent, a long sparse tail), and POWER_BULK created in one
    second a month ago."""
    rng = random.Random(seed)
    seven_years = 7 * 365 * 86_400
    bulk_second = now - 30 * 86_400
    for n, sub in enumerate(subscriptions):
        age = int(seven_years * rng.random() ** 2.5)
        sub["created"] = bulk_second if n < POWER_BULK else now - 60 - age
    subscriptions.sort(key=lambda sub: (-sub["created"], sub["id"]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Stripe on 127.0.0.1.")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--profile",
        choices=("uniform", "growing", "power"),
        default="uniform",
        help="creation times: even over two years, a growing business's (see growing()), "
        "or a power law's (see power_law())",
    )
    parser.add_argument("--bundle-out", type=Path, help="also write the data as a bundle")
    parser.add_argument("--bundle", type=Path, help="serve this bundle instead of generating")
    parser.add_argument(
        "--prerender",
        action="append",
        default=[],
        metavar="EXPAND,EXPAND",
        help="render every subscription with these expansions before serving",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import make_demo

    if args.bundle:
        bundle = json.loads(args.bundle.read_bytes())
    else:
        builder = make_demo.Builder(seed=11)
        for n in range(args.subscriptions):
            builder.subscription(n, builder.kind())
        if args.profile == "growing":
            growing(builder.subscriptions, make_demo.NOW)
        elif args.profile == "power":
            power_law(builder.subscriptions, make_demo.NOW)
        bundle = {
            "subscriptions": builder.subscriptions,
            "prices": make_demo.TIERED_PRICES,
            "coupons": make_demo.BUNDLE_COUPONS,
            "products": make_demo.PRODUCTS,
            "invoices": builder.invoices,
        }
    if args.bundle_out:
        args.bundle_out.write_text(json.dumps(bundle))
    fake = FakeStripe(bundle, rate_limit=args.rate_limit, faults=Faults(latency_ms=args.latency_ms))
    for expand in args.prerender:
        fake.prerender(expand.split(","))
    # Millions of long-lived objects: without this, full collections stall the server.
    gc.collect()
    gc.freeze()
    url = fake.start(args.port)
    print(url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
