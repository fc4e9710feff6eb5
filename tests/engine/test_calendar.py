"""The one calendar: ISO week names, as-of days, quarters and the instant a day ends."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffkpi.engine.calendar import (
    Quarter,
    day_in_week,
    day_of,
    end_of_day,
    kpi_window,
    last_complete_week,
    parse_quarter,
    parse_week,
    quarter_of,
    week_before,
    week_name,
    weeks_back,
    weeks_between,
)
from ffkpi.errors import UsageError


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 11, 17), "2026-W47"),
        (date(2021, 1, 3), "2020-W53"),  # ISO week 53, in the year before
        (date(2024, 12, 30), "2025-W01"),  # and week 1 of the year after
    ],
)
def test_week_names_are_iso(day: date, name: str) -> None:
    assert week_name(day) == name
    assert 0 <= (day - parse_week(name)).days < 7


@pytest.mark.parametrize("text", ["2026-W54", "2026-47", "26-W47", "2026-W4", "2019-W53", "x"])
def test_a_week_that_is_not_one_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="is not a week"):
        parse_week(text)


def test_days_and_instants() -> None:
    assert end_of_day(date(2026, 11, 17)) == 1_794_960_000  # 2026-11-18 00:00:00 UTC
    assert day_of(1_794_959_999) == date(2026, 11, 17)
    assert day_in_week("2026-W47", 1) == date(2026, 11, 17)
    assert weeks_between("2026-W45", "2026-W47") == 2
    assert (week_before("2026-W47"), week_before("2021-W01")) == ("2026-W46", "2020-W53")
    assert weeks_back(date(2026, 11, 1), date(2026, 11, 17)) == [
        date(2026, 11, 3),
        date(2026, 11, 10),
        date(2026, 11, 17),
    ]
    with pytest.raises(UsageError, match="--since 2026-11-18 is after the last week"):
        weeks_back(date(2026, 11, 18), date(2026, 11, 17))
    # The read on Tuesday 2026-11-17: its week is still running.
    assert last_complete_week(date(2026, 11, 17), 1) == date(2026, 11, 10)
    assert last_complete_week(date(2026, 11, 16), 6) == date(2026, 11, 15)


def test_quarters() -> None:
    q4 = quarter_of(date(2026, 11, 17))
    assert (q4.name, q4.first_day, q4.last_day, q4.days) == (
        "2026-Q4",
        date(2026, 10, 1),
        date(2026, 12, 31),
        92,
    )
    assert q4.share_gone(date(2026, 11, 17)) == Decimal(48) / Decimal(92)  # review-rules
    assert q4.share_gone(date(2026, 9, 30)) == 0
    assert q4.share_gone(date(2027, 1, 5)) == 1
    assert parse_quarter("2026-Q1").before() == Quarter(2025, 4)
    assert Quarter(2024, 1).days == 91  # a leap year's February
    with pytest.raises(UsageError):
        parse_quarter("2026-Q5")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_every_day_is_in_its_week_and_its_quarter(day: date) -> None:
    monday = parse_week(week_name(day))
    assert 0 <= (day - monday).days < 7
    quarter = quarter_of(day)
    assert quarter.first_day <= day <= quarter.last_day
    assert day_of(end_of_day(day) - 1) == day


class TestKpiWindows:
    """review-rules.md: the window each period's command gets, W47 as of 2026-11-17."""

    @pytest.mark.parametrize(
        ("period", "since", "until"),
        [
            ("week", date(2026, 11, 10), date(2026, 11, 16)),
            ("quarter_to_date", date(2026, 10, 1), date(2026, 11, 17)),
            ("point", date(2026, 11, 17), date(2026, 11, 17)),
            ("quarter", date(2026, 11, 17), date(2026, 11, 17)),
        ],
    )
    def test_the_worked_case(self, period: str, since: date, until: date) -> None:
        window = kpi_window(period, date(2026, 11, 17))
        assert (window.week, window.since, window.until) == ("2026-W47", since, until)
        assert (window.quarter.name, window.quarter.first_day) == ("2026-Q4", date(2026, 10, 1))

    @given(st.dates(date(2001, 1, 1), date(2998, 1, 1)))
    def test_consecutive_weeks_tile(self, as_of: date) -> None:
        this, next_ = kpi_window("week", as_of), kpi_window("week", as_of + timedelta(days=7))
        assert next_.since == this.until + timedelta(days=1)
        assert (this.until - this.since).days == 6
        assert this.until < as_of
