"""Engineering throughput from GitHub (kpi-sources.md): the pull requests merged in a
range of instants across a list of repositories, found with the issue search
(`GET /search/issues`, `is:pr merged:FROM..TO repo:A repo:B`), 100 a page.

Search answers at most 1,000 results a query: a range that holds more is split into
smaller ranges of instants, so a year over every repository costs about the pages of
its pull requests, never a request per week or per repository. Its limit (30 searches
a minute with a token) is waited out by `web.Api`.
"""

import itertools
import math
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from ffkpi.errors import SourceAuthError, SourceUnavailableError
from ffkpi.sources.web import Api, Refused, Service
from ffkpi.text import one_line

GITHUB_API = "https://api.github.com"
ENV_TOKEN = "GITHUB_TOKEN"
ENV_API = "FFKPI_GITHUB_API"  # GitHub Enterprise's API, or a test double
API_VERSION = "2022-11-28"
PER_PAGE = 100
CAP = 1000  # results one search query can page through


def token(env: Mapping[str, str]) -> str:
    """GITHUB_TOKEN, else the GitHub CLI's own (`gh auth token`)."""
    found = env.get(ENV_TOKEN, "").strip()
    if found:
        return found
    gh = shutil.which("gh", path=env.get("PATH"))
    if gh is not None:
        try:
            done = subprocess.run(
                [gh, "auth", "token"], capture_output=True, timeout=10, check=False, env=dict(env)
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0 and done.stdout.strip():
            return done.stdout.decode("utf-8", "replace").strip()
    raise SourceAuthError(
        f"no GitHub token: {ENV_TOKEN} is not set and `gh auth token` gave none",
        f"set {ENV_TOKEN} to a token that can read the repositories, or run gh auth login",
    )


def service(env: Mapping[str, str]) -> Service:
    return Service(
        name="GitHub",
        base=env.get(ENV_API) or GITHUB_API,
        token=token(env),
        token_fix=f"set {ENV_TOKEN} to a token that can read the repositories (or gh auth login)",
        setting=f"${ENV_API}",
        default_base=GITHUB_API,
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
    )


def _iso(instant: int) -> str:
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def merged(api: Api, repositories: Sequence[str], start: int, end: int) -> dict[int, int]:
    """The pull requests merged within [start, end] (Unix seconds, both included) in the
    repositories: each one's id -> its merge instant."""
    found: dict[int, int] = {}
    ranges = [(start, end)]
    while ranges:
        low, high = ranges.pop()
        total = _search_range(api, repositories, low, high, found)
        if total is not None:  # more than a query can page through: split it
            if high <= low:
                raise SourceUnavailableError(
                    f"GitHub holds {total:,} pull requests merged in the second {_iso(low)}, "
                    f"past the {CAP:,} one search can list",
                    "name fewer repositories in the KPI's source",
                )
            parts = min(math.ceil(total / (CAP * 0.9)), high - low + 1)
            step = (high - low + 1) / parts
            bounds = [low + round(step * n) for n in range(parts)] + [high + 1]
            ranges += [(a, b - 1) for a, b in itertools.pairwise(bounds) if b > a]
    return found


def _search_range(
    api: Api, repositories: Sequence[str], low: int, high: int, found: dict[int, int]
) -> int | None:
    """Every page of one range into `found`; or, when the range holds more than the cap,
    its total (and nothing kept)."""
    query = " ".join(
        ["is:pr", f"merged:{_iso(low)}..{_iso(high)}"] + [f"repo:{r}" for r in repositories]
    )
    page = 1
    while True:
        body = _page(api, repositories, query, page)
        total = body.get("total_count")
        if not isinstance(total, int):
            raise SourceUnavailableError(
                "GitHub's search answered without a total_count", "run again later"
            )
        if total > CAP:
            return total
        items = body.get("items")
        for item in items if isinstance(items, list) else []:
            pull = item.get("pull_request") if isinstance(item, dict) else None
            merged_at = _instant(pull.get("merged_at")) if isinstance(pull, dict) else None
            key = item.get("id") if isinstance(item, dict) else None
            if merged_at is None or not isinstance(key, int):
                continue  # an issue, or a pull request not merged: never counted
            if low <= merged_at <= high:
                found[key] = merged_at
        if page * PER_PAGE >= total or not items:
            return None
        page += 1


def _page(api: Api, repositories: Sequence[str], query: str, page: int) -> dict[str, object]:
    """One page; incomplete results (search's own timeout) are asked for once more,
    since counting them would undercount."""
    for _ in range(3):
        try:
            body = api.get(
                "/search/issues",
                {"q": query, "per_page": PER_PAGE, "page": page, "sort": "created", "order": "asc"},
            )
        except Refused as err:
            if err.status == 422:
                raise _unsearchable(api, repositories, err) from None
            raise SourceUnavailableError(
                f"GitHub's search refused the query: {err.status} {err.message}",
                "check the KPI's repositories",
            ) from None
        if not isinstance(body, dict):
            raise SourceUnavailableError(
                "GitHub's search answered something that is not a page of results",
                f"check that {api.base} is GitHub's API",
            )
        if body.get("incomplete_results") is not True:
            return body
    raise SourceUnavailableError(
        "GitHub's search kept answering incomplete results (it timed out), so a count "
        "would be short",
        "run again later",
    )


def _unsearchable(api: Api, repositories: Sequence[str], err: Refused) -> Exception:
    """A 422 names no repository: ask for each, and name those the token cannot see."""
    missing = [r for r in repositories if not repository_exists(api, r)]
    if missing:
        return no_access(missing)
    return SourceUnavailableError(
        f"GitHub's search refused the query: {err.message}", "check the KPI's repositories"
    )


def no_access(missing: Sequence[str]) -> SourceAuthError:
    return SourceAuthError(
        f"GitHub: {', '.join(missing)} does not exist or this token cannot read it",
        "correct the repository in the KPI's github.repositories, or give the token read "
        "access to it",
    )


def repository_exists(api: Api, repository: str) -> bool:
    try:
        api.get(f"/repos/{repository}")
    except Refused as err:
        if err.status in (404, 451):
            return False
        raise SourceUnavailableError(
            f"GitHub: {repository}: {err.status} {one_line(err.message)}", "run again later"
        ) from None
    return True


def search_limit(api: Api) -> int | None:
    """The token's search requests a minute (`GET /rate_limit`, which spends none), for
    `ffkpi check`; a refused token raises."""
    body = api.get("/rate_limit")
    resources = body.get("resources") if isinstance(body, dict) else None
    search = resources.get("search") if isinstance(resources, dict) else None
    limit = search.get("limit") if isinstance(search, dict) else None
    return limit if isinstance(limit, int) else None
