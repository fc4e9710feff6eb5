"""The Tuesday review as JSON (`ffkpi.review/1`) and as GitHub-flavoured Markdown (for
Notion and GitHub), both rendered from the one review document."""

from decimal import Decimal
from typing import Any

from ffkpi.engine.money import format_money, format_percent, format_rate, format_ratio
from ffkpi.history.movements import Rates
from ffkpi.render.formats import to_json
from ffkpi.review.document import KpiRow, Mover, Review
from ffkpi.text import printable

REVIEW_SCHEMA = "ffkpi.review/1"
EXAMPLE = "Example data: the demo's other KPIs are made up, not measured."


def _example(review: Review) -> bool:
    """Whether any value shown is the demo's made-up one."""
    return any(row.value is not None and row.value.via == "example" for row in review.kpis)


def _shown(row: dict[str, Any]) -> str:
    """A KPI's value as a page shows it: "not recorded" for none, marked when made up."""
    if row["value"] is None:
        return "not recorded"
    return f"{row['value']} (example)" if row.get("via") == "example" else str(row["value"])


KINDS = ("new", "expansion", "reactivation", "contraction", "churn")


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


def outside_line(review: Review) -> str | None:
    """One line for the revenue outside the tiers, or None where there is none."""
    outside = review.outside
    if not outside.products:
        return None
    cur = review.currency
    change = ""
    if outside.previous is not None:
        change = f" ({format_signed(outside.mrr - outside.previous, cur)} on the week)"
    products = ", ".join(
        f"{printable(row.name)} {format_money(row.mrr, cur, grouping=True)}"
        for row in outside.products
    )
    return (
        f"Outside the tiers, not in MRR: {format_money(outside.mrr, cur, grouping=True)} "
        f"{cur.upper()} a month{change}: {products}"
    )


def format_signed(amount: Decimal, currency: str) -> str:
    """An amount with its sign: +1,234.50 or -12.00."""
    shown = format_money(amount, currency, grouping=True)
    return shown if shown.startswith("-") else f"+{shown}"


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
        f"**MRR {format_money(review.mrr, cur, grouping=True)} {code}** · ARR "
        f"{format_money(review.arr, cur, grouping=True)} {code} · growth "
        f"{format_percent(review.judged.growth) or 'none'} against "
        f"{format_percent(review.target)} a week",
        "",
        *([f"> {EXAMPLE}", ""] if _example(review) else []),
        *[line for note in review.notes for line in (f"> **Data note:** {_cell(note)}", "")],
        *(f"- {_cell(sentence)}" for sentence in review.sentences),
        "",
        "| KPI | This week | Last week | Goal | Source |",
        "|---|---:|---:|---:|---|",
    ]
    document = review_dict(review)
    for row in document["kpis"]:
        previous = row["previous"] or ""
        if previous and row.get("via") == "example":
            previous += " (example)"
        lines.append(
            f"| {_cell(row['name'])} | {_shown(row)} | {previous} | "
            f"{row['goal'] or ''} | {_cell(row['source'] or '')} |"
        )
    if document["movements"] is not None:
        counts = document["movement_customers"]
        lines += [
            "",
            "| | New | Expansion | Reactivation | Contraction | Churn |",
            "|---|---:|---:|---:|---:|---:|",
            "| MRR | " + " | ".join(document["movements"][kind] for kind in KINDS) + " |",
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
    """Retention, the top movers, the tiers and the quarter, as Markdown."""
    lines: list[str] = []
    if review.rates:
        lines += ["", "| Retention | This week | 4 weeks | 52 weeks |", "|---|---:|---:|---:|"]
        lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rate_rows(review)]
    movers = document["movers"]["up"] + document["movers"]["down"]
    if movers:
        lines += [
            "",
            "| Top movers | Movement | Before | Now | Change |",
            "|---|---|---:|---:|---:|",
        ]
        for mover in movers:
            name = _cell(mover["name"] or mover["customer"])
            lines.append(
                f"| {name} | {mover['kind']} | {mover['previous']} | {mover['current']} | "
                f"{mover['change']} |"
            )
    if review.tiers:
        lines += ["", "| Tier | MRR | Share | Growth |", "|---|---:|---:|---:|"]
        lines += [
            f"| {_cell(tier.name)} | {format_money(tier.mrr, review.currency)} | "
            f"{format_percent(tier.share)} | {format_percent(tier.growth)} |"
            for tier in review.tiers
        ]
    outside = document["outside_tiers"]
    if outside["products"]:
        lines += [
            "",
            "| Outside the tiers (not in MRR) | MRR | Last week | Change |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {_cell(row['name'])} | {row['mrr']} | {row['previous'] or ''} | "
            f"{row['change'] or ''} |"
            for row in outside["products"]
        ]
        lines.append(
            f"| **Total** | **{outside['mrr']}** | {outside['previous'] or ''} | "
            f"{outside['change'] or ''} |"
        )
    quarter = document["quarter"]
    added = (
        f"MRR added {quarter['mrr_added']}, ARR added {quarter['arr_added']}"
        if quarter["mrr_added"] is not None
        else "no week before it to measure what it added from"
    )
    lines += [
        "",
        f"**{quarter['name']}**: {format_percent(review.quarter_gone)} of the quarter gone; "
        f"{added}.",
    ]
    return lines


SLACK_LIMIT = 3000  # characters Slack shows of a message before it folds it


def _slack(text: str) -> str:
    """Outside text in Slack's mrkdwn: &, < and > escaped, so no name becomes a link,
    a mention or markup."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def review_slack(review: Review) -> str:
    """The review as a Slack message (mrkdwn has no tables): the headline, the sentences,
    each KPI on a line; within Slack's limits."""
    cur = review.currency
    code = cur.upper()
    lines = [
        f"*KPI review {review.week}* (as of {review.as_of})",
        f"*MRR {format_money(review.mrr, cur, grouping=True)} {code}* · ARR "
        f"{format_money(review.arr, cur, grouping=True)} {code} · growth "
        f"{format_percent(review.judged.growth) or 'none'} against "
        f"{format_percent(review.target)} a week",
        "",
        *([f"_{EXAMPLE}_", ""] if _example(review) else []),
        *(f":warning: {_slack(note)}" for note in review.notes),
        *([""] if review.notes else []),
        *(f"• {_slack(sentence)}" for sentence in review.sentences),
        *([f"• {_slack(line)}"] if (line := outside_line(review)) else []),
        "",
    ]
    for row in review_dict(review)["kpis"]:
        goal = f" (goal {row['goal']})" if row["goal"] else ""
        lines.append(f"• {_slack(row['name'])}: {_shown(row)}{goal}")
    text = "\n".join(lines) + "\n"
    if len(text) > SLACK_LIMIT:
        text = text[: SLACK_LIMIT - 2].rsplit("\n", 1)[0] + "\n…\n"
    return text
