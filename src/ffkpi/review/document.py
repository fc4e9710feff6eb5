"""The Tuesday review of one week, built once from the growth history (snapshots or
rebuilt weeks, with their movements), the recorded KPI values and the config: every
format renders this one document, so no two can disagree. Pure.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from ffkpi.config import CARR_GOAL, CARR_JUDGED, Config
from ffkpi.engine.calendar import (
    WEEK,
    Quarter,
    day_in_week,
    quarter_of,
    week_before,
    weeks_between,
)
from ffkpi.engine.model import NO_NAMES, Names
from ffkpi.engine.pricing import ZERO
from ffkpi.errors import UsageError
from ffkpi.history.growth import History, Week, printed_movements
from ffkpi.history.movements import MOVERS, Change, Rates
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
PROJECTED = "carr_projected"


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
class Mover:
    """A customer whose MRR moved this week, named where the data has names."""

    customer: str
    name: str | None
    kind: str  # new, expansion, reactivation, contraction or churn
    previous: Decimal
    current: Decimal


@dataclass(frozen=True, slots=True)
class TierRow:
    name: str
    mrr: Decimal
    share: Decimal | None  # of the week's MRR
    growth: Decimal | None  # against the week before, per week


@dataclass(frozen=True, slots=True)
class UnlistedRow:
    """A product outside the tiers: recurring revenue that MRR leaves out."""

    name: str
    mrr: Decimal
    previous: Decimal | None  # the week before's, where that week is known


@dataclass(frozen=True, slots=True)
class Outside:
    """Recurring revenue outside the tiers, this week and the week before."""

    mrr: Decimal
    previous: Decimal | None
    products: tuple[UnlistedRow, ...]  # largest first


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
    movement_customers: Mapping[str, int] | None  # the customers behind each movement
    movers_up: tuple[Mover, ...]  # the largest rises, largest first
    movers_down: tuple[Mover, ...]  # the largest falls, largest first
    tiers: tuple[TierRow, ...]
    rates: dict[int, Rates | None]  # the week's (1) and the trailing 4 and 52 weeks'
    quarter: Quarter
    quarter_gone: Decimal
    mrr_added: Decimal | None  # this quarter: MRR less the last week's before it began
    arr_added: Decimal | None  # this quarter
    series: tuple[Week, ...]  # the weeks the MRR chart shows, oldest first
    kpis: tuple[KpiRow, ...]
    sentences: tuple[str, ...]
    limits: tuple[str, ...]  # what rebuilt weeks cannot show, stated once
    outside: Outside  # recurring revenue outside the tiers: never hidden from finance
    notes: tuple[str, ...] = ()  # what the data behind the figures did not know, at the top


def build_review(
    history: History,
    recorded: Mapping[str, Mapping[str, Recorded]],
    config: Config,
    week: str | None = None,
    customer_names: Names = NO_NAMES,
    chart_weeks: int = 52,
    notes: Sequence[str] = (),
) -> Review:
    """The review of `week` (default: the newest of the history); `customer_names`:
    customers' names, where the data has them (the movers' are looked up); `chart_weeks`:
    the weeks of MRR the review shows (growth is compounded from all of them); `notes`:
    what the run knows of its data (a read older than the week, a rebuild's difference),
    shown at the top with what the week's own read did not find."""
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
        why = (
            "the week before it was made under another MRR definition or currency, and its "
            "read is not kept to recompute it"
        )
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
    moves = this.moves
    counted = moves.movements if moves is not None and bridge is not None else None
    changes = moves.changes if moves is not None else ()
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
        movement_customers=(
            None if counted is None else {kind: move.customers for kind, move in counted.items()}
        ),
        movers_up=_movers((c for c in changes if c.current > c.previous), customer_names),
        movers_down=_movers((c for c in changes if c.current < c.previous), customer_names),
        tiers=_tier_rows(history, this),
        rates={1: this.moves.rates, **this.moves.trailing} if this.moves is not None else {},
        quarter=quarter,
        quarter_gone=quarter.share_gone(this.as_of),
        mrr_added=None if start is None else this.mrr - start.mrr,
        arr_added=arr_added(this.mrr, start.mrr if start is not None else None),
        series=tuple(shown[-chart_weeks:]),
        kpis=rows,
        sentences=tuple(sentences),
        limits=history.limits,
        outside=_outside(this, before if previous_mrr is not None else None),
        notes=(*notes, *this.notes, *_recomputed(shown[-chart_weeks:])),
    )


