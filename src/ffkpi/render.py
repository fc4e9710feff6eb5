"""Reports as a terminal table, JSON or CSV. The only module that imports rich.

stdout carries data only; messages go to stderr. JSON and CSV never pass through Rich.
"""

import contextlib
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ffkpi.check import Finding
from ffkpi.documents import report_document
from ffkpi.money import format_money
from ffkpi.mrr import Exclusions, ProductRow, Report
from ffkpi.snapshots import History, Saved, Week, format_rate, weeks_between

REPORT_SCHEMA = "ffkpi.report/1"
RULE_LABELS = {"list_price": "list price", "net": "net of discounts"}
Lead = Literal["mrr", "arr"]


def _one_line(message: str) -> str:
    return " ".join(message.split())  # messages quoting others can span lines


def error(message: str) -> None:
    sys.stderr.write(f"ffkpi: error: {_one_line(message)}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"ffkpi: warning: {_one_line(message)}\n")


def note(message: str) -> None:
    sys.stderr.write(f"ffkpi: {_one_line(message)}\n")


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def report_dict(report: Report) -> dict[str, Any]:
    document = report_document(report)
    return {"schema": REPORT_SCHEMA, **document, "as_of": report.as_of.isoformat()}


def report_json(report: Report) -> str:
    return to_json(report_dict(report))


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tier", "product_id", "name", "subscriptions", "quantity", "mrr", "arr"])
    cur = report.currency
    sections = [(tier.name, tier.products) for tier in report.tiers]
    sections.append(("unlisted", report.unlisted))
    for tier_name, rows in sections:
        for row in rows:
            writer.writerow(
                [
                    tier_name,
                    row.id or "",
                    row.name,
                    row.subscriptions,
                    row.quantity,
                    format_money(row.mrr, cur),
                    format_money(row.arr, cur),
                ]
            )
    return out.getvalue()


def show_report(report: Report, fmt: str, lead: Lead) -> None:
    """A report on stdout as `fmt` says: table, json or csv."""
    if fmt == "json":
        write(report_json(report))
    elif fmt == "csv":
        write(report_csv(report))
    else:
        report_table(report, lead=lead)


def show_snapshot(report: Report, saved: Saved, *, as_json: bool) -> None:
    """The snapshot's path, or with --format json the report and where it went."""
    if as_json:
        document = report_dict(report)
        document["snapshot"] = {"path": str(saved.path), "written": not saved.kept}
        write(to_json(document))
    else:
        write(f"{saved.path}\n")


def _exclusions_note(excluded: Exclusions) -> str:
    subs = [f"{count} {status}" for status, count in excluded.statuses.items()]
    items: list[str] = []
    for reason, count in excluded.counts():
        if count:
            (items if reason.item else subs).append(f"{count} {reason.caption}")
    notes = []
    if subs:
        notes.append(f"Subscriptions not counted: {', '.join(subs)}.")
    if items:
        notes.append(f"Items at 0: {', '.join(items)}.")
    return " ".join(notes)


def report_table(report: Report, lead: Lead = "mrr", console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    cur = report.currency
    labels = ("ARR", "MRR") if lead == "arr" else ("MRR", "ARR")
    table = Table(
        title=f"{lead.upper()} by tier and product, as of {report.as_of} ({cur.upper()})",
        box=box.SIMPLE_HEAD,
        caption=_exclusions_note(report.excluded) or None,
        caption_justify="left",
        pad_edge=False,
    )
    table.add_column("Tier / product", no_wrap=True)
    table.add_column("Subs", justify="right")
    table.add_column("Qty", justify="right")
    for label in labels:
        table.add_column(label, justify="right")

    def money(mrr: Decimal, arr: Decimal) -> list[str]:
        cells = [format_money(mrr, cur, grouping=True), format_money(arr, cur, grouping=True)]
        return cells[::-1] if lead == "arr" else cells

    def cells(row: ProductRow) -> list[str]:
        return [
            f"  {row.name}",
            str(row.subscriptions),
            str(row.quantity),
            *money(row.mrr, row.arr),
        ]

    for tier in report.tiers:
        table.add_row(
            f"{tier.name} ({RULE_LABELS[tier.rule]})",
            str(tier.subscriptions),
            str(tier.quantity),
            *money(tier.mrr, tier.arr),
            style="bold",
        )
        for row in tier.products:
            table.add_row(*cells(row))
        table.add_section()
    table.add_row("Total", "", "", *money(report.mrr, report.arr), style="bold")
    if report.unlisted:
        table.add_section()
        table.add_row("Unlisted (outside the total)", style="italic")
        for row in report.unlisted:
            table.add_row(*cells(row))
    console.print(table)


HISTORY_SCHEMA = "ffkpi.history/1"
CHART_WIDTH = 40


def _percent(rate: Decimal | None) -> str:
    text = format_rate(None if rate is None else rate * 100)
    return "" if text is None else f"{Decimal(text):.2f} %"


def _week_dict(week: Week) -> dict[str, Any]:
    cur = week.currency
    return {
        "week": week.week,
        "as_of": week.as_of.isoformat(),
        "mrr": format_money(week.mrr, cur),
        "arr": format_money(week.arr, cur),
        "growth": format_rate(week.growth),
        "met_target": week.met_target,
        "next_week_mrr": format_money(week.next_week_mrr, cur),
        "config_changed": week.config_changed,
    }


def history_json(
    weeks: list[Week], target: Decimal, by_tier: dict[str, list[Week]] | None = None
) -> str:
    document: dict[str, Any] = {
        "schema": HISTORY_SCHEMA,
        "target": format_rate(target),
        "weeks": [_week_dict(week) for week in weeks],
    }
    if by_tier is not None:
        document["tiers"] = [
            {"name": name, "weeks": [_week_dict(week) for week in tier_weeks]}
            for name, tier_weeks in by_tier.items()
        ]
    return to_json(document)


def history_csv(weeks: list[Week], by_tier: dict[str, list[Week]] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = ["week", "as_of", "mrr", "arr", "growth", "met_target", "next_week_mrr"]
    writer.writerow(["scope", *columns, "config_changed"])
    scopes = [("total", weeks), *(by_tier or {}).items()]
    for scope, scope_weeks in scopes:
        for week in scope_weeks:
            row = _week_dict(week)
            writer.writerow(
                [scope, *(_csv_cell(row[c]) for c in columns), _csv_cell(row["config_changed"])]
            )
    return out.getvalue()


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _history_table(weeks: list[Week], target: Decimal, title: str) -> Table:
    table = Table(
        title=f"{title} (target {_percent(target)} a week)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for label, justify in (
        ("Week", "left"),
        ("As of", "left"),
        ("MRR", "right"),
        ("ARR", "right"),
        ("Growth", "right"),
        ("Met", "center"),
        ("Next week needs", "right"),
    ):
        table.add_column(label, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for week in weeks:
        met = {True: "yes", False: "no", None: ""}[week.met_target]
        table.add_row(
            week.week + ("*" if week.config_changed else ""),
            week.as_of.isoformat(),
            format_money(week.mrr, week.currency, grouping=True),
            format_money(week.arr, week.currency, grouping=True),
            _percent(week.growth),
            met,
            format_money(week.next_week_mrr, week.currency, grouping=True),
            style={True: "green", False: "red", None: None}[week.met_target],
        )
    if any(week.config_changed for week in weeks):
        table.caption = "* made with a different config than the one in use now"
        table.caption_justify = "left"
    return table


def _chart(weeks: list[Week], target: Decimal) -> Text:
    """MRR as bars, with the target path (the first week's MRR grown at the target) as │."""
    first = weeks[0]
    paths = [first.mrr * (1 + target) ** weeks_between(first.week, week.week) for week in weeks]
    scale = max(*(week.mrr for week in weeks), *paths) or Decimal(1)
    chart = Text()
    chart.append(f"MRR against the {_percent(target)} weekly target path\n", style="bold")
    for week, path in zip(weeks, paths, strict=True):
        bar = int(week.mrr / scale * CHART_WIDTH)
        mark = min(int(path / scale * CHART_WIDTH), CHART_WIDTH)
        cells = ["█" if i < bar else " " for i in range(CHART_WIDTH + 1)]
        style = {True: "green", False: "red", None: "blue"}[week.met_target]
        chart.append(f"{week.week} ")
        for i, cell in enumerate(cells):
            if i == mark:
                chart.append("│", style="yellow")
            else:
                chart.append(cell, style=style)
        chart.append(f" {format_money(week.mrr, week.currency, grouping=True)}\n")
    chart.append("█ MRR (green: met the target, red: missed)  │ target path\n", style="dim")
    return chart


def history_table(
    weeks: list[Week],
    target: Decimal,
    *,
    by_tier: dict[str, list[Week]] | None = None,
    chart: bool = True,
    console: Console | None = None,
) -> None:
    console = console or Console(highlight=False)
    console.print(_history_table(weeks, target, "MRR week over week"))
    console.print()
    for name, tier_weeks in (by_tier or {}).items():
        if tier_weeks:
            console.print(_history_table(tier_weeks, target, f"{name}: MRR week over week"))
            console.print()
    if chart and weeks:
        console.print(_chart(weeks, target), end="")


def show_history(shown: History, fmt: str, *, chart: bool, folder: Path) -> None:
    if fmt == "json":
        write(history_json(shown.weeks, shown.target, shown.tiers))
    elif fmt == "csv":
        write(history_csv(shown.weeks, shown.tiers))
    elif not shown.weeks:
        note(f"no snapshots in {folder} yet (run `ffkpi snapshot` once a week)")
    else:
        history_table(shown.weeks, shown.target, by_tier=shown.tiers, chart=chart)


@contextlib.contextmanager
def fetch_progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A live line on stderr while reading Stripe, told what is being read."""
    if not enabled:
        yield lambda description: None
        return
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("reading Stripe", total=None)
        yield lambda description: progress.update(task, description=description)


CHECK_SCHEMA = "ffkpi.check/1"
LEVEL_STYLES = {"ok": "green", "warning": "yellow", "error": "bold red"}


def show_findings(findings: list[Finding], *, as_json: bool) -> None:
    if as_json:
        write(findings_json(findings))
    else:
        findings_table(findings)


def findings_json(findings: list[Finding]) -> str:
    return to_json(
        {
            "schema": CHECK_SCHEMA,
            "ok": not any(f.level == "error" for f in findings),
            "findings": [
                {"level": f.level, "topic": f.topic, "message": f.message} for f in findings
            ],
        }
    )


def findings_table(findings: list[Finding], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Level", no_wrap=True)
    table.add_column("Topic", no_wrap=True)
    table.add_column("Finding")
    for finding in findings:
        table.add_row(
            Text(finding.level, style=LEVEL_STYLES[finding.level]),
            finding.topic,
            Text(finding.message),
        )
    console.print(table)
    counts = {level: sum(f.level == level for f in findings) for level in LEVEL_STYLES}
    console.print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['ok']} ok")


def product_listing(report: Report) -> None:
    """The account's products with subscriptions and MRR, on stderr (init's guidance)."""
    console = Console(stderr=True, highlight=False)
    table = Table(
        title=f"Recurring products, as of {report.as_of} ({report.currency.upper()})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("Product", no_wrap=True)
    table.add_column("Id", no_wrap=True)
    table.add_column("Subs", justify="right")
    table.add_column("MRR", justify="right")
    for row in sorted(report.tiers[0].products, key=lambda r: (-r.mrr, r.name)):
        table.add_row(
            row.name,
            row.id or "",
            str(row.subscriptions),
            format_money(row.mrr, report.currency, grouping=True),
        )
    console.print(table)
