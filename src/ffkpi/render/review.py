"""The Tuesday review as JSON (`ffkpi.review/1`) and as GitHub-flavoured Markdown (for
Notion and GitHub), both rendered from the one review document."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from markupsafe import Markup

from ffkpi.engine.money import format_money, format_percent, format_rate, format_ratio
from ffkpi.engine.pricing import ZERO
from ffkpi.history.movements import INFLOWS, Rates
from ffkpi.render.formats import to_json
from ffkpi.review.document import SPARK, KpiRow, Mover, Review
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
    spark: Markup | None  # the page's sparkline, drawn there
    goal: str
    against: str
    on_track: bool | None
    source: str


def amount(value: Decimal | None, unit: str, currency: str, *, whole: bool = False) -> str:
    """A KPI's figure as every format shows it: thousands separated; money to the cent,
    or in whole units (`whole`) for a KPI whose values are all whole (CARR)."""
    if value is None:
        return ""
    if unit == "money" and whole:
        return f"{value.quantize(Decimal(1), ROUND_HALF_UP):,f}"
    if unit == "money":
        return format_money(value, currency, grouping=True)  # the formats name the currency
    if unit == "percent":
        return f"{value:,f} %"
    return f"{value:,f}"


def _change(
    value: Decimal | None, previous: Decimal | None, unit: str, currency: str, whole: bool
) -> str:
    if value is None or previous is None:
        return ""
    delta = value - previous
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    shown = amount(abs(delta), unit, currency, whole=whole).replace(" %", " pp")
    if previous > 0 and unit != "percent":
        shown += f" ({format_percent(delta / previous)})"
    return f"{sign}{shown}"


def _against(row: KpiRow, currency: str, whole: bool) -> str:
    standing = row.standing
    if standing is None:
        return "" if row.goal is None else "no value to judge"

    def shown(figure: Decimal) -> str:
        return amount(figure, row.unit, currency, whole=whole)

    if standing.share_of_goal is not None and standing.share_gone is not None:
        text = (
            f"{format_percent(standing.share_of_goal)} of goal, "
            f"{format_percent(standing.share_gone)} of the quarter gone"
        )
        if standing.behind_by is not None:
            text += f"; behind by {shown(standing.behind_by)}"
        return text
    if standing.behind_by is not None:
        return f"behind by {shown(standing.behind_by)}"
    return "on track"


def whole_figures(row: KpiRow) -> bool:
    """Whether every figure of the KPI is a whole number (CARR in dollars, counts)."""
    figures = [
        row.value.value if row.value else None,
        row.previous.value if row.previous else None,
        row.goal,
        *row.history,
    ]
    return all(f == f.to_integral_value() for f in figures if f is not None)


def _via(row: KpiRow) -> str:
    """Where a value came from and when: "command, 2026-11-17: a note"."""
    value = row.value
    if value is None:
        return ""
    note = f": {printable(value.note)}" if value.note else ""
    return f"{value.via}, {value.recorded_at:%Y-%m-%d}{note}"


def _kpi_view(row: KpiRow, currency: str) -> KpiView:
    value = row.value
    whole = whole_figures(row)

    def shown(figure: Decimal | None) -> str:
        return amount(figure, row.unit, currency, whole=whole)

    return KpiView(
        name=printable(row.name),
        definition=printable(row.definition),
        value=shown(value.value) if value else "not recorded",
        example=value is not None and value.via == "example",
        via=_via(row),
        previous=shown(row.previous.value) if row.previous else "",
        change=_change(
            value.value if value else None,
            row.previous.value if row.previous else None,
            row.unit,
            currency,
            whole,
        ),
        spark=None,
        goal=shown(row.goal),
        against=_against(row, currency, whole),
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
        value=amount(review.mrr, "money", cur),
        example=False,
        via="rebuilt from invoices" if rebuilt else f"snapshot of {review.as_of}",
        previous=amount(previous, "money", cur),
        change=_change(review.mrr, previous, "money", cur, whole=False),
        spark=None,
        goal=amount(judged.needed, "money", cur),
        against=against,
        on_track=judged.met,
        source="Stripe",
    )


def kpi_views(review: Review) -> list[KpiView]:
    """Each KPI as every format shows it, MRR last: one wording of values, changes, goals
    and status for the page, Markdown and Slack."""
    return [*(_kpi_view(row, review.currency) for row in review.kpis), _mrr_view(review)]


def mrr_history(review: Review) -> list[Decimal | None]:
    """MRR's last SPARK weeks, as a KPI's history."""
    return [w.mrr for w in review.series[-SPARK:]]


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
            f"{previous} | {view.change} | {view.goal} | {_cell(_status(view))} | "
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


def _status(view: KpiView) -> str:
    """A KPI's status in words, led by a mark that reads at a glance."""
    if view.on_track is None:
        return view.against
    return f"{'✅' if view.on_track else '🔴'} {view.against}"


def headline(review: Review) -> str:
    """MRR, its growth against the target with what the week needed, and growth
    compounded over 13 weeks: the first thing every format says."""
    cur = review.currency
    code = cur.upper()
    judged = review.judged
    mrr = f"MRR {format_money(review.mrr, cur, grouping=True)} {code}"
    arr = f"ARR {format_money(review.arr, cur, grouping=True)} {code}"
    if judged.growth is None:
        growth = f"no growth to judge ({judged.why})"
    else:
        moved = "grew" if judged.growth >= 0 else "fell"
        growth = (
            f"{moved} {format_percent(abs(judged.growth))} against the "
            f"{format_percent(review.target)} target"
        )
        if judged.needed is not None:
            growth += f"; the week needed {format_money(judged.needed, cur, grouping=True)}"
    thirteen = review.compounded.get(13)
    compounded = (
        f"13 weeks compounded: {format_percent(thirteen)} a week" if thirteen is not None else ""
    )
    return " · ".join(part for part in (mrr, arr, growth, compounded) if part)


def bridge_line(review: Review) -> str | None:
    """The week's bridge in one line: last week's MRR, each movement, this week's."""
    if review.movements is None or review.series[-1].previous_mrr is None:
        return None
    cur = review.currency

    def money(figure: Decimal) -> str:
        return format_money(figure, cur, grouping=True)

    moves = review.movements
    steps = " ".join(
        f"{'+' if kind in INFLOWS else '-'} {kind} {money(moves[kind])}" for kind in KINDS
    )
    return f"Bridge: {money(review.series[-1].previous_mrr)} {steps} = {money(review.mrr)}"


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
        status = f" · {_slack(_status(view))}" if view.on_track is not None else ""
        lines.append(f"• *{_slack(view.name)}*: {view.value}{mark}{last}{change}{goal}{status}")
    text = "\n".join(lines) + "\n"
    if len(text) > SLACK_LIMIT:
        text = text[: SLACK_LIMIT - 2].rsplit("\n", 1)[0] + "\n…\n"
    return text
