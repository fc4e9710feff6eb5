"""kpi-sources.md's worked case, to the cent: CARR closed and projected of 2026-Q4 as
of Tuesday 2026-11-17 from nine deals, and W47's throughput from merge instants."""

import calendar
from datetime import date, datetime
from decimal import Decimal

import pytest

from ffkpi.engine.calendar import parse_quarter
from ffkpi.engine.crm import (
    Deal,
    Stage,
    UnknownStage,
    carr_closed,
    carr_projected,
    within_days,
)

D = Decimal
Q4 = parse_quarter("2026-Q4")
AS_OF = date(2026, 11, 17)
STAGES = {
    (pipeline, name): stage
    for pipeline in ("default", "renewals")
    for name, stage in {
        "opportunity": Stage(D("0.1"), closed=False),
        "value_identified": Stage(D("0.3"), closed=False),
        "value_validated": Stage(D("0.5"), closed=False),
        "procurement": Stage(D("0.7"), closed=False),
        "closed_won": Stage(D(1), closed=True),
        "closed_lost": Stage(D(0), closed=True),
    }.items()
}
DEALS = [
    Deal("1", "default", "closed_won", date(2026, 10, 5), D(60_000)),
    Deal("2", "default", "closed_won", date(2026, 11, 17), D(48_000)),  # the as-of day counts
    Deal("3", "default", "closed_won", date(2026, 9, 30), D(30_000)),  # Q3
    Deal("4", "default", "closed_lost", date(2026, 11, 2), D(90_000)),
    Deal("5", "default", "procurement", date(2026, 12, 15), D(100_000)),  # 70,000
    Deal("6", "default", "value_validated", date(2026, 11, 30), D(40_000)),  # 20,000
    Deal("7", "default", "opportunity", date(2027, 1, 20), D(200_000)),  # Q1
    Deal("8", "default", "value_identified", date(2026, 11, 10), D(50_000)),  # overdue: 15,000
    Deal("9", "renewals", "closed_won", date(2026, 10, 20), D(25_000)),  # another pipeline
]


def test_the_worked_case_carr() -> None:
    assert carr_closed(DEALS, STAGES, ["default"], Q4, AS_OF) == D("108000.00")
    assert carr_projected(DEALS, STAGES, ["default"], Q4, AS_OF) == D("213000.00")


def test_a_deal_won_the_day_after_is_not_closed_yet() -> None:
    assert carr_closed(DEALS, STAGES, ["default"], Q4, date(2026, 11, 16)) == D(60_000)


def test_deals_without_an_amount_or_a_close_date_count_nothing() -> None:
    odd = [
        Deal("x", "default", "closed_won", None, D(1)),
        Deal("y", "default", "closed_won", AS_OF, None),
    ]
    assert carr_projected(odd, STAGES, ["default"], Q4, AS_OF) == 0


def test_a_stage_the_pipeline_does_not_define_is_named() -> None:
    with pytest.raises(UnknownStage) as unknown:
        carr_closed([Deal("z", "default", "gone", AS_OF, D(1))], STAGES, ["default"], Q4, AS_OF)
    assert str(unknown.value) == "deal z is in stage 'gone' of pipeline 'default'"


def at(*moment: int) -> int:
    return calendar.timegm(datetime(*moment).timetuple())


def test_the_worked_case_throughput() -> None:
    merged = [
        at(2026, 11, 10, 0, 0, 0),
        at(2026, 11, 16, 23, 59, 59),
        at(2026, 11, 12, 9, 30, 0),  # another repository
        at(2026, 11, 9, 23, 59, 59),  # W46
        at(2026, 11, 17, 0, 0, 0),  # W48's window
    ]
    assert within_days(merged, date(2026, 11, 10), date(2026, 11, 16)) == 3
