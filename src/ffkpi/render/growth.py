"""The growth history: a table per scope, a chart, JSON and CSV.

Weeks in different reporting currencies are never compared: growth starts again at a
change (history.growth.growth_weeks), the table shows each week's currency, and the chart
draws the newest currency's weeks only.
"""

import itertools
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from ffkpi.engine.calendar import weeks_between
from ffkpi.engine.money import format_money, format_percent, format_rate
from ffkpi.history.growth import History, Week
from ffkpi.render.bridge import (
    MOVE_COLUMNS,
    REBUILT,
    RECOMPUTED,
    moves_chart,
    moves_dict,
    moves_row,
    moves_table,
)
from ffkpi.render.formats import csv_text, to_json
from ffkpi.render.tables import Terminal, outside, print_table, wrap
from ffkpi.text import csv_cell

HISTORY_SCHEMA = "ffkpi.history/1"
CHART_WIDTH = 40
JUSTIFY: dict[str, JustifyMethod] = {
    "Week": "left",
    "As of": "left",
    "Currency": "left",
    "Met": "center",
}
# currency last, after the columns CSV had before it showed it
COLUMNS = [
    "week",
    "as_of",
    "mrr",
    "arr",
    "growth",
    "met_target",
    "next_week_mrr",
    "config_changed",
    "currency",
    "source",
]


def _week_dict(week: Week) -> dict[str, Any]:
    cur = week.currency
    return {
        "week": week.week,
        "as_of": week.as_of.isoformat(),
        "currency": cur,
        "mrr": format_money(week.mrr, cur),
        "arr": format_money(week.arr, cur),
        "growth": format_rate(week.growth),
        "met_target": week.met_target,
        "next_week_mrr": format_money(week.next_week_mrr, cur),
        "config_changed": week.config_changed,
        "source": week.source,
        **(
            {"converted_subscriptions": week.converted}
            if week.source == "reconstructed" and week.converted is not None
            else {}
        ),
        **moves_dict(week),
    }


def _week_dicts(weeks: list[Week]) -> list[dict[str, Any]]:
    return [_week_dict(week) for week in weeks]


def limits_text(limits: tuple[str, ...], unknown_discounts: int) -> str:
    """What a history rebuilt from invoices cannot know, in one paragraph."""
    text = "Rebuilt weeks cannot show: " + "; ".join(limits) + "."
    if unknown_discounts:
        text += f" {unknown_discounts} discounts of coupons that no longer exist are left out."
    return text


def history_json(shown: History) -> str:
    document: dict[str, Any] = {
        "schema": HISTORY_SCHEMA,
        "target": format_rate(shown.target),
        "weeks": _week_dicts(shown.weeks),
    }
    if shown.limits:
        document["reconstruction"] = {
            "cannot_show": list(shown.limits),
            "unknown_discounts": shown.unknown_discounts,
        }
    by_tier = shown.tiers
    if by_tier is not None:
        document["tiers"] = [
            {"name": name, "weeks": _week_dicts(tier_weeks)} for name, tier_weeks in by_tier.items()
        ]
    return to_json(document)