def _outside(this: Week, before: Week | None) -> Outside:
    """The week's revenue outside the tiers, each product against the week before."""
    earlier = {p.name: p.mrr for p in before.unlisted} if before is not None else None
    rows = tuple(
        UnlistedRow(p.name, p.mrr, None if earlier is None else earlier.get(p.name, ZERO))
        for p in this.unlisted
    )
    total = sum((p.mrr for p in this.unlisted), ZERO)
    previous = None if earlier is None else sum(earlier.values(), ZERO)
    return Outside(total, previous, rows)


def _recomputed(weeks: Sequence[Week]) -> tuple[str, ...]:
    """A note naming the weeks counted again from their kept reads, if any."""
    names = [w.week for w in weeks if w.source == "recomputed"]
    if not names:
        return ()
    return (
        f"{len(names)} earlier week{'s' if len(names) > 1 else ''} ({names[0]} to {names[-1]}) "
        "recomputed from the reads kept then, under today's MRR definition",
    )


def _movers(changes: Iterable[Change], names: Names) -> tuple[Mover, ...]:
    """The MOVERS largest of `changes`, largest first (ties by customer id), named."""
    largest = sorted(changes, key=lambda c: (-abs(c.current - c.previous), c.customer))[:MOVERS]
    named = names.of(c.customer for c in largest)
    return tuple(
        Mover(c.customer, named.get(c.customer), c.kind, c.previous, c.current) for c in largest
    )


def _tier_rows(history: History, this: Week) -> tuple[TierRow, ...]:
    """Each tier's MRR in the week, its share of the total and its growth."""
    rows = []
    for name, weeks in (history.tiers or {}).items():
        week = next((w for w in weeks if w.week == this.week), None)
        if week is None:
            continue
        with localcontext(prec=34):
            share = week.mrr / this.mrr if this.mrr > 0 else None
        rows.append(TierRow(name, week.mrr, share, week.growth))
    return tuple(rows)


def _carried(
    recorded: Mapping[str, Mapping[str, Recorded]], key: str, this: Week, quarter: Quarter
) -> Recorded | None:
    """A quarter's one figure (a goal), carried to every later week of the quarter: the
    newest recorded up to this week in a week of the quarter. A week belongs to the
    quarter of its as-of day (review-rules.md), so the week that holds the quarter's first
    day belongs to the quarter before when its as-of day does."""
    weekday = this.as_of.weekday()
    weeks = sorted(
        w
        for w in recorded
        if w <= this.week and key in recorded[w] and quarter_of(day_in_week(w, weekday)) == quarter
    )
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
            value = _carried(recorded, key, this, quarter)  # one figure a quarter
        if kpi.period == "quarter_to_date" and quarter_of(this.as_of - WEEK) != quarter:
            before = None  # a quarter's running total restarts: no comparison across it
        goal = kpi.goal_for(quarter.name)
        judged_as = kpi
        if key in CARR_JUDGED and CARR_GOAL in config.kpis:
            # review-rules: the one CARR goal is the quarter's carr_goal.
            carried = _carried(recorded, CARR_GOAL, this, quarter)
            goal = carried.value if carried is not None else None
        if key == PROJECTED:
            # Projected is where the quarter ends: judged against the whole goal, never
            # against the share of the quarter gone, whatever its period says.
            judged_as = kpi.model_copy(update={"period": "point", "goal": goal})
        elif goal is not kpi.goal_for(quarter.name):
            judged_as = kpi.model_copy(update={"goal": goal})
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
