"""The Tuesday review as one self-contained HTML page: rendered from the one review
document through a Jinja2 template (data/review.html.j2) with escaping on, charts
drawn as inline SVG (render/charts.py). No script, and nothing the page fetches."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from ffkpi.engine.calendar import weeks_between
from ffkpi.engine.money import format_money, format_percent
from ffkpi.engine.pricing import ZERO
from ffkpi.history.movements import INFLOWS, KINDS
from ffkpi.render.charts import MrrPoint, Step, mrr_chart, progress, sparkline, waterfall
from ffkpi.render.review import EXAMPLE, outside_line, rate_rows, review_dict
from ffkpi.review.document import PROJECTED, SPARK, KpiRow, Mover, Review
from ffkpi.text import printable


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ffkpi", "data"),
        autoescape=True,  # every outside text is escaped unless marked safe here
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class KpiView:
    """One row of the page's KPI table, as shown."""

    name: str
    definition: str
    value: str
    example: bool
    via: str  # where the value came from, and when
    previous: str
    change: str
    spark: Markup
    goal: str
    against: str
    on_track: bool | None
    source: str


def _amount(value: Decimal | None, unit: str, currency: str) -> str:
    if value is None:
        return ""
    if unit == "money":
        return format_money(value, currency, grouping=True)  # the page names the currency
    if unit == "percent":
        return f"{value:,f} %"
    return f"{value:,f}"


def _change(value: Decimal | None, previous: Decimal | None, unit: str, currency: str) -> str:
    if value is None or previous is None:
        return ""
    delta = value - previous
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    shown = _amount(abs(delta), unit, currency).replace(" %", " pp")
    if previous > 0 and unit != "percent":
        shown += f" ({format_percent(delta / previous)})"
    return f"{sign}{shown}"


def _against(row: KpiRow, currency: str) -> str:
    standing = row.standing
    if standing is None:
        return "" if row.goal is None else "no value to judge"
    if standing.share_of_goal is not None and standing.share_gone is not None:
        text = (
            f"{format_percent(standing.share_of_goal)} of goal, "
            f"{format_percent(standing.share_gone)} of the quarter gone"
        )
        if standing.behind_by is not None:
            text += f"; behind by {_amount(standing.behind_by, row.unit, currency)}"
        return text
    if standing.behind_by is not None:
        return f"behind by {_amount(standing.behind_by, row.unit, currency)}"
    return "on track"


def _via(row: KpiRow) -> str:
    """Where a value came from and when: "command, 2026-11-17: a note"."""
    value = row.value
    if value is None:
        return ""
    note = f": {printable(value.note)}" if value.note else ""
    return f"{value.via}, {value.recorded_at:%Y-%m-%d}{note}"


def _kpi_view(row: KpiRow, currency: str) -> KpiView:
    value = row.value
    return KpiView(
        name=printable(row.name),
        definition=printable(row.definition),
        value=_amount(value.value, row.unit, currency) if value else "not recorded",
        example=value is not None and value.via == "example",
        via=_via(row),
        previous=_amount(row.previous.value, row.unit, currency) if row.previous else "",
        change=_change(
            value.value if value else None,
            row.previous.value if row.previous else None,
            row.unit,
            currency,
        ),
        spark=sparkline(row.history, f"{printable(row.name)}: the last {SPARK} weeks"),
        goal=_amount(row.goal, row.unit, currency),
        against=_against(row, currency),
        on_track=row.standing.on_track if row.standing else None,
        source=printable(row.source),
    )


def _mrr_view(review: Review) -> KpiView:
    cur = review.currency
    judged = review.judged
    previous = review.series[-2].mrr if judged.growth is not None else None
    this = review.series[-1]
    if judged.met is None:
        against = f"no growth: {judged.why}"
    elif judged.met:
        against = f"target met, {format_money(judged.excess or ZERO, cur, grouping=True)} over"
    else:
        against = f"missed by {format_money(judged.shortfall or ZERO, cur, grouping=True)}"
    rebuilt = this.source == "reconstructed"
    return KpiView(
        name="MRR",
        definition="Monthly recurring revenue from Stripe, by the config's rules",
        value=_amount(review.mrr, "money", cur),
        example=False,
        via="rebuilt from invoices" if rebuilt else f"snapshot of {review.as_of}",
        previous=_amount(previous, "money", cur),
        change=_change(review.mrr, previous, "money", cur),
        spark=sparkline([w.mrr for w in review.series[-SPARK:]], f"MRR: the last {SPARK} weeks"),
        goal=_amount(judged.needed, "money", cur),
        against=against,
        on_track=judged.met,
        source="Stripe",
    )