def history_csv(weeks: list[Week], by_tier: dict[str, list[Week]] | None = None) -> str:
    rows: list[list[object]] = [["scope", *COLUMNS, *MOVE_COLUMNS]]
    for scope, scope_weeks in [("total", weeks), *(by_tier or {}).items()]:
        for week in scope_weeks:
            row = {**_week_dict(week), **moves_row(week)}
            cells = [_cell(row[c]) for c in [*COLUMNS, *MOVE_COLUMNS]]
            rows.append([csv_cell(scope), *cells])
    return csv_text(rows)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _history_table(weeks: list[Week], target: Decimal, title: Text) -> Table:
    rebuilt = any(week.source == "reconstructed" for week in weeks)
    currencies = {week.currency for week in weeks}
    if len(currencies) == 1:
        title.append(f" ({next(iter(currencies)).upper()})")
    title.append(f" (target {format_percent(target)} a week)")
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    # Headers no wider than their figures: a three-digit growth still fits 80 columns.
    labels = ["Week", "As of", "MRR", "ARR", "Growth", "Met", "Next week\nneeds"]
    if len(currencies) > 1:
        labels.insert(2, "Currency")
    for label in labels:
        table.add_column(label, justify=JUSTIFY.get(label, "right"), no_wrap=True)
    for week in weeks:
        cells = [
            week.week
            + (REBUILT if week.source == "reconstructed" else "")
            + (RECOMPUTED if week.source == "recomputed" else "")
            + ("*" if week.config_changed else ""),
            week.as_of.isoformat(),
            format_money(week.mrr, week.currency, grouping=True),
            format_money(week.arr, week.currency, grouping=True),
            format_percent(week.growth),
            {True: "yes", False: "no", None: ""}[week.met_target],
            format_money(week.next_week_mrr, week.currency, grouping=True),
        ]
        if len(currencies) > 1:
            cells.insert(2, week.currency.upper())
        table.add_row(*cells, style={True: "green", False: "red", None: None}[week.met_target])
    notes = []
    if rebuilt:
        notes.append(f"{REBUILT} rebuilt from invoices; the other weeks are snapshots taken then")
    if any(week.source == "recomputed" for week in weeks):
        notes.append(f"{RECOMPUTED} recomputed from the read kept that week, under today's config")
    if any(week.config_changed for week in weeks):
        notes.append(
            "* made under another MRR definition than today's, its read not kept: no growth "
            "across the change"
        )
    if len(currencies) > 1:
        notes.append("Weeks in different currencies are not compared: growth restarts.")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def _chart(weeks: list[Week], target: Decimal, width: int) -> Text:
    """MRR as bars, each with what it needed to meet the target as │: the week before
    grown at the target. (The first week grown at 10 % a week is 142 times higher a year
    on, and would leave most bars empty.)

    Only the weeks since the last change of reporting currency: bars of different
    currencies on one scale would compare them."""
    newest = weeks[-1].currency
    start = len(weeks)
    while start > 0 and weeks[start - 1].currency == newest:
        start -= 1
    shown = weeks[start:]
    needed: list[Decimal | None] = [None]
    for before, week in itertools.pairwise(shown):
        needed.append(before.mrr * (1 + target) ** weeks_between(before.week, week.week))
    scale = max([week.mrr for week in shown] + [n for n in needed if n]) or Decimal(1)
    amounts = [format_money(week.mrr, week.currency, grouping=True) for week in shown]
    cells = max(10, min(CHART_WIDTH, width - 12 - max(map(len, amounts))))
    chart = Text()
    title = f"MRR ({newest.upper()}) against the {format_percent(target)} weekly target"
    chart.append(wrap(title, width) + "\n", style="bold")
    if start:
        note = f"(from {shown[0].week}: earlier weeks are in another currency)"
        chart.append(wrap(note, width) + "\n")
    for week, mark_at, amount in zip(shown, needed, amounts, strict=True):
        bar = int(week.mrr / scale * cells)
        mark = None if mark_at is None else min(int(mark_at / scale * cells), cells)
        style = {True: "green", False: "red", None: "blue"}[week.met_target]
        chart.append(f"{week.week}{REBUILT if week.source == 'reconstructed' else ' '} ")
        for i in range(cells + 1):
            if i == mark:
                chart.append("│", style="yellow")
            else:
                chart.append("█" if i < bar else " ", style=style)
        chart.append(f" {amount}\n")
    legend = (
        f"█ MRR (green: met the target, red: missed)  │ needed: the week before + "
        f"{format_percent(target)}"
    )
    if any(week.source == "reconstructed" for week in shown):
        legend += f"  {REBUILT} rebuilt"
    chart.append(wrap(legend, width) + "\n", style="dim")
    return chart


def history_table(
    weeks: list[Week],
    target: Decimal,
    *,
    by_tier: dict[str, list[Week]] | None = None,
    chart: bool = True,
    limits: str | None = None,
    console: Console | None = None,
) -> None:
    console = console or Terminal()
    scopes = [(None, weeks), *(by_tier or {}).items()]
    for name, scope_weeks in scopes:
        if not scope_weeks:
            continue
        prefix = outside(f"{name}: ") if name is not None else Text()
        title = prefix.copy()
        title.append("MRR week over week")
        print_table(_history_table(scope_weeks, target, title), console=console)
        console.print()
        moved = prefix.copy()
        moved.append(f"What moved MRR ({scope_weeks[-1].currency.upper()})")
        table = moves_table(scope_weeks, moved)
        if table is not None:
            print_table(table, console=console)
            console.print()
    if chart and weeks:
        console.print(_chart(weeks, target, console.width))
        flows = moves_chart(weeks, console.width)
        if flows is not None:
            console.print(flows)
    if limits:
        console.print(Text(wrap(limits, console.width), style="dim"))
