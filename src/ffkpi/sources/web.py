"""HTTP for the KPI sources (GitHub, HubSpot): a token in a header and never shown,
requests paced, the service's rate limits waited out, and every failure told in one line
(a refused token exit 4, a service down exit 5).

Built on httpx: typed, explicit connect and read timeouts, one pooled keep-alive
connection a service (a year of pages is one TLS handshake).
"""

import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ffkpi.errors import SourceAuthError, SourceUnavailableError
from ffkpi.stripe.http import check_api_base
from ffkpi.text import keep_secret, one_line

RETRIES = 4  # of a request that failed in transit or with a 5xx
MAX_WAIT = 300.0  # seconds a run waits out a service's rate limit before it gives up
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Service:
    """One API: its name as users know it, where it is, and how to fix a refused token."""

    name: str  # "GitHub"
    base: str
    token: str
    token_fix: str  # what to do when the service refuses the token
    setting: str  # where the base URL can be changed, for its error
    default_base: str
    max_rate: float | None = None  # requests a second the service allows; None: no pace
    max_wait: float = MAX_WAIT
    headers: Mapping[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A 4xx the caller explains in its own terms (a repository or pipeline not found)."""

    def __init__(self, status: int, message: str, body: Any) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body


def message_of(body: Any) -> str:
    """The human message of an error body (GitHub's and HubSpot's both have `message`)."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return one_line(body["message"])[:300]
    return "no message"


def missing_scopes(body: Any) -> list[str]:
    """The scopes a HubSpot 403 names (`errors[].context.requiredGranularScopes`)."""
    scopes: list[str] = []
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        context = error.get("context") if isinstance(error, dict) else None
        for key in ("requiredGranularScopes", "missingScopes", "requiredScopes"):
            named = context.get(key) if isinstance(context, dict) else None
            scopes += [one_line(s) for s in named or [] if isinstance(s, str)]
    return sorted(set(scopes))


class Api:
    """Requests to one service, one at a time: paced, its limits waited out, counted."""

    def __init__(
        self,
        service: Service,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        keep_secret(service.token)
        self.service = service
        self.base = check_api_base(service.base, service.setting, service.default_base)
        self.client = httpx.Client(
            base_url=self.base,
            headers={
                "Authorization": f"Bearer {service.token}",
                "User-Agent": "ffkpi",
                **service.headers,
            },
            timeout=TIMEOUT,
            follow_redirects=False,
            transport=transport,
        )
        self.sleep, self.clock, self.wall = sleep, clock, wall
        # One request at a time, each at least this long after the last one was sent:
        # spaced from when it really went, so the service never sees two closer together.
        self._interval = 0.0 if service.max_rate is None else 1 / service.max_rate
        self._next = 0.0  # monotonic instant the next request may go
        self.requests = 0  # sent, retries included
        self.waited = 0.0  # seconds spent waiting out limits (the pace is not counted)
        self._not_before = 0.0  # wall instant a spent rate limit resets

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._send("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._send("POST", path, body=body)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> Any:
        name = self.service.name
        failures = 0
        backoff = 1.0
        while True:
            self._wait_turn()
            self.requests += 1
            try:
                response = self.client.request(method, path, params=params, json=body)
            except httpx.HTTPError as err:
                failures += 1
                if failures > RETRIES:
                    raise SourceUnavailableError(
                        f"{name} did not answer ({type(err).__name__}: {one_line(str(err))})",
                        f"check the network and {name}'s status page, then run again",
                    ) from None
                self._pause(backoff)
                backoff *= 2
                continue
            decoded = _json(response)
            status = response.status_code
            self._note_limit(response.headers)
            if status < 300:
                if decoded is _NOT_JSON:
                    raise SourceUnavailableError(
                        f"{name} answered {method} {path} with something that is not JSON",
                        f"check that its base URL ({self.base}) is {name}'s API",
                    )
                return decoded
            if self._limited(status, response.headers):
                self._pause(self._limit_wait(response.headers, backoff))
                backoff = min(backoff * 2, 30.0)
                continue
            if status >= 500:
                failures += 1
                if failures > RETRIES:
                    raise SourceUnavailableError(
                        f"{name} is failing: {status} {message_of(decoded)} on {method} {path}",
                        f"check {name}'s status page, then run again",
                    )
                self._pause(backoff)
                backoff *= 2
                continue
            self._refused(status, decoded)

    def _refused(self, status: int, decoded: Any) -> None:
        name = self.service.name
        if status == 401:
            raise SourceAuthError(
                f"{name} refused the token: {message_of(decoded)}", self.service.token_fix
            )
        if status == 403:
            scopes = missing_scopes(decoded)
            if scopes:
                raise SourceAuthError(
                    f"{name}'s token lacks the scope{'s' if len(scopes) > 1 else ''} "
                    f"{', '.join(scopes)}",
                    "add them to the token (a HubSpot private app's scopes), then run again",
                )
            raise SourceAuthError(
                f"{name} refused the request: {message_of(decoded)}", self.service.token_fix
            )
        if 300 <= status < 400:
            raise SourceUnavailableError(
                f"{name} answered with a redirect ({status}), which ffkpi does not follow",
                f"give {name}'s API base URL itself",
            )
        raise Refused(status, message_of(decoded), decoded)

    def _wait_turn(self) -> None:
        """Wait until any spent limit has reset, and the service's pace allows."""
        delay = self._not_before - self.wall()
        if delay > 0:
            self._pause(delay)
        pace = self._next - self.clock()
        if pace > 0:
            self.sleep(pace)
        self._next = self.clock() + self._interval

    def _note_limit(self, headers: httpx.Headers) -> None:
        """A limit spent (`x-ratelimit-remaining: 0`): hold the next request until it
        resets, rather than spend a request on a refusal."""
        if headers.get("x-ratelimit-remaining") == "0":
            reset = _number(headers.get("x-ratelimit-reset"))
            if reset is not None:
                self._not_before = reset + 0.05

    @staticmethod
    def _limited(status: int, headers: httpx.Headers) -> bool:
        """A rate limit's refusal: 429, or GitHub's 403 with its limit spent or a
        Retry-After (its secondary limits)."""
        if status == 429:
            return True
        return status == 403 and (
            headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
        )

    def _limit_wait(self, headers: httpx.Headers, backoff: float) -> float:
        after = _number(headers.get("retry-after"))
        if after is not None:
            return max(after, 0.0)
        reset = _number(headers.get("x-ratelimit-reset"))
        if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
            return max(reset - self.wall(), 0.0) + 0.05
        return backoff * (1 + random.random() / 4)

    def _pause(self, seconds: float) -> None:
        self._account(seconds)
        self.sleep(seconds)

    def _account(self, seconds: float) -> None:
        self.waited += seconds
        if self.waited > self.service.max_wait:
            name = self.service.name
            raise SourceUnavailableError(
                f"{name} kept ffkpi waiting past {self.service.max_wait:g} s "
                "(its rate limit, or it kept failing)",
                f"run again later; another job may be spending the same {name} token",
            )


_NOT_JSON = object()


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _number(text: str | None) -> float | None:
    try:
        number = float(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
