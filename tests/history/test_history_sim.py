"""Rebuilt weeks against a simulated account (scripts/billing_sim.py): two years of
subscriptions billed as Stripe bills them, read back as a bundle.

Where nothing unrebuildable happened, the week of the read is the live report to full
precision; every week equals compute_report on the account as it stood; and the order
of invoices, lines and pending items never matters.
"""

import json
import random
import re
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import read, simulated
from ffkpi.config import Config, parse_config
from ffkpi.engine.mrr import Report, compute_report
from ffkpi.history.rebuild import dataset_at, instant_of, rebuild_weeks
from ffkpi.history.timeline import Timelines
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, example_config_text

pytestmark = pytest.mark.slow  # the quick run (-m "not slow") leaves it to CI

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


def figures(report: Report) -> tuple[Any, ...]:
    """Everything a report says in money, at full precision."""
    return (report.mrr, report.tiers, report.unlisted, dict(report.customer_tiers))


def weeks(days: int = 104) -> list[date]:
    return [DEMO_AS_OF - timedelta(weeks=k) for k in range(days, -1, -1)]


def policy(**values: str) -> Config:
    """The example config with these policy values."""
    text = example_config_text()
    for key, value in values.items():
        text = re.sub(rf'^{key} = ".*"$', f'{key} = "{value}"', text, flags=re.MULTILINE)
    return parse_config(text, "the example config")


@SETTINGS
@given(st.integers(0, 10_000), st.sampled_from(["last_invoice", "exclude"]))
def test_the_week_of_the_read_is_the_live_report(seed: int, metered: str) -> None:
    bundle = simulated(seed)
    config = policy(metered=metered)
    live = compute_report(read(bundle, history=False), config, DEMO_AS_OF)
    (rebuilt,) = rebuild_weeks(read(bundle, history=True), config, [DEMO_AS_OF])
    assert figures(rebuilt) == figures(live)
    assert rebuilt.mrr > 0


@SETTINGS
@given(st.integers(0, 10_000), st.sampled_from(["forever", "all", "none"]))
def test_every_week_is_compute_report_on_the_account_as_it_stood(seed: int, discounts: str) -> None:
    data = read(simulated(seed, signups=30, unknowable=2), history=True)
    config = policy(discounts=discounts)
    # The last is the day of the read: the subscriptions as read, the rules at the end of
    # that day (trials and discounts ending in between).
    days = weeks()
    indexed = list(Timelines(data))
    fast = rebuild_weeks(data, config, days)
    for day, week in zip(days, fast, strict=True):
        at = dataset_at(data, indexed, instant_of(day, data.read_at))
        slow = compute_report(at, config, day)
        assert figures(week) == figures(slow), day
        assert week.excluded == slow.excluded, day


@SETTINGS
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_the_order_of_invoices_lines_and_pending_items_never_changes_a_week(
    seed: int, shuffler: random.Random
) -> None:
    bundle = simulated(seed, signups=30)
    shuffled = json.loads(json.dumps(bundle))
    for key in ("subscriptions", "invoices", "invoice_items"):
        shuffler.shuffle(shuffled[key])
    for invoice in shuffled["invoices"]:
        shuffler.shuffle(invoice["lines"]["data"])
    days = weeks(30)
    first = rebuild_weeks(read(bundle, history=True), demo_config(), days)
    second = rebuild_weeks(read(shuffled, history=True), demo_config(), days)
    assert [figures(w) for w in first] == [figures(w) for w in second]
    assert [w.excluded for w in first] == [w.excluded for w in second]


def test_a_change_without_prorations_shows_only_at_the_next_invoice() -> None:
    """With changes made with proration_behavior=none, the live report and the week of
    the read differ, and only by the subscriptions changed since their last invoice."""
    bundle = simulated(3, signups=120, unknowable=30)
    live = compute_report(read(bundle, history=False), demo_config(), DEMO_AS_OF)
    (rebuilt,) = rebuild_weeks(read(bundle, history=True), demo_config(), [DEMO_AS_OF])
    assert rebuilt.mrr < live.mrr  # the simulated changes add a seat
    differ = {
        c
        for c in set(live.customers) | set(rebuilt.customers)
        if live.customers.get(c) != rebuilt.customers.get(c)
    }
    assert 0 < len(differ) < len(live.customers) / 4
