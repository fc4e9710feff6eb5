"""The worked case of docs/review-rules.md, and the rules around it."""

from datetime import date
from decimal import Decimal

import pytest

from ffkpi.config import KpiConfig
from ffkpi.engine.calendar import parse_quarter, quarter_of
from ffkpi.engine.money import format_money, format_percent
from ffkpi.review.figures import (
    Point,
    arr_added,
    compounded,
    judge,
    met_of_last,
    standing,
)
from ffkpi.review.sentences import bridge_sentence, kpi_sentence, target_sentence

TARGET = Decimal("0.10")


def test_the_worked_case_target() -> None:
    week = judge(Decimal("100266.13"), Decimal("99263.30"), TARGET, None)
    assert format_percent(week.growth) == "1.01 %"
    assert format_money(week.needed or Decimal(0), "usd") == "109189.63"
    assert format_money(week.shortfall or Decimal(0), "usd") == "8923.50"
    assert (week.met, week.excess) == (False, None)


def test_a_week_that_met_the_target_says_by_how_much() -> None:
    week = judge(Decimal("121"), Decimal("100"), TARGET, None)
    assert (week.met, week.shortfall, week.excess) == (True, None, Decimal("11.0"))


def test_no_week_before_is_no_growth_and_says_why() -> None:
    week = judge(Decimal("100"), None, TARGET, "the week before, 2026-W46, was not taken")
    assert (week.growth, week.met) == (None, None)
    assert week.why == "the week before, 2026-W46, was not taken"


def test_the_worked_case_carr_closed() -> None:
    kpi = KpiConfig(
        name="CARR Closed (this quarter)",
        unit="money",
        period="quarter_to_date",
        goal={"2026-Q4": Decimal(450000)},
    )
    day = date(2026, 11, 17)
    found = standing(kpi, Decimal(168000), quarter_of(day), day)
    assert found is not None
    assert format_percent(found.share_of_goal) == "37.33 %"
    assert format_percent(found.share_gone) == "52.17 %"
    assert format_money(found.behind_by or Decimal(0), "usd") == "66782.61"
    assert not found.on_track
    assert standing(kpi, Decimal(168000), parse_quarter("2027-Q1"), day) is None  # no goal
    assert standing(kpi, None, quarter_of(day), day) is None  # not recorded: no status


@pytest.mark.parametrize(
    ("better", "value", "on_track"),
    [("up", "130", True), ("up", "110", False), ("down", "110", True), ("down", "130", False)],
)
def test_a_weekly_goal_is_met_as_better_says(better: str, value: str, on_track: bool) -> None:
    kpi = KpiConfig.model_validate({"name": "MQLs", "goal": 120, "better": better})
    found = standing(kpi, Decimal(value), quarter_of(date(2026, 11, 17)), date(2026, 11, 17))
    assert found is not None
    assert found.on_track is on_track


def test_compounded_growth_and_met_of_the_last_13() -> None:
    weeks = [f"2026-W{n:02d}" for n in range(30, 48)]
    points = [
        Point(week, Decimal(100) * Decimal("1.05") ** k, None if k == 0 else k % 3 == 0)
        for k, week in enumerate(weeks)
    ]
    assert format_percent(compounded(points, 4)) == "5.00 %"
    assert format_percent(compounded(points, 13)) == "5.00 %"
    assert compounded(points, 52) is None  # a year before is not there
    assert met_of_last(points) == (4, 13)  # k = 6, 9, 12, 15 of the weeks 35 to 47
    assert arr_added(Decimal("100266.13"), Decimal("90000")) == Decimal("123193.56")
    assert arr_added(Decimal(1), None) is None


