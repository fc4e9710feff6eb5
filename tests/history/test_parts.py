"""The rebuild cut into parts, run in one process or a pool of forked ones (`--jobs`),
gives the same reports as in one piece, to the byte."""

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import read, simulated
from conftest import Ffkpi
from ffkpi.history.rebuild import in_order, rebuild, split
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo
from ffkpi.usecases import parallel


def weeks(count: int = 104) -> list[date]:
    return [DEMO_AS_OF - timedelta(weeks=k) for k in range(count - 1, -1, -1)]


@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 8))
def test_split_cuts_contiguous_ranges_of_about_equal_weight(weights: list[int], parts: int) -> None:
    ranges = split(weights, parts)
    assert [n for r in ranges for n in r] == list(range(len(weights)))  # each once, in order
    assert len(ranges) <= max(parts, 1)
    assert all(len(r) for r in ranges) or weights == []
    total = sum(weights)
    if total and len(ranges) > 1:
        heaviest = max(weights)
        assert all(sum(weights[n] for n in r) <= total / parts + heaviest for r in ranges)


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_the_demo_rebuilt_in_a_pool_is_the_same_to_the_byte(parts: int) -> None:
    data, config = load_demo(history=True), demo_config()
    whole = rebuild(data, config, weeks())
    assert rebuild(data, config, weeks(), parts=parts, run=in_order) == whole
    pooled = rebuild(data, config, weeks(), parts=parts, run=parallel._in_pool)
    assert pooled == whole
    assert repr(pooled) == repr(whole)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5))
def test_a_simulated_account_in_parts_is_the_same(seed: int, parts: int) -> None:
    data = read(simulated(seed, signups=80), history=True)
    config = demo_config()
    whole = rebuild(data, config, weeks())
    assert rebuild(data, config, weeks(), parts=parts, run=in_order) == whole


def test_jobs_changes_no_figure(ffkpi: Ffkpi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(parallel._setting, "jobs", 0)  # put back after the test
    monkeypatch.setattr(parallel, "SMALL", 0)  # the demo is small: pool it all the same
    one = ffkpi("--jobs", "1", "history", "--demo", "--format", "json")
    pooled = ffkpi("--jobs", "3", "history", "--demo", "--format", "json")
    assert one.exit_code == pooled.exit_code == 0, pooled.stderr
    assert pooled.stdout == one.stdout
    assert json.loads(one.stdout)["weeks"]
    assert parallel.rebuild_plan(10)[0] == 3  # the pool was chosen


def test_a_small_account_or_one_job_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(parallel._setting, "jobs", 0)  # put back after the test
    parallel.set_jobs(1)
    assert parallel.rebuild_plan(1_000_000) == (1, in_order)
    parallel.set_jobs(4)
    assert parallel.rebuild_plan(parallel.SMALL - 1) == (1, in_order)
    assert parallel.rebuild_plan(parallel.SMALL)[0] == 4
    parallel.set_jobs(0)
    assert parallel.jobs() >= 1  # every core
