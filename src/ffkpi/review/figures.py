"""The figures of the Tuesday review, by docs/review-rules.md: the week's MRR against
the weekly target, growth compounded over 4, 13 and 52 weeks, the quarter's ARR added,
and each other KPI against its goal. Pure: the day and the figures come in.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from ffkpi.config import KpiConfig
from ffkpi.engine.calendar import Quarter, weeks_between
from ffkpi.history.growth import weekly_growth

TWELVE = Decimal(12)
HORIZONS = (4, 13, 52)  # weeks over which growth is compounded
MET_WINDOW = 13  # "met k of the last 13"


@dataclass(frozen=True, slots=True)
class Judgement:
    """A week's MRR against the weekly target."""

    growth: Decimal | None  # None: no week before it to compare with (why says so)
    needed: Decimal | None  # the week before's MRR grown by the target
    shortfall: Decimal | None  # needed - MRR, when positive
    excess: Decimal | None  # MRR - needed, when the target was met
    met: bool | None
    why: str | None = None  # why there is no growth


def judge(mrr: Decimal, previous: Decimal | None, target: Decimal, why: str | None) -> Judgement:
    """The week against the one before it (`previous` None: `why` there is none)."""
    if previous is None or previous <= 0:
        return Judgement(None, None, None, None, None, why or "no week before it")
    with localcontext(prec=34):
        growth = mrr / previous - 1
        needed = previous * (1 + target)
    met = growth >= target
    return Judgement(
        growth=growth,
        needed=needed,
        shortfall=None if met else needed - mrr,
        excess=mrr - needed if met else None,
        met=met,
    )


@dataclass(frozen=True, slots=True)
class Point:
    """One week of the MRR series the review reads."""

    week: str
    mrr: Decimal
    met: bool | None


def compounded(points: Sequence[Point], weeks: int) -> Decimal | None:
    """The weekly rate that compounds the MRR of `weeks` weeks before the last into the
    last's, where both weeks are there."""
    if not points:
        return None
    last = points[-1]
    earlier = next((p for p in points if weeks_between(p.week, last.week) == weeks), None)
    if earlier is None:
        return None
    return weekly_growth(last.mrr, earlier.mrr, weeks)


def met_of_last(points: Sequence[Point]) -> tuple[int, int]:
    """How many of the last MET_WINDOW ISO weeks (ending with the last) met the target,
    and how many of them have a judgement at all."""
    if not points:
        return 0, 0
    last = points[-1]
    inside = [p for p in points if 0 <= weeks_between(p.week, last.week) < MET_WINDOW]
    judged = [p for p in inside if p.met is not None]
    return sum(1 for p in judged if p.met), len(judged)


def arr_added(mrr: Decimal, before_quarter: Decimal | None) -> Decimal | None:
    """ARR added this quarter: 12 x (MRR - MRR of the last week before it began)."""
    return None if before_quarter is None else TWELVE * (mrr - before_quarter)


@dataclass(frozen=True, slots=True)
class Standing:
    """A KPI against its goal for the week."""

    goal: Decimal
    on_track: bool
    share_of_goal: Decimal | None  # quarter-to-date: value / goal
    share_gone: Decimal | None  # quarter-to-date: of the quarter, at the week's day
    behind_by: Decimal | None  # how far from on track, when behind (quarter-to-date: the
    # share of the quarter gone x goal - value)
    lead: Decimal  # how far ahead (positive) or behind (negative): the furthest behind is
    # the smallest, compared across KPIs
    value: Decimal = Decimal(0)  # the value judged


def standing(kpi: KpiConfig, value: Decimal | None, quarter: Quarter, day: date) -> Standing | None:
    """The KPI's standing against its goal in `quarter` at the end of `day`; None when it
    has no goal there or no value recorded (a missing value has no status).

    review-rules.md: a quarter-to-date KPI with a positive goal is on track when its share
    of the goal reaches the share of the quarter gone; any other is on track when the
    value reaches the goal (better up) or stays at or below it (better down), whatever
    the goal's sign, 0 and negative goals included."""
    goal = kpi.goal_for(quarter.name)
    if goal is None or value is None:
        return None
    up = kpi.better == "up"
    with localcontext(prec=34):
        if kpi.period == "quarter_to_date" and goal > 0:
            share = value / goal
            gone = quarter.share_gone(day)
            lead = (share - gone) if up else (gone - share)
            behind = (gone * goal - value) if lead < 0 else None
            if behind is not None and not up:
                behind = value - gone * goal
            return Standing(goal, lead >= 0, share, gone, behind, lead, value)
        # Past the goal, in the goal's own size (1 where the goal is 0): value / goal - 1
        # for a positive goal, reversed for better down.
        lead = (value - goal) / (abs(goal) or Decimal(1))
        lead = lead if up else -lead
        behind = abs(goal - value) if lead < 0 else None
        return Standing(goal, lead >= 0, None, None, behind, lead, value)