def test_the_worked_case_sentences() -> None:
    week = judge(Decimal("100266.13"), Decimal("99263.30"), TARGET, None)
    assert target_sentence(Decimal("100266.13"), "usd", week, TARGET, (0, 13)) == (
        "MRR grew 1.01 % to 100,266.13 USD, missing the 10.00 % target by 8,923.50; met 0 "
        "of the last 13 weeks."
    )
    moves = {
        "new": Decimal("2546.50"),
        "expansion": Decimal("240.00"),
        "reactivation": Decimal(0),
        "contraction": Decimal("63.00"),
        "churn": Decimal("1720.67"),
    }
    assert bridge_sentence(moves, "usd") == (
        "Net new MRR +1,002.83: new 2,546.50, expansion 240.00, reactivation 0.00, "
        "contraction 63.00, churn 1,720.67; churn and contraction took 64.0 % of new."
    )
    kpi = KpiConfig(
        name="CARR Closed (this quarter)",
        unit="money",
        period="quarter_to_date",
        goal=Decimal(450000),
    )
    mqls = KpiConfig(name="MQLs", goal=Decimal(120))
    day = date(2026, 11, 17)
    carr = standing(kpi, Decimal(168000), quarter_of(day), day)
    leads = standing(mqls, Decimal(118), quarter_of(day), day)
    assert carr is not None
    assert leads is not None
    assert kpi_sentence([("MQLs", leads), ("CARR Closed (this quarter)", carr)]) == (
        "CARR Closed (this quarter) is furthest behind its goal: 37.3 % of its goal with "
        "52.2 % of the quarter gone."
    )
    ahead = standing(mqls, Decimal(130), quarter_of(day), day)
    assert ahead is not None
    assert kpi_sentence([("MQLs", ahead)]) == (
        "MQLs is furthest ahead of its goal; every KPI with a goal is on track: 108.3 % of "
        "its goal."
    )
    assert kpi_sentence([]) is None


def test_a_small_drag_is_not_named() -> None:
    moves = dict.fromkeys(("new", "expansion", "reactivation", "contraction", "churn"), Decimal(0))
    moves["new"], moves["churn"] = Decimal(100), Decimal(24)
    assert bridge_sentence(moves, "usd") == (
        "Net new MRR +76.00: new 100.00, expansion 0.00, reactivation 0.00, contraction "
        "0.00, churn 24.00."
    )


@pytest.mark.parametrize(
    ("better", "goal", "value", "on_track"),
    [
        ("up", "0", "0", True),
        ("up", "0", "-1", False),
        ("down", "0", "0", True),
        ("down", "0", "2", False),
        ("down", "-5", "-7", True),  # a loss held under 5: on track below it
        ("down", "-5", "-3", False),
        ("up", "-5", "-3", True),
        ("up", "-5", "-7", False),
    ],
)
def test_goals_of_0_and_below_are_judged_by_their_sign(
    better: str, goal: str, value: str, on_track: bool
) -> None:
    """review-rules: on track when value >= goal (up) or <= goal (down), whatever the
    goal's sign, 0 and negative goals included."""
    kpi = KpiConfig(name="Net", period="point", better=better, goal=Decimal(goal))  # type: ignore[arg-type]
    judged = standing(kpi, Decimal(value), parse_quarter("2026-Q4"), date(2026, 11, 17))
    assert judged is not None
    assert judged.on_track is on_track
    assert (judged.behind_by is None) is on_track


def test_the_sentence_states_the_kpis_own_share_and_a_gap_past_a_goal_of_0() -> None:
    quarter, day = parse_quarter("2026-Q4"), date(2026, 11, 17)
    churned = KpiConfig(name="Churned", better="down", goal=Decimal(10))
    judged = standing(churned, Decimal(15), quarter, day)
    assert judged is not None
    assert kpi_sentence([("Churned", judged)]) == (
        "Churned is furthest behind its goal: 150.0 % of its goal."  # never 50.0 %
    )
    incidents = KpiConfig(name="Incidents", better="down", goal=Decimal(0))
    over = standing(incidents, Decimal(3), quarter, day)
    assert over is not None
    assert kpi_sentence([("Incidents", over)]) == (
        "Incidents is furthest behind its goal: 3 above its goal of 0."
    )


def test_mrr_that_fell_says_fell() -> None:
    judged = judge(Decimal("97466.13"), Decimal("99263.30"), Decimal("0.10"), None)
    sentence = target_sentence(Decimal("97466.13"), "usd", judged, Decimal("0.10"), (0, 13))
    assert sentence.startswith("MRR fell 1.81 % to 97,466.13 USD, missing the 10.00 % target")
