"""The Tuesday review as JSON (`ffkpi.review/1`), GitHub-flavoured Markdown (for Notion
and GitHub) and Slack's mrkdwn, all rendered from the one review document in the one
wording of render/wording.py."""

from decimal import Decimal
from typing import Any

from ffkpi.engine.money import format_money, format_percent, format_rate, format_ratio
from ffkpi.history.movements import KINDS, Rates
from ffkpi.render.formats import to_json
from ffkpi.render.wording import (
    bridge_line,
    format_signed,
    headline,
    kpi_views,
    outside_line,
    status,
)
from ffkpi.review.document import KpiRow, Mover, Review
from ffkpi.text import printable

REVIEW_SCHEMA = "ffkpi.review/1"
EXAMPLE = (
    "Example data: the demo's other KPIs come from simulated GitHub and HubSpot accounts "
    "and made-up figures, not measured."
)


def _example(review: Review) -> bool:
    """Whether any value shown is the demo's made-up one."""
    return any(row.value is not None and row.value.via == "example" for row in review.kpis)


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else format_money(amount, currency)


def _rates(rates: Rates | None) -> dict[str, str | None] | None:
    if rates is None:
        return None
    keys = ("logo_churn", "gross_mrr_churn", "net_mrr_churn", "quick_ratio", "nrr", "grr")
    return {key: format_rate(getattr(rates, key)) for key in keys}


def _kpi(row: KpiRow, currency: str) -> dict[str, Any]:
    def amount(value: Decimal | None) -> str | None:
        if value is None:
            return None
        return format_money(value, currency) if row.unit == "money" else f"{value:f}"

    standing = row.standing
    return {
        "key": row.key,
        "name": row.name,
        "unit": row.unit,
        "period": row.period,
        "value": amount(row.value.value if row.value else None),
        "previous": amount(row.previous.value if row.previous else None),
        "goal": amount(row.goal),
        "on_track": None if standing is None else standing.on_track,
        "share_of_goal": format_rate(standing.share_of_goal) if standing else None,
        "behind_by": amount(standing.behind_by) if standing else None,
        "source": row.source,
        "definition": row.definition,
        "via": row.value.via if row.value else None,
        "recorded_at": row.value.recorded_at.isoformat() if row.value else None,
        "note": row.value.note if row.value else None,
        "last_weeks": [amount(value) for value in row.history],
    }


def _mover(mover: Mover, currency: str) -> dict[str, Any]:
    return {
        "customer": mover.customer,
        "name": mover.name,
        "kind": mover.kind,
        "previous": format_money(mover.previous, currency),
        "current": format_money(mover.current, currency),
        "change": format_money(mover.current - mover.previous, currency),
    }


def _outside(review: Review) -> dict[str, Any]:
    """Recurring revenue outside the tiers, with its change: MRR leaves it out."""
    cur, outside = review.currency, review.outside

    def change(now: Decimal, before: Decimal | None) -> str | None:
        return None if before is None else format_money(now - before, cur)

    return {
        "mrr": format_money(outside.mrr, cur),
        "previous": _money(outside.previous, cur),
        "change": change(outside.mrr, outside.previous),
        "products": [
            {
                "name": row.name,
                "mrr": format_money(row.mrr, cur),
                "previous": _money(row.previous, cur),
                "change": change(row.mrr, row.previous),
            }
            for row in outside.products
        ],
    }


