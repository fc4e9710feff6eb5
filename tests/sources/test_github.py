"""Merged pull requests from GitHub's search, against a fake GitHub on 127.0.0.1: the
worked case's window, ranges split at the 1,000-result cap, the search limit waited
out, incomplete results asked again, and each refusal told in one line."""

import os
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fake_sources import TOKEN, FakeGitHub, GithubFaults, PullRequest
from ffkpi.engine.calendar import end_of_day
from ffkpi.engine.crm import within_days
from ffkpi.errors import ExitCode, SourceAuthError, SourceUnavailableError
from ffkpi.sources import github
from ffkpi.sources.web import Api

UTC_ = UTC


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def worked_case() -> list[PullRequest]:
    """kpi-sources.md's throughput case for W47 (window 2026-11-10 to 2026-11-16)."""
    made = at(2026, 11, 1)
    return [
        PullRequest("acme/app", 1, made, at(2026, 11, 10, 0, 0, 0)),
        PullRequest("acme/app", 2, made, at(2026, 11, 16, 23, 59, 59)),
        PullRequest("acme/api", 3, made, at(2026, 11, 12, 9, 30)),
        PullRequest("acme/app", 4, made, at(2026, 11, 9, 23, 59, 59)),  # W46
        PullRequest("acme/app", 5, made, at(2026, 11, 17, 0, 0, 0)),  # W48's window
        PullRequest("acme/api", 6, made, None, closed_at=at(2026, 11, 12)),  # not merged
    ]


@pytest.fixture
def serve() -> Iterator[list[FakeGitHub]]:
    started: list[FakeGitHub] = []
    yield started
    for fake in started:
        fake.stop()


def connect(fake: FakeGitHub, started: list[FakeGitHub], token: str = TOKEN, **kw: object) -> Api:
    base = fake.start()
    started.append(fake)
    service = github.service({github.ENV_TOKEN: token, github.ENV_API: base})
    return Api(service, **kw)  # type: ignore[arg-type]


def span(since: date, until: date) -> tuple[int, int]:
    return end_of_day(since) - 86_400, end_of_day(until) - 1


def test_the_worked_case_counts_three(serve: list[FakeGitHub]) -> None:
    api = connect(FakeGitHub(worked_case()), serve)
    found = github.merged(
        api, ["acme/app", "acme/api"], *span(date(2026, 11, 10), date(2026, 11, 16))
    )
    assert within_days(found.values(), date(2026, 11, 10), date(2026, 11, 16)) == 3
    assert len(found) == 3
    wider = github.merged(
        api, ["acme/app", "acme/api"], *span(date(2026, 11, 3), date(2026, 11, 23))
    )
    assert within_days(wider.values(), date(2026, 11, 3), date(2026, 11, 9)) == 1  # W46
    assert within_days(wider.values(), date(2026, 11, 17), date(2026, 11, 23)) == 1  # W48


def year_of_pulls(count: int, repositories: int = 5) -> list[PullRequest]:
    start = at(2025, 12, 1)
    step = timedelta(days=365) / count
    return [
        PullRequest(
            f"acme/r{n % repositories}", n, start + step * n, start + step * n + timedelta(hours=3)
        )
        for n in range(count)
    ]


def test_a_year_past_the_cap_is_split_and_counted_once(serve: list[FakeGitHub]) -> None:
    pulls = year_of_pulls(2_600)
    fake = FakeGitHub(pulls)
    api = connect(fake, serve)
    repos = [f"acme/r{n}" for n in range(5)]
    found = github.merged(api, repos, *span(date(2025, 12, 1), date(2026, 12, 6)))
    assert sorted(found) == sorted(p.id for p in pulls)
    pages = -(-2_600 // 100)
    # one search per page, and one for each range that held more than the cap
    assert pages <= fake.searches() <= pages + 4
    assert all(
        "repo:acme/r0 repo:acme/r1"
        in path.replace("+", " ").replace("%3A", ":").replace("%2F", "/")
        for _, path, _ in fake.log
    )


def test_the_search_limit_is_waited_out_without_a_refusal(serve: list[FakeGitHub]) -> None:
    fake = FakeGitHub(year_of_pulls(450), search_limit=2, window=1.0)
    api = connect(fake, serve)
    found = github.merged(
        api, [f"acme/r{n}" for n in range(5)], *span(date(2025, 12, 1), date(2026, 12, 6))
    )
    assert len(found) == 450
    assert fake.searches() == 5
    assert fake.refused == 0  # the spent limit was read from the headers and waited out
    assert api.waited > 0


def test_secondary_limits_and_incomplete_results_are_asked_again(serve: list[FakeGitHub]) -> None:
    faults = GithubFaults(incomplete_first=1, secondary_first=1, failing_first=1)
    fake = FakeGitHub(year_of_pulls(150), faults=faults)
    slept: list[float] = []
    api = connect(fake, serve, sleep=slept.append)
    found = github.merged(
        api, [f"acme/r{n}" for n in range(5)], *span(date(2025, 12, 1), date(2026, 12, 6))
    )
    assert len(found) == 150  # the incomplete page was not counted: it was asked again
    assert 1.0 in slept  # Retry-After: 1


def test_a_bad_token_is_exit_4_and_never_shown(serve: list[FakeGitHub]) -> None:
    api = connect(FakeGitHub(worked_case()), serve, token="ghp_wrongwrongwrong")
    with pytest.raises(SourceAuthError) as refused:
        github.merged(api, ["acme/app"], *span(date(2026, 11, 10), date(2026, 11, 16)))
    assert refused.value.exit_code == ExitCode.STRIPE_AUTH
    assert refused.value.what == "GitHub refused the token: Bad credentials"
    assert "ghp_wrong" not in refused.value.message


def test_a_repository_the_token_cannot_see_is_named(serve: list[FakeGitHub]) -> None:
    api = connect(FakeGitHub(worked_case(), hidden=["acme/secret"]), serve)
    with pytest.raises(SourceAuthError) as refused:
        github.merged(
            api,
            ["acme/app", "acme/secret", "acme/typo"],
            *span(date(2026, 11, 10), date(2026, 11, 16)),
        )
    assert refused.value.what == (
        "GitHub: acme/secret, acme/typo does not exist or this token cannot read it"
    )


def test_github_down_is_exit_5(serve: list[FakeGitHub]) -> None:
    fake = FakeGitHub(worked_case(), faults=GithubFaults(failing_first=100))
    api = connect(fake, serve, sleep=lambda _: None)
    with pytest.raises(SourceUnavailableError) as down:
        github.merged(api, ["acme/app"], *span(date(2026, 11, 10), date(2026, 11, 16)))
    assert down.value.exit_code == ExitCode.STRIPE_UNAVAILABLE
    assert down.value.what.startswith("GitHub is failing: 502 Server Error on GET /search/issues")
    assert len(fake.log) == 5  # the first try and four retries


def test_the_token_comes_from_the_environment_or_the_github_cli(tmp_path: Path) -> None:
    assert github.token({"GITHUB_TOKEN": " ghp_fromenv \n"}) == "ghp_fromenv"
    gh = tmp_path / "gh"
    gh.write_text("#!/bin/sh\n[ \"$1 $2\" = 'auth token' ] && echo gho_fromcli\n")
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    assert github.token({"PATH": str(tmp_path)}) == "gho_fromcli"
    with pytest.raises(SourceAuthError, match="no GitHub token: GITHUB_TOKEN is not set"):
        github.token({"PATH": str(tmp_path / "nowhere")})
    assert os.environ.get("GITHUB_TOKEN") != "gho_fromcli"
