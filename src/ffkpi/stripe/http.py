"""GET requests to Stripe: paced, capped, retried with backoff, errors explained.

Requests go through stripe-python's StripeClient, pinned to API version endive, one
level below `raw_request`: that one parses every body into OrderedDicts (112 us a
subscription here, 2.6x ffkpi's whole parse) only for ffkpi to throw them away. Error
responses still go through the SDK, so its typed errors are what ffkpi handles. This is
the only module that touches the SDK's internals.
"""

import ipaddress
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import stripe
from ffkpi.errors import (
    FfkpiError,
    MissingPermissionError,
    StripeAuthError,
    StripeUnavailableError,
    UsageError,
)
from ffkpi.storage.config_file import ENV_API_BASE
from ffkpi.stripe.lists import PERMISSIONS
from ffkpi.stripe.payloads import API_VERSION
from ffkpi.text import keep_secret, scrub
from stripe import _util as stripe_util

STRIPE_API = "https://api.stripe.com"


def check_api_base(
    base: str, setting: str = f"--api-base / ${ENV_API_BASE}", default: str = STRIPE_API
) -> str:
    """The base URL every request goes to, once it is safe to send the key there.

    The key or token travels in every request's Authorization header: over plain HTTP
    only to this machine (a test double or a local proxy), never across a network.
    `setting` is where the URL was given; `default` the API's own.
    """
    try:
        parts = urlsplit(base)
        scheme, host, _ = parts.scheme, parts.hostname, parts.port  # a bad port raises
    except ValueError:  # an unclosed [IPv6] bracket, a port that is not a number
        scheme, host = "", None
    if scheme not in ("http", "https") or not host or base != base.strip() or " " in base:
        raise UsageError(
            f"{setting} {base!r} is not a URL",
            f"give a base URL such as {default}, or unset it",
        )
    if scheme == "http" and not _loopback(host):
        raise UsageError(
            f"{setting} {base!r} is plain HTTP: the key would cross the network unencrypted",
            "use https://, or http:// only to this machine (localhost, 127.0.0.1, ::1)",
        )
    return base.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_test_key(key: str) -> bool:
    return key.startswith(("sk_test_", "rk_test_"))


class Pacer:
    """Spaces requests evenly across all threads (no bursts), at most `max_rate` a second.

    After a 429 it slows down (by 30 %, at most once a second, since the 429s of one
    burst arrive together), then climbs back by 1 % of the maximum per success.
    """

    def __init__(
        self,
        max_rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rate = max_rate
        self.rate = max_rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._slowed = -1.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Wait for this request's turn; returns the instant it was given."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + 1 / self.rate
        if start > now:
            self.sleep(start - now)
        return start

    def slow_down(self) -> None:
        with self._lock:
            now = self.clock()
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
    """How far a read has come, for the progress line."""

    requests: int = 0
    pages: int = 0
    subscriptions: int = 0
    phase: str = "subscriptions"  # or "items", "history", "invoices": what is read now
    done: int = 0  # objects of that phase read so far
    total: int = 0  # and how many there are
    started: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = f"{self.requests / elapsed:.1f} requests/s"
        if self.phase == "subscriptions":
            doing = f"{self.subscriptions:,} subscriptions, {self.pages:,} pages"
        elif self.phase == "items":
            doing = f"items of large subscriptions: {self.done:,}/{self.total:,}"
        elif self.phase == "history":
            doing = f"invoices for the history: {self.done:,}"
        else:
            doing = f"invoices of metered items: {self.done:,}/{self.total:,}"
        return f"{doing}, {rate}"


@dataclass(frozen=True)
class Progress:
    """A read's counters, and whoever shows them as they change."""

    counters: Counters
    show: Callable[[Counters], None]

    def phase(self, phase: str, total: int) -> None:
        counters = self.counters
        counters.phase, counters.done, counters.total = phase, 0, total
        self.show(counters)

    def advance(self) -> None:
        self.counters.done += 1
        self.show(self.counters)


class Cancelled(Exception):
    """Another request of the run failed; this one stops without a word of its own."""


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
        # The SDK's own log (STRIPE_LOG=debug, read when it is imported) prints requests
        # and answers past ffkpi's messages; ffkpi's errors say what went wrong.
        stripe_util.STRIPE_LOG = None
        stripe.log = None
        keep_secret(api_key)
        self.key = api_key
        self.base = check_api_base(api_base) if api_base else STRIPE_API
        self.client = stripe.StripeClient(
            api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": self.base},
            max_network_retries=0,  # retries are ours: the SDK's skip most 429s
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.pacer = Pacer(max_rps)
        self.retry = retry or RetryPolicy()
        self.counters = Counters()
        self.cancelled = threading.Event()  # set when the run has failed: stop at once
        self.latency = 0.3  # seconds, a moving average of successful requests
        self.in_flight = 0  # requests asked for and not yet answered, pacing included
        self._lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        with self._lock:
            self.in_flight += 1
        try:
            return self._get(path, params)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _get(self, path: str, params: Mapping[str, Any] | None) -> bytes:
        began = time.monotonic()
        for attempt in range(1, self.retry.attempts + 1):
            self.pacer.wait()
            if self.cancelled.is_set():
                raise Cancelled
            with self._lock:
                self.counters.requests += 1
            body, why = self._attempt(path, params)
            if body is not None:
                return body
            elapsed = time.monotonic() - began
            delay = random.uniform(0, min(self.retry.max_delay, self.retry.base_delay * 2**attempt))
            if attempt == self.retry.attempts or elapsed + delay > self.retry.max_total:
                raise StripeUnavailableError(
                    f"GET {path} failed {attempt} times over {elapsed:.0f} s; last: {why}",
                    "Stripe is unreachable or busy: try again later, or lower --max-rps",
                    scrub(f"GET {path} with {dict(params or {})}"),
                )
            if self.cancelled.wait(delay):
                raise Cancelled
        raise AssertionError("unreachable")  # the loop returns or raises

    def _attempt(self, path: str, params: Mapping[str, Any] | None) -> tuple[bytes | None, str]:
        """The body, or None and why this attempt may be retried; raises what retrying
        can't fix."""
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
                return (body if isinstance(body, bytes) else str(body).encode()), ""
            requestor._interpret_response(body, code, headers, "V1")
            return None, f"HTTP {code}"
        except stripe.RateLimitError as err:
            self.pacer.slow_down()
            why = (err.headers or {}).get("Stripe-Rate-Limited-Reason", "rate limited")
            return None, f"429 {why}"
        except stripe.APIConnectionError as err:
            return None, scrub(f"connection failed: {err.user_message or err}")
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
                _detail(err, path),
            ) from None
        except stripe.StripeError as err:
            status = err.http_status or 0
            # The SDK drops the code of a 409 (a plain APIError): read it from the body.
            error_code = err.code or _body_code(err.json_body)
            if status >= 500 or (status == 409 and error_code == "lock_timeout"):
                return None, f"HTTP {status} {error_code or ''}".strip()
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


def _endpoint(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3])


def missing_permissions(http: StripeHttp, paths: Iterable[str]) -> list[MissingPermissionError]:
    """Which of these list endpoints the key may not read (one request each)."""
    missing = []
    for path in paths:
        try:
            http.get(path, {"limit": 1})
        except MissingPermissionError as err:
            missing.append(err)
    return missing