def review_dict(review: Review) -> dict[str, Any]:
    cur = review.currency
    judged = review.judged
    previous = (
        review.series[-2].mrr if len(review.series) > 1 and judged.growth is not None else None
    )
    mrr_row = {
        "key": "mrr",
        "name": "MRR",
        "unit": "money",
        "period": "point",
        "value": format_money(review.mrr, cur),
        "previous": _money(previous, cur),
        "goal": _money(judged.needed, cur),  # the weekly target's: what the week needed
        "on_track": judged.met,
        "source": "Stripe",
        "recorded_at": None,
    }
    return {
        "schema": REVIEW_SCHEMA,
        "week": review.week,
        "as_of": review.as_of.isoformat(),
        "currency": cur,
        "mrr": format_money(review.mrr, cur),
        "arr": format_money(review.arr, cur),
        "growth": {
            "rate": format_rate(judged.growth),
            "target": format_rate(review.target),
            "met": judged.met,
            "needed": _money(judged.needed, cur),
            "shortfall": _money(judged.shortfall, cur),
            "excess": _money(judged.excess, cur),
            "why_none": judged.why,
            "compounded": {f"{n}w": format_rate(rate) for n, rate in review.compounded.items()},
            "met_of_last": {"met": review.met[0], "weeks": review.met[1]},
        },
        "movements": (
            None
            if review.movements is None
            else {kind: format_money(review.movements[kind], cur) for kind in KINDS}
        ),
        "movement_customers": (
            None
            if review.movement_customers is None
            else {kind: review.movement_customers[kind] for kind in KINDS}
        ),
        "movers": {
            "up": [_mover(mover, cur) for mover in review.movers_up],
            "down": [_mover(mover, cur) for mover in review.movers_down],
        },
        "tiers": [
            {
                "name": tier.name,
                "mrr": format_money(tier.mrr, cur),
                "share": format_rate(tier.share),
                "growth": format_rate(tier.growth),
            }
            for tier in review.tiers
        ],
        "rates": {f"{n}w": _rates(rates) for n, rates in review.rates.items()},
        "quarter": {
            "name": review.quarter.name,
            "first_day": review.quarter.first_day.isoformat(),
            "last_day": review.quarter.last_day.isoformat(),
            "share_gone": format_rate(review.quarter_gone),
            "mrr_added": _money(review.mrr_added, cur),
            "arr_added": _money(review.arr_added, cur),
        },
        "kpis": [*(_kpi(row, cur) for row in review.kpis), mrr_row],
        "outside_tiers": _outside(review),
        "data_notes": list(review.notes),
        "sentences": list(review.sentences),
        "cannot_show": list(review.limits),
        "example_data": _example(review),
    }


def review_json(review: Review) -> str:
    return to_json(review_dict(review))


def _cell(text: str) -> str:
    """Outside text in a Markdown table cell: shown as text, never as markup."""
    escaped = printable(text).replace("\\", "\\\\").replace("|", "\\|")
    for mark in "*_`[]<>#~":
        escaped = escaped.replace(mark, f"\\{mark}")
    return escaped


