"""The Tuesday review as one self-contained HTML page: rendered from the one review
document through a Jinja2 template (data/review.html.j2) with escaping on, charts
drawn as inline SVG (render/charts.py). No script, and nothing the page fetches."""

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import jinja2

from ffkpi.engine.calendar import weeks_between
from ffkpi.engine.money import format_money, format_percent
from ffkpi.history.movements import INFLOWS, KINDS
from ffkpi.render.charts import MrrPoint, Step, mrr_chart, progress, sparkline, waterfall
from ffkpi.render.review import EXAMPLE, rate_rows, review_dict
from ffkpi.render.wording import amount, kpi_views, mrr_history, outside_line, whole_figures
from ffkpi.review.document import PROJECTED, SPARK, Mover, Review
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


PHONE_WEEKS = 13  # the MRR chart a phone shows: a quarter's weeks, this one last


def _points(review: Review, last: int | None = None) -> list[MrrPoint]:
    """The chart's weeks (the `last` of them), each placed at its ISO week."""
    target = review.target
    points = []
    weeks = review.series[-last:] if last else review.series
    for week in weeks:
        needed = None
        if week.comparable and week.previous_mrr is not None:
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
        # review-rules: what has closed is on pace at the share of the quarter gone;
        # the projection is where the quarter ends, on track at the whole goal.
        if row.key == PROJECTED and standing.goal > 0:
            share, pace = row.value.value / standing.goal, Decimal(1)
        elif row.period == "quarter_to_date" and standing.share_of_goal is not None:
            share, pace = standing.share_of_goal, review.quarter_gone
        else:
            continue
        whole = whole_figures(row)
        bars.append(
            {
                "name": printable(row.name),
                "text": (
                    f"{amount(row.value.value, row.unit, review.currency, whole=whole)} of "
                    f"{amount(standing.goal, row.unit, review.currency, whole=whole)} "
                    f"({format_percent(share)})"
                ),
                "example": row.value.via == "example",
                "bar": progress(share, pace, standing.on_track, printable(row.name)),
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
    rows = [
        dataclasses.replace(view, spark=sparkline(values, f"{view.name}: the last {SPARK} weeks"))
        for view, values in zip(
            kpi_views(review),
            [*(row.history for row in review.kpis), mrr_history(review)],
            strict=True,
        )
    ]
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
        "needed": amount(review.judged.needed, "money", cur),
        "shortfall": amount(review.judged.shortfall, "money", cur),
        "compounded": [(n, format_percent(rate)) for n, rate in review.compounded.items()],
        "met": review.met,
        "example": EXAMPLE if document["example_data"] else None,
        "sentences": [printable(s) for s in review.sentences],
        "kpis": rows,
        "spark_weeks": SPARK,
        "chart": mrr_chart(_points(review), cur),
        "chart_phone": mrr_chart(_points(review, PHONE_WEEKS), cur, 400, 300),
        "phone_weeks": min(PHONE_WEEKS, len(review.series)),
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
        "mrr_added": amount(review.mrr_added, "money", cur),
        "arr_added": amount(review.arr_added, "money", cur),
        "quarter_bars": _quarter_bars(review),
        "limits": review.limits,
        "notes": [printable(note) for note in review.notes],
        "outside": document["outside_tiers"],
        "outside_line": outside_line(review),
        "top_only": top_only,
    }
    return _environment().get_template("review.html.j2").render(context)