def _mover(mover: Mover, currency: str) -> dict[str, str]:
    delta = mover.current - mover.previous
    sign = "+" if delta > 0 else "-"
    return {
        "name": printable(mover.name or mover.customer),
        "id": mover.customer if mover.name else "",
        "kind": mover.kind,
        "previous": format_money(mover.previous, currency, grouping=True),
        "current": format_money(mover.current, currency, grouping=True),
        "change": f"{sign}{format_money(abs(delta), currency, grouping=True)}",
    }


def _points(review: Review) -> list[MrrPoint]:
    target = review.target
    points = []
    weeks = review.series
    for k, week in enumerate(weeks):
        needed = None
        if k and week.comparable and week.previous_mrr is not None:
            needed = week.previous_mrr * (1 + target)
        position = weeks_between(weeks[0].week, week.week)
        rebuilt = week.source == "reconstructed"
        points.append(MrrPoint(week.week, position, week.mrr, needed, rebuilt))
    return points


def _quarter_bars(review: Review) -> list[dict[str, Any]]:
    """CARR closed (and any quarter-to-date KPI with a goal) and CARR projected against
    the quarter's goal, each with the share of the quarter gone marked."""
    bars = []
    for row in review.kpis:
        standing = row.standing
        if standing is None or row.value is None:
            continue
        if row.period == "quarter_to_date" and standing.share_of_goal is not None:
            share = standing.share_of_goal
        elif row.key == PROJECTED:
            share = row.value.value / standing.goal
        else:
            continue
        bars.append(
            {
                "name": printable(row.name),
                "text": (
                    f"{_amount(row.value.value, row.unit, review.currency)} of "
                    f"{_amount(standing.goal, row.unit, review.currency)} "
                    f"({format_percent(share)})"
                ),
                "example": row.value.via == "example",
                "bar": progress(share, review.quarter_gone, standing.on_track, printable(row.name)),
            }
        )
    return bars


def _steps(review: Review) -> Sequence[Step] | None:
    if review.movements is None:
        return None
    counts = review.movement_customers or {}
    labels = {k: k.capitalize() for k in KINDS}
    return [
        Step(
            labels[kind],
            review.movements[kind] if kind in INFLOWS else -review.movements[kind],
            counts.get(kind),
        )
        for kind in KINDS
    ]


def review_html(review: Review, *, top_only: bool = False) -> str:
    """The page; `top_only`: its top (the headline, the sentences, the KPIs and the MRR
    chart), as the PNG shows it."""
    cur = review.currency
    document = review_dict(review)
    rows = [_kpi_view(row, cur) for row in review.kpis] + [_mrr_view(review)]
    steps = _steps(review)
    previous_mrr = review.series[-1].previous_mrr
    bridge = (
        waterfall(previous_mrr, steps, review.mrr, cur)
        if steps is not None and previous_mrr is not None
        else None
    )
    context = {
        "review": document,
        "code": cur.upper(),
        "mrr": format_money(review.mrr, cur, grouping=True),
        "arr": format_money(review.arr, cur, grouping=True),
        "growth": format_percent(review.judged.growth),
        "target": format_percent(review.target),
        "judged": review.judged,
        "needed": _amount(review.judged.needed, "money", cur),
        "shortfall": _amount(review.judged.shortfall, "money", cur),
        "compounded": [(n, format_percent(rate)) for n, rate in review.compounded.items()],
        "met": review.met,
        "example": EXAMPLE if document["example_data"] else None,
        "sentences": [printable(s) for s in review.sentences],
        "kpis": rows,
        "spark_weeks": SPARK,
        "chart": mrr_chart(_points(review), cur),
        "chart_weeks": len(review.series),
        "bridge": bridge,
        "rates": rate_rows(review) if review.rates else None,
        "movers_up": [_mover(m, cur) for m in review.movers_up],
        "movers_down": [_mover(m, cur) for m in review.movers_down],
        "tiers": [
            {
                "name": printable(t.name),
                "mrr": format_money(t.mrr, cur, grouping=True),
                "share": format_percent(t.share),
                "growth": format_percent(t.growth),
            }
            for t in review.tiers
        ],
        "quarter": review.quarter,
        "quarter_gone": format_percent(review.quarter_gone),
        "mrr_added": _amount(review.mrr_added, "money", cur),
        "arr_added": _amount(review.arr_added, "money", cur),
        "quarter_bars": _quarter_bars(review),
        "limits": review.limits,
        "notes": [printable(note) for note in review.notes],
        "outside": document["outside_tiers"],
        "outside_line": outside_line(review),
        "top_only": top_only,
    }
    return _environment().get_template("review.html.j2").render(context)