def review_markdown(review: Review) -> str:
    cur = review.currency
    code = cur.upper()
    lines = [
        f"# KPI review {review.week} (as of {review.as_of})",
        "",
        f"**{_cell(headline(review))}**",
        "",
        *([f"> {EXAMPLE}", ""] if _example(review) else []),
        *[line for note in review.notes for line in (f"> **Data note:** {_cell(note)}", "")],
        *(f"- {_cell(sentence)}" for sentence in review.sentences),
        "",
        f"| KPI ({code}) | This week | Last week | Change | Goal | Status | Source |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    document = review_dict(review)
    for view in kpi_views(review):
        mark = " (example)" if view.example else ""
        previous = f"{view.previous}{mark}" if view.previous else ""
        lines.append(
            f"| {_cell(view.name)} | {view.value}{mark if view.value != 'not recorded' else ''} | "
            f"{previous} | {view.change} | {view.goal} | {_cell(status(view))} | "
            f"{_cell(view.source)} |"
        )
    if (movements := review.movements) is not None:
        counts = document["movement_customers"]
        lines += [
            "",
            "| | New | Expansion | Reactivation | Contraction | Churn |",
            "|---|---:|---:|---:|---:|---:|",
            "| MRR | "
            + " | ".join(format_money(movements[kind], cur, grouping=True) for kind in KINDS)
            + " |",
            "| Customers | " + " | ".join(str(counts[kind]) for kind in KINDS) + " |",
        ]
    lines += _markdown_details(review, document)
    if review.limits:
        lines += ["", "_Rebuilt weeks cannot show: " + "; ".join(review.limits) + "._"]
    return "\n".join(lines) + "\n"


TRAILING_SHOWN = (1, 4, 52)  # weeks: the week's own rates, then two trailing windows
RATE_ROWS = (
    ("nrr", "Net revenue retention"),
    ("grr", "Gross revenue retention"),
    ("gross_mrr_churn", "MRR churn"),
    ("net_mrr_churn", "Net MRR churn"),
    ("logo_churn", "Logo churn"),
    ("quick_ratio", "Quick ratio"),
)


def rate_rows(review: Review) -> list[tuple[str, list[str]]]:
    """Retention for the week, 4 and 52 weeks: rates as percents, the quick ratio as a
    ratio; "" where a window has none."""
    rows = []
    for key, label in RATE_ROWS:
        shown = format_ratio if key == "quick_ratio" else format_percent
        rows.append(
            (label, [shown(getattr(review.rates.get(n), key, None)) for n in TRAILING_SHOWN])
        )
    return rows


def _markdown_details(review: Review, document: dict[str, Any]) -> list[str]:
    """Retention, the top movers, the tiers, revenue outside them and the quarter, as
    Markdown, amounts as the page shows them."""
    cur = review.currency

    def money(figure: Decimal | None) -> str:
        return "" if figure is None else format_money(figure, cur, grouping=True)

    lines: list[str] = []
    if review.rates:
        lines += ["", "| Retention | This week | 4 weeks | 52 weeks |", "|---|---:|---:|---:|"]
        lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rate_rows(review)]
    movers = [*review.movers_up, *review.movers_down]
    if movers:
        lines += [
            "",
            "| Top movers | Movement | Before | Now | Change |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {_cell(m.name or m.customer)} | {m.kind} | {money(m.previous)} | "
            f"{money(m.current)} | {format_signed(m.current - m.previous, cur)} |"
            for m in movers
        ]
    if review.tiers:
        lines += ["", "| Tier | MRR | Share | Growth |", "|---|---:|---:|---:|"]
        lines += [
            f"| {_cell(tier.name)} | {money(tier.mrr)} | "
            f"{format_percent(tier.share)} | {format_percent(tier.growth)} |"
            for tier in review.tiers
        ]
    outside = review.outside
    if outside.products:
        lines += [
            "",
            "| Outside the tiers (not in MRR) | MRR | Last week | Change |",
            "|---|---:|---:|---:|",
        ]

        def change(now: Decimal, before: Decimal | None) -> str:
            return "" if before is None else format_signed(now - before, cur)

        lines += [
            f"| {_cell(row.name)} | {money(row.mrr)} | {money(row.previous)} | "
            f"{change(row.mrr, row.previous)} |"
            for row in outside.products
        ]
        lines.append(
            f"| **Total** | **{money(outside.mrr)}** | {money(outside.previous)} | "
            f"{change(outside.mrr, outside.previous)} |"
        )
    added = (
        f"MRR added {money(review.mrr_added)}, ARR added {money(review.arr_added)}"
        if review.mrr_added is not None
        else "no week before it to measure what it added from"
    )
    lines += [
        "",
        f"**{review.quarter.name}**: {format_percent(review.quarter_gone)} of the quarter gone; "
        f"{added}.",
    ]
    return lines


SLACK_LIMIT = 3000  # characters Slack shows of a message before it folds it


def _slack(text: str) -> str:
    """Outside text in Slack's mrkdwn: &, < and > escaped, so no name becomes a link,
    a mention or markup."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def review_slack(review: Review) -> str:
    """The review as a Slack message (mrkdwn has no tables): the headline, the notes,
    the sentences, the bridge, each KPI with this week, last week, change and status;
    within Slack's limits, the KPIs kept whole before anything after them."""
    code = review.currency.upper()
    lines = [
        f"*KPI review {review.week}* (as of {review.as_of})",
        f"*{_slack(headline(review))}*",
        "",
        *([f"_{EXAMPLE}_", ""] if _example(review) else []),
        *(f":warning: {_slack(note)}" for note in review.notes),
        *([""] if review.notes else []),
        *(f"• {_slack(sentence)}" for sentence in review.sentences),
        *([f"• {_slack(line)}"] if (line := bridge_line(review)) else []),
        *([f"• {_slack(line)}"] if (line := outside_line(review)) else []),
        "",
        f"*KPIs* (amounts in {code})",
    ]
    for view in kpi_views(review):
        mark = " _(example)_" if view.example else ""
        last = f"; last week {view.previous}" if view.previous else ""
        change = f" ({view.change})" if view.change else ""
        goal = f"; goal {view.goal}" if view.goal else ""
        judged = f" · {_slack(status(view))}" if view.on_track is not None else ""
        lines.append(f"• *{_slack(view.name)}*: {view.value}{mark}{last}{change}{goal}{judged}")
    text = "\n".join(lines) + "\n"
    if len(text) > SLACK_LIMIT:
        text = text[: SLACK_LIMIT - 2].rsplit("\n", 1)[0] + "\n…\n"
    return text
