"""Fake GitHub and HubSpot APIs on 127.0.0.1, for the KPI sources' tests and benchmark.

Built from the vendors' published descriptions: GitHub's `GET /search/issues` (the
issue-search-result-item shape, `total_count`, `incomplete_results`, 100 a page, the
first 1,000 results only, `merged:` ranges of days or instants, `repo:` qualifiers a
token must see, the search rate limit of 30 a minute in `x-ratelimit-*` headers and a
403 past it), `GET /repos/{owner}/{repo}` and `GET /rate_limit`; HubSpot's CRM search
(`POST /crm/v3/objects/{contacts,deals}/search`: filterGroups with BETWEEN, IN, GTE,
LTE, EQ, sorts, properties, `limit` up to 200, `after` cursors, `total`, a 400 past
10,000 results, 429 past five searches a second), `GET /crm/v3/pipelines/deals` and
`GET /crm/v3/properties/{type}/{name}`, with the error shapes both publish (GitHub's
`message` and `documentation_url`; HubSpot's `status`, `message`, `category`,
`correlationId`, and the scopes a 403 misses).
"""

import json
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_stripe import serve

Json = dict[str, Any]
TOKEN = "ghp_faketoken0123456789"
HUBSPOT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.deals.read",
        "crm.schemas.contacts.read",
        "crm.schemas.deals.read",
    }
)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class _Server:
    """A threaded HTTP server on 127.0.0.1 with a latency and a request log."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.log: list[tuple[str, str, Any]] = []  # method, path with query, body
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = serve(Handler)
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "not json"
        with self.lock:
            self.log.append((method, handler.path, body))
        if self.latency:
            time.sleep(self.latency)
        status, payload, headers = self.answer(method, handler.path, handler.headers, body)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def searches(self) -> int:
        return sum(1 for _, path, _ in self.log if "search" in path)


# --- GitHub -------------------------------------------------------------------------


@dataclass
class PullRequest:
    repository: str  # owner/name
    number: int
    created_at: datetime
    merged_at: datetime | None  # None: closed without merging, or open
    closed_at: datetime | None = None

    @property
    def id(self) -> int:
        return zlib.crc32(f"{self.repository}#{self.number}".encode())


@dataclass
class GithubFaults:
    incomplete_first: int = 0  # searches answered with incomplete_results: true
    failing_first: int = 0  # requests answered 502
    secondary_first: int = 0  # searches refused by a secondary limit (403, Retry-After: 1)


class FakeGitHub(_Server):
    DOCS = "https://docs.github.com/rest"

    def __init__(
        self,
        pulls: Iterable[PullRequest],
        *,
        repositories: Iterable[str] = (),
        hidden: Iterable[str] = (),  # exist, but the token cannot see them
        latency: float = 0.0,
        search_limit: int = 30,
        window: float = 60.0,
        faults: GithubFaults | None = None,
        token: str = TOKEN,
    ) -> None:
        super().__init__(latency)
        self.pulls = sorted(pulls, key=lambda p: (p.created_at, p.id))
        self.repositories = set(repositories) | {p.repository for p in self.pulls}
        self.hidden = set(hidden)
        self.search_limit, self.window = search_limit, window
        self.faults = faults or GithubFaults()
        self.token = token
        self._window_start = 0.0
        self._used = 0
        self._counts = {"incomplete": 0, "failing": 0, "secondary": 0}
        self.refused = 0  # searches refused for the spent limit

    def _error(self, code: int, message: str, **extra: Any) -> tuple[int, Any, dict[str, str]]:
        return code, {"message": message, "documentation_url": self.DOCS, **extra}, {}

    def _fault(self, name: str, first: int) -> bool:
        with self.lock:
            if self._counts[name] < first:
                self._counts[name] += 1
                return True
        return False

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(401, "Bad credentials", status="401")
        if self._fault("failing", self.faults.failing_first):
            return self._error(502, "Server Error")
        url = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/rate_limit":
            return 200, self._rate_limit(), {}
        if url.path.startswith("/repos/"):
            name = url.path.removeprefix("/repos/")
            if name in self.repositories and name not in self.hidden:
                return 200, {"full_name": name, "name": name.split("/")[1], "private": False}, {}
            return self._error(404, "Not Found", status="404")
        if url.path == "/search/issues" and method == "GET":
            return self._search(query)
        return self._error(404, "Not Found", status="404")

    def _rate_limit(self) -> Json:
        remaining, reset = self._limit_state()
        search = {"limit": self.search_limit, "used": self._used, "remaining": remaining}
        return {"resources": {"search": {**search, "reset": reset}}, "rate": {"limit": 5000}}

    def _limit_state(self) -> tuple[int, int]:
        now = time.time()
        if now - self._window_start >= self.window:
            self._window_start, self._used = now, 0
        reset = int(self._window_start + self.window) + 1
        return self.search_limit - self._used, reset

    def _search(self, query: Mapping[str, str]) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            remaining, reset = self._limit_state()
            if remaining <= 0:
                self.refused += 1
                limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
                return 403, {"message": "API rate limit exceeded for user ID 1."}, limited
            self._used += 1
            remaining -= 1
        limits = {
            "x-ratelimit-limit": str(self.search_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "search",
        }
        if self._fault("secondary", self.faults.secondary_first):
            return (
                403,
                {"message": "You have exceeded a secondary rate limit."},
                {"retry-after": "1"},
            )
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        per_page = min(per_page, 100)
        if page * per_page > 1000:
            status, payload, _ = self._error(
                422, "Only the first 1000 search results are available"
            )
            return status, payload, limits
        try:
            repos, low, high = self._parse(query.get("q", ""))
        except ValueError as err:
            status, payload, _ = self._error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "message": str(err),
                        "resource": "Search",
                        "field": "q",
                        "code": "invalid",
                    }
                ],
            )
            return status, payload, limits
        matched = [
            p
            for p in self.pulls
            if p.repository in repos and p.merged_at is not None and low <= p.merged_at <= high
        ]
        shown = matched[(page - 1) * per_page : page * per_page]
        incomplete = self._fault("incomplete", self.faults.incomplete_first)
        return (
            200,
            {
                "total_count": len(matched),
                "incomplete_results": incomplete,
                "items": [_item(p) for p in (shown[: len(shown) // 2] if incomplete else shown)],
            },
            limits,
        )

    def _parse(self, q: str) -> tuple[set[str], datetime, datetime]:
        repos: set[str] = set()
        low, high = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        terms = q.split()
        if "is:pr" not in terms and "type:pr" not in terms:
            raise ValueError("this fake answers pull request searches only")
        for term in terms:
            if term.startswith("repo:"):
                name = term.removeprefix("repo:")
                if name not in self.repositories or name in self.hidden:
                    raise ValueError(
                        "The listed users and repositories cannot be searched either because "
                        "the resources do not exist or you do not have permission to view them."
                    )
                repos.add(name)
            elif term.startswith("merged:"):
                first, _, last = term.removeprefix("merged:").partition("..")
                low = _bound(first, start=True)
                high = _bound(last, start=False)
        return repos, low, high


def _bound(text: str, *, start: bool) -> datetime:
    if "T" in text:
        return _instant(text)
    day = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return day if start else day + timedelta(days=1) - timedelta(microseconds=1)


def _item(pull: PullRequest) -> Json:
    """An issue-search-result-item of a pull request, as the search returns it."""
    api = f"https://api.github.com/repos/{pull.repository}"
    web = f"https://github.com/{pull.repository}/pull/{pull.number}"
    closed = pull.merged_at or pull.closed_at
    return {
        "url": f"{api}/issues/{pull.number}",
        "repository_url": api,
        "html_url": web,
        "id": pull.id,
        "node_id": f"PR_{pull.id}",
        "number": pull.number,
        "title": f"Change {pull.number}",
        "user": {"login": "dev", "id": 1, "type": "User"},
        "labels": [],
        "state": "closed" if closed else "open",
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": 0,
        "created_at": iso(pull.created_at),
        "updated_at": iso(closed or pull.created_at),
        "closed_at": iso(closed) if closed else None,
        "author_association": "MEMBER",
        "body": None,
        "score": 1.0,
        "draft": False,
        "pull_request": {
            "url": f"{api}/pulls/{pull.number}",
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        },
    }


# --- HubSpot ------------------------------------------------------------------------


@dataclass
class HubspotObject:
    id: str
    properties: dict[str, str | None]
    created: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))


@dataclass
class HubspotStage:
    id: str
    label: str
    probability: str  # as HubSpot writes it: "0.7", "1.0"
    closed: bool = False


# HubSpot's own property types for the fields the sources read
PROPERTY_TYPES = {
    ("contacts", "hs_lifecyclestage_marketingqualifiedlead_date"): "datetime",
    ("contacts", "lifecyclestage"): "enumeration",
    ("deals", "amount"): "number",
    ("deals", "amount_in_home_currency"): "number",
    ("deals", "closedate"): "datetime",
    ("deals", "dealstage"): "enumeration",
    ("deals", "pipeline"): "enumeration",
    ("deals", "dealname"): "string",
}


class FakeHubSpot(_Server):
    def __init__(
        self,
        *,
        contacts: Iterable[HubspotObject] = (),
        deals: Iterable[HubspotObject] = (),
        pipelines: Mapping[str, tuple[str, list[HubspotStage]]] | None = None,
        latency: float = 0.0,
        per_second: int = 5,
        scopes: frozenset[str] = SCOPES,
        token: str = HUBSPOT_TOKEN,
        failing_first: int = 0,
    ) -> None:
        super().__init__(latency)
        self.objects = {"contacts": list(contacts), "deals": list(deals)}
        self.pipelines = pipelines or {}
        self.per_second = per_second
        self.scopes, self.token = scopes, token
        self.failing_first = failing_first
        self._failed = 0
        self._recent: deque[float] = deque()
        self.refused_429 = 0

    @staticmethod
    def _error(
        status: int, category: str, message: str, **extra: Any
    ) -> tuple[int, Any, dict[str, str]]:
        payload = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }
        return status, payload, {}

    def _scope(self, needed: str) -> tuple[int, Any, dict[str, str]] | None:
        if needed in self.scopes:
            return None
        return self._error(
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [needed]},
                }
            ],
        )

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com",
            )
        with self.lock:
            if self._failed < self.failing_first:
                self._failed += 1
                return self._error(502, "INTERNAL_ERROR", "Bad gateway")
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        if (
            method == "POST"
            and len(parts) == 5
            and parts[:3] == ["crm", "v3", "objects"]
            and parts[4] == "search"
            and parts[3] in self.objects
        ):
            return self._search(parts[3], body)
        if method == "GET" and url.path == "/crm/v3/pipelines/deals":
            return self._scope("crm.objects.deals.read") or (200, self._pipelines(), {})
        if method == "GET" and len(parts) == 5 and parts[:3] == ["crm", "v3", "properties"]:
            return self._property(parts[3], parts[4])
        return self._error(404, "OBJECT_NOT_FOUND", f"No route for {method} {url.path}")

    def _pipelines(self) -> Json:
        stamp = "2026-01-01T00:00:00Z"
        return {
            "results": [
                {
                    "id": key,
                    "label": label,
                    "displayOrder": n,
                    "archived": False,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "stages": [
                        {
                            "id": stage.id,
                            "label": stage.label,
                            "displayOrder": m,
                            "archived": False,
                            "createdAt": stamp,
                            "updatedAt": stamp,
                            "metadata": {
                                "isClosed": "true" if stage.closed else "false",
                                "probability": stage.probability,
                            },
                        }
                        for m, stage in enumerate(stages)
                    ],
                }
                for n, (key, (label, stages)) in enumerate(self.pipelines.items())
            ]
        }

    def _property(self, object_type: str, name: str) -> tuple[int, Any, dict[str, str]]:
        missing = self._scope(f"crm.schemas.{object_type}.read")
        if missing:
            return missing
        kind = PROPERTY_TYPES.get((object_type, name))
        if kind is None:
            return self._error(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for {object_type}"
            )
        return (
            200,
            {
                "name": name,
                "label": name.replace("_", " ").title(),
                "type": kind,
                "fieldType": "date" if kind == "datetime" else "text",
                "groupName": f"{object_type[:-1]}information",
                "description": "",
                "options": [],
            },
            {},
        )

    def _limited(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.per_second:
                self.refused_429 += 1
                return True
            self._recent.append(now)
            return False

    def _search(self, object_type: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        missing = self._scope(f"crm.objects.{object_type}.read")
        if missing:
            return missing
        if self._limited():
            return self._error(
                429,
                "RATE_LIMITS",
                "You have reached your secondly limit.",
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
            )
        if not isinstance(body, dict):
            return self._error(400, "VALIDATION_ERROR", "Invalid input JSON")
        limit = body.get("limit", 10)
        after = int(body.get("after") or 0)
        if not isinstance(limit, int) or not 0 < limit <= 200:
            return self._error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        if after >= 10_000:
            return self._error(
                400,
                "VALIDATION_ERROR",
                "Search results are limited to 10,000 total results for any given query.",
            )
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(g.get("filters", [])) > 6 for g in groups):
            return self._error(400, "VALIDATION_ERROR", "Too many filter groups or filters")
        try:
            matched = [
                o
                for o in self.objects[object_type]
                if not groups or any(_passes(o, object_type, g["filters"]) for g in groups)
            ]
        except KeyError as err:
            return self._error(
                400, "VALIDATION_ERROR", f"Unknown property {err.args[0]} on {object_type}"
            )
        for sort in reversed(body.get("sorts") or []):
            name = sort if isinstance(sort, str) else sort["propertyName"]
            descending = not isinstance(sort, str) and sort.get("direction") == "DESCENDING"
            matched.sort(key=lambda o, n=name: _sortable(o.properties.get(n)), reverse=descending)
        wanted = body.get("properties") or []
        shown = matched[after : after + limit]
        page: Json = {
            "total": len(matched),
            "results": [_object(o, object_type, wanted) for o in shown],
        }
        if after + limit < len(matched):
            following = str(after + limit)
            page["paging"] = {"next": {"after": following, "link": f"?after={following}"}}
        return 200, page, {}


def _millis(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        return float(value)
    try:
        return _instant(value).timestamp() * 1000
    except ValueError:
        return None


def _sortable(value: str | None) -> tuple[int, float, str]:
    number = _millis(value)
    if number is None:
        try:
            number = float(value) if value else None
        except ValueError:
            number = None
    return (1, 0.0, value or "") if number is None else (0, number, "")


def _passes(obj: HubspotObject, object_type: str, filters: list[Json]) -> bool:
    for f in filters:
        name = f["propertyName"]
        if (object_type, name) not in PROPERTY_TYPES:
            raise KeyError(name)
        value = obj.properties.get(name)
        operator = f["operator"]
        if operator == "HAS_PROPERTY":
            ok = value not in (None, "")
        elif operator == "IN":
            ok = value in f.get("values", [])
        elif operator == "EQ":
            ok = value == f.get("value")
        else:
            have = _millis(value)
            if have is None:
                return False
            low = _millis(str(f.get("value")))
            high = _millis(str(f.get("highValue"))) if operator == "BETWEEN" else None
            ok = {
                "BETWEEN": low is not None and high is not None and low <= have <= high,
                "GTE": low is not None and have >= low,
                "LTE": low is not None and have <= low,
                "GT": low is not None and have > low,
                "LT": low is not None and have < low,
            }.get(operator, False)
        if not ok:
            return False
    return True


def _object(obj: HubspotObject, object_type: str, wanted: list[str]) -> Json:
    """An object as the search returns it: the properties asked for that exist (null
    where the object has no value), and the ones HubSpot always adds."""
    stamp = iso(obj.created)
    properties: dict[str, str | None] = {
        "createdate": stamp,
        "hs_object_id": obj.id,
        "lastmodifieddate": stamp,
    }
    properties.update(
        {
            name: obj.properties.get(name)
            for name in wanted
            if (object_type, name) in PROPERTY_TYPES or name in obj.properties
        }
    )
    return {
        "id": obj.id,
        "properties": properties,
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
