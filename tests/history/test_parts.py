"""The rebuild cut into parts, run in one process or a pool of forked ones (`--jobs`),
gives the same reports as in one piece, to the byte."""

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import read, simulated, streamed
from conftest import Ffkpi
from ffkpi.history.rebuild import data_day, in_order, rebuild, split
from ffkpi.history.reconcile import reconcile
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo
from ffkpi.sources.files import read_input
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


@pytest.mark.parametrize("parts", [1, 3])
def test_a_rebuild_reconciles_as_it_goes_as_reconcile_does(tmp_path: Path, parts: int) -> None:
    """backfill and review tally the read's instant during the rebuild, in every part, held
    or streamed, instead of a pass of their own over the invoices: the same causes."""
    bundle = simulated(3, signups=120, unknowable=30)  # changes invoices cannot show
    path = tmp_path / "read.jsonl"
    path.write_bytes(streamed(bundle))
    config = demo_config()
    days = weeks(8)
    for data in (read(bundle, history=True), read_input(path, history=True)):
        day = data_day(data)
        assert day is not None
        alone = reconcile(data, config, day)
        assert alone.causes
        assert alone.difference != 0
        rebuilt = rebuild(data, config, days, parts=parts, run=in_order, reconcile_at=day)
        assert rebuilt.reconciliation == alone
        assert rebuild(data, config, days, parts=parts, run=in_order).reconciliation is None
    pooled = rebuild(data, config, days, parts=2, run=parallel._in_pool, reconcile_at=day)
    assert pooled.reconciliation == alone
