"""The review of one week, built from the demo's rebuilt weeks and recorded KPIs: the
worked case of docs/review-rules.md, whole."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts import WORKED_KPIS
from ffkpi.config import parse_config
from ffkpi.engine.calendar import weeks_back
from ffkpi.engine.money import format_money, format_percent
from ffkpi.errors import UsageError
from ffkpi.review.document import build_review
from ffkpi.sources.demo import DEMO_AS_OF, example_config_text, load_demo
from ffkpi.storage.kpis import Recorded
from ffkpi.usecases.past import rebuilt_history, rebuilt_movers

AT = datetime(2026, 11, 17, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def review_inputs():  # type: ignore[no-untyped-def]
    config = parse_config(example_config_text() + WORKED_KPIS, "ffkpi.toml")
    data = load_demo(history=True)
    days = weeks_back(DEMO_AS_OF - timedelta(weeks=60), DEMO_AS_OF)
    history = rebuilt_history(data, config, days, last=None, by_tier=False)
    recorded = {
        "2026-W46": {
            "mqls": Recorded(Decimal(110), "manual", AT),
            "carr_closed": Recorded(Decimal(150000), "csv", AT),
        },
        "2026-W47": {
            "mqls": Recorded(Decimal(118), "command", AT),
            "carr_closed": Recorded(Decimal(168000), "manual", AT, "Q4 pipeline review"),
        },
    }
    return history, recorded, config


def test_the_worked_case_as_one_document(review_inputs) -> None:  # type: ignore[no-untyped-def]
    history, recorded, config = review_inputs
    review = build_review(history, recorded, config)
    assert (review.week, review.as_of, review.currency) == ("2026-W47", date(2026, 11, 17), "usd")
    assert format_money(review.mrr, "usd") == "100266.13"
    assert format_percent(review.judged.growth) == "1.01 %"
    assert format_money(review.judged.shortfall or Decimal(0), "usd") == "8923.50"
    assert review.movements is not None
    assert format_money(review.movements["churn"], "usd") == "1720.67"
    assert review.quarter.name == "2026-Q4"
    assert review.quarter_gone == Decimal(48) / Decimal(92)
    assert review.sentences == (
        "MRR grew 1.01 % to 100,266.13 USD, missing the 10.00 % target by 8,923.50; met 0 of "
        "the last 13 weeks.",
        "Net new MRR +1,002.83: new 2,546.50, expansion 240.00, reactivation 0.00, "
        "contraction 63.00, churn 1,720.67; churn and contraction took 64.0 % of new.",
        "CARR Closed (this quarter) is furthest behind its goal: 37.3 % of its goal with "
        "52.2 % of the quarter gone.",
    )
    mqls, carr = review.kpis
    assert (mqls.value and mqls.value.value, mqls.previous and mqls.previous.value) == (
        Decimal(118),
        Decimal(110),
    )
    assert mqls.history[-2:] == (Decimal(110), Decimal(118))
    assert mqls.history[0] is None  # not recorded: no point, never 0
    assert carr.standing is not None
    assert format_money(carr.standing.behind_by or Decimal(0), "usd") == "66782.61"
    weeks = {w.week: w.mrr for w in history.weeks}
    for n, week in ((4, "2026-W43"), (13, "2026-W34"), (52, "2025-W47")):
        expected = (review.mrr / weeks[week]) ** (Decimal(1) / n) - 1
        assert format_percent(review.compounded[n]) == format_percent(expected)
    assert review.limits  # rebuilt weeks: what they cannot show is stated


def test_a_week_not_in_the_history_is_one_clear_error(review_inputs) -> None:  # type: ignore[no-untyped-def]
    history, recorded, config = review_inputs
    with pytest.raises(UsageError, match="2030-W01 is not among the weeks"):
        build_review(history, recorded, config, "2030-W01")
    earlier = build_review(history, recorded, config, "2026-W46")
    assert earlier.kpis[0].value is not None
    assert earlier.kpis[0].previous is None  # not recorded the week before


def test_a_quarters_figure_is_carried_to_its_later_weeks(review_inputs) -> None:  # type: ignore[no-untyped-def]
    history, recorded, _ = review_inputs
    goal = parse_config(
        example_config_text()
        + '\n[kpis.carr_goal]\nname = "CARR Goal (this quarter)"\nunit = "money"\n'
        'period = "quarter"\n',
        "ffkpi.toml",
    )
    values = {**recorded, "2026-W41": {"carr_goal": Recorded(Decimal(450000), "manual", AT)}}
    row = build_review(history, values, goal).kpis[0]
    assert row.value is not None
    assert row.value.value == Decimal(450000)  # recorded in W41, carried to W47
    earlier = {"2026-W39": {"carr_goal": Recorded(Decimal(380000), "manual", AT)}}
    assert build_review(history, earlier, goal).kpis[0].value is None  # another quarter's


def test_movers_tiers_and_the_bridges_customers() -> None:
    config = parse_config(example_config_text(), "ffkpi.toml")
    data = load_demo(history=True)
    days = weeks_back(DEMO_AS_OF - timedelta(weeks=8), DEMO_AS_OF)
    history = rebuilt_history(data, config, days, last=None, by_tier=True)
    review = build_review(history, {}, config, customer_names=data.customer_names)
    week = history.weeks[-1]
    assert week.moves is not None
    changes = rebuilt_movers(data, config, days).moves  # every change of the week
    assert len(week.moves.changes) < len(changes)  # a week keeps its largest only
    rises = sorted(
        (c.current - c.previous for c in changes if c.current > c.previous), reverse=True
    )
    falls = sorted(c.current - c.previous for c in changes if c.current < c.previous)
    assert [m.current - m.previous for m in review.movers_up] == rises[:5]
    assert [m.current - m.previous for m in review.movers_down] == falls[:5]
    top = review.movers_up[0].customer
    assert review.movers_up[0].name == data.customer_names.of([top])[top]
    assert review.movement_customers == {
        kind: sum(1 for c in changes if c.kind == kind)
        for kind in ("new", "expansion", "reactivation", "contraction", "churn")
    }
    assert [t.name for t in review.tiers] == [t.name for t in config.tiers]
    assert sum(t.mrr for t in review.tiers) == review.mrr
    assert [format_percent(t.share) for t in review.tiers] == ["5.70 %", "94.30 %"]
    assert review.mrr_added is not None
    assert review.arr_added == 12 * review.mrr_added


def test_projected_carr_is_judged_against_the_whole_goal(review_inputs) -> None:  # type: ignore[no-untyped-def]
    """Projected 402,000 of a 450,000 goal with 52 % of the quarter gone: 89 % of the goal
    is past the share gone, yet projected is where the quarter ends: behind, by 48,000."""
    history, _, _ = review_inputs
    config = parse_config(
        example_config_text() + '\n[kpis.carr_projected]\nname = "CARR Projected"\nunit = "money"\n'
        'period = "quarter_to_date"\ngoal = 450000\n',
        "ffkpi.toml",
    )
    values = {"2026-W47": {"carr_projected": Recorded(Decimal(402000), "manual", AT)}}
    (row,) = build_review(history, values, config).kpis
    assert row.standing is not None
    assert row.standing.on_track is False
    assert row.standing.behind_by == Decimal(48000)
    assert row.standing.share_gone is None  # never against the share of the quarter gone
