"""One wording of the review for every format: the headline, each KPI's figures, change,
goal and status, the bridge in one line and the revenue outside the tiers, as the page,
Markdown and Slack all show them (thousands separated, whole units where a KPI's figures
are whole, cents for MRR and ARR)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

from ffkpi.engine.money import format_money, format_percent
from ffkpi.engine.pricing import ZERO
from ffkpi.history.movements import INFLOWS, KINDS
from ffkpi.review.document import SPARK, KpiRow, Review
from ffkpi.text import printable


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
    """Where a value came from and when: "command, 2026-11-17: a note"; a source's own
    words: "HubSpot, 212 deals of 2026-Q4 read 2026-11-17 06:05 UTC"."""
    value = row.value
    if value is None:
        return ""
    if value.via == "source" and value.note:
        return printable(value.note)
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


def status(view: KpiView) -> str:
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
