"""The Tuesday review of one week, built once from the growth history (snapshots or
rebuilt weeks, with their movements), the recorded KPI values and the config: every
format renders this one document, so no two can disagree. Pure.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ffkpi.config import Config
from ffkpi.engine.calendar import WEEK, Quarter, quarter_of, week_before, week_name, weeks_between
from ffkpi.errors import UsageError
from ffkpi.history.growth import History, Week, printed_movements
from ffkpi.history.movements import Rates
from ffkpi.review.figures import (
    HORIZONS,
    Judgement,
    Point,
    Standing,
    arr_added,
    compounded,
    judge,
    met_of_last,
    standing,
)
from ffkpi.review.sentences import bridge_sentence, kpi_sentence, target_sentence
from ffkpi.storage.kpis import Recorded

SPARK = 8  # weeks a KPI's sparkline shows
PROJECTED, GOAL = "carr_projected", "carr_goal"  # the handbook's pair (review-rules.md)


@dataclass(frozen=True, slots=True)
class KpiRow:
    key: str
    name: str
    unit: str
    period: str
    value: Recorded | None  # None: not recorded (never 0)
    previous: Recorded | None  # the week before's, where comparable
    goal: Decimal | None
    standing: Standing | None
    history: tuple[Decimal | None, ...]  # the last SPARK weeks, oldest first
    definition: str
    source: str


@dataclass(frozen=True, slots=True)
class Review:
    week: str
    as_of: date
    currency: str
    mrr: Decimal
    arr: Decimal
    target: Decimal
    judged: Judgement
    compounded: dict[int, Decimal | None]  # per week, over 4, 13 and 52 weeks
    met: tuple[int, int]  # met k of the last n judged weeks (n up to 13)
    movements: Mapping[str, Decimal] | None  # the week's bridge, where known
    rates: dict[int, Rates | None]  # the week's (1) and the trailing 4 and 52 weeks'
    quarter: Quarter
    quarter_gone: Decimal
    arr_added: Decimal | None  # this quarter
    series: tuple[Week, ...]  # the weeks the MRR chart shows, oldest first
    kpis: tuple[KpiRow, ...]
    sentences: tuple[str, ...]
    limits: tuple[str, ...]  # what rebuilt weeks cannot show, stated once


def build_review(
    history: History,
    recorded: Mapping[str, Mapping[str, Recorded]],
    config: Config,
    week: str | None = None,
) -> Review:
    """The review of `week` (default: the newest of the history)."""
    weeks = history.weeks
    if not weeks:
        raise UsageError("no week to review yet", "take a snapshot, or pass --input or --demo")
    names = [w.week for w in weeks]
    if week is None:
        week = names[-1]
    if week not in names:
        raise UsageError(
            f"{week} is not among the weeks ({names[0]} to {names[-1]})",
            "pick one of the weeks `ffkpi history` lists",
        )
    k = names.index(week)
    this, shown = weeks[k], weeks[: k + 1]
    target = history.target
    before = weeks[k - 1] if k else None
    why = None
    previous_mrr = None
    if before is None:
        why = "it is the first week"
    elif weeks_between(before.week, this.week) != 1:
        why = f"the week before it, {week_before(this.week)}, is missing"
    elif not this.comparable or before.currency != this.currency:
        why = "the week before it was made under another config or currency"
    else:
        previous_mrr = before.mrr
    judged = judge(this.mrr, previous_mrr, target, why)
    points = [Point(w.week, w.mrr, w.met_target) for w in shown if w.currency == this.currency]
    quarter = quarter_of(this.as_of)
    start = next(
        (w for w in reversed(shown) if w.as_of < quarter.first_day and w.currency == this.currency),
        None,
    )
    bridge = printed_movements(this)  # as every output of the bridge prints it
    rows = tuple(_kpi_rows(config, recorded, this, shown, quarter))
    standings = [(row.name, row.standing) for row in rows if row.standing is not None]
    met = met_of_last(points)
    sentences = [target_sentence(this.mrr, this.currency, judged, target, met)]
    if bridge is not None:
        sentences.append(bridge_sentence(bridge, this.currency))
    about_kpis = kpi_sentence(standings)
    if about_kpis is not None:
        sentences.append(about_kpis)
    return Review(
        week=this.week,
        as_of=this.as_of,
        currency=this.currency,
        mrr=this.mrr,
        arr=this.arr,
        target=target,
        judged=judged,
        compounded={n: compounded(points, n) for n in HORIZONS},
        met=met,
        movements=bridge,
        rates={1: this.moves.rates, **this.moves.trailing} if this.moves is not None else {},
        quarter=quarter,
        quarter_gone=quarter.share_gone(this.as_of),
        arr_added=arr_added(this.mrr, start.mrr if start is not None else None),
        series=tuple(shown),
        kpis=rows,
        sentences=tuple(sentences),
        limits=history.limits,
    )


def _carried(
    recorded: Mapping[str, Mapping[str, Recorded]], key: str, week: str, quarter: Quarter
) -> Recorded | None:
    """A quarter's one figure (a goal), carried to every later week of the quarter: the
    newest recorded in it up to `week`."""
    first = week_name(quarter.first_day)
    weeks = sorted(w for w in recorded if first <= w <= week and key in recorded[w])
    return recorded[weeks[-1]][key] if weeks else None


def _kpi_rows(
    config: Config,
    recorded: Mapping[str, Mapping[str, Recorded]],
    this: Week,
    shown: list[Week],
    quarter: Quarter,
) -> list[KpiRow]:
    rows = []
    previous_week = week_before(this.week)
    recent = [w.week for w in shown][-SPARK:]
    for key, kpi in config.kpis.items():
        value = recorded.get(this.week, {}).get(key)
        before = recorded.get(previous_week, {}).get(key)
        if kpi.period == "quarter" and value is None:
            value = _carried(recorded, key, this.week, quarter)  # one figure a quarter
        if kpi.period == "quarter_to_date" and quarter_of(this.as_of - WEEK) != quarter:
            before = None  # a quarter's running total restarts: no comparison across it
        goal = kpi.goal_for(quarter.name)
        judged_as = kpi
        if key == PROJECTED and goal is None and GOAL in config.kpis:
            # review-rules: projected CARR is on track when it reaches the CARR goal.
            carried = _carried(recorded, GOAL, this.week, quarter)
            goal = carried.value if carried is not None else None
            judged_as = kpi.model_copy(update={"period": "point", "goal": goal})
        rows.append(
            KpiRow(
                key=key,
                name=kpi.name,
                unit=kpi.unit,
                period=kpi.period,
                value=value,
                previous=before,
                goal=goal,
                standing=standing(judged_as, value.value if value else None, quarter, this.as_of),
                history=tuple(
                    entry.value if (entry := recorded.get(name, {}).get(key)) else None
                    for name in recent
                ),
                definition=kpi.definition,
                source=kpi.source,
            )
        )
    return rows
