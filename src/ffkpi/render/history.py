"""The growth history: a table per scope, a chart, JSON and CSV.

Weeks in different reporting currencies are never compared: growth starts again at a
change (snapshots.growth_weeks), the table shows each week's currency, and the chart
draws the newest currency's weeks only.
"""

from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from ffkpi.growth import History, Week, weeks_between
from ffkpi.money import format_money, format_percent, format_rate
from ffkpi.render.formats import csv_text, to_json
from ffkpi.render.moves import (
    MOVE_COLUMNS,
    REBUILT,
    moves_chart,
    moves_dict,
    moves_row,
    moves_table,
)
from ffkpi.render.tables import Terminal, outside, print_table
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
    labels = ["Week", "As of", "MRR", "ARR", "Growth", "Met", "Next week needs"]
    if len(currencies) > 1:
        labels.insert(2, "Currency")
    for label in labels:
        table.add_column(label, justify=JUSTIFY.get(label, "right"), no_wrap=True)
    for week in weeks:
        cells = [
            week.week
            + (REBUILT if week.source == "reconstructed" else "")
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
    if any(week.config_changed for week in weeks):
        notes.append("* made with a different config than the one in use now")
    if len(currencies) > 1:
        notes.append("Weeks in different currencies are not compared: growth restarts.")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def _chart(weeks: list[Week], target: Decimal) -> Text:
    """MRR as bars, with the target path (the first week's MRR grown at the target) as │.

    Only the weeks since the last change of reporting currency: bars of different
    currencies on one scale would compare them."""
    newest = weeks[-1].currency
    start = len(weeks)
    while start > 0 and weeks[start - 1].currency == newest:
        start -= 1
    shown = weeks[start:]
    first = shown[0]
    paths = [first.mrr * (1 + target) ** weeks_between(first.week, week.week) for week in shown]
    scale = max(*(week.mrr for week in shown), *paths) or Decimal(1)
    chart = Text()
    chart.append(
        f"MRR ({newest.upper()}) against the {format_percent(target)} weekly target path\n",
        style="bold",
    )
    if start:
        chart.append(f"(from {first.week}: earlier weeks are in another currency)\n")
    for week, path in zip(shown, paths, strict=True):
        bar = int(week.mrr / scale * CHART_WIDTH)
        mark = min(int(path / scale * CHART_WIDTH), CHART_WIDTH)
        cells = ["█" if i < bar else " " for i in range(CHART_WIDTH + 1)]
        style = {True: "green", False: "red", None: "blue"}[week.met_target]
        chart.append(f"{week.week}{REBUILT if week.source == 'reconstructed' else ' '} ")
        for i, cell in enumerate(cells):
            if i == mark:
                chart.append("│", style="yellow")
            else:
                chart.append(cell, style=style)
        chart.append(f" {format_money(week.mrr, week.currency, grouping=True)}\n")
    legend = "█ MRR (green: met the target, red: missed)  │ target path"
    if any(week.source == "reconstructed" for week in shown):
        legend += f"  {REBUILT} rebuilt"
    chart.append(legend + "\n", style="dim")
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
        console.print(_chart(weeks, target))
        flows = moves_chart(weeks)
        if flows is not None:
            console.print(flows)
    if limits:
        console.print(Text(limits), style="dim")
