"""Reports as a terminal table, JSON or CSV. The only module that imports rich.

stdout carries data only; messages go to stderr. JSON and CSV never pass through Rich.
"""

import csv
import io
import json
import sys
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table

from ffkpi.money import format_money
from ffkpi.mrr import Exclusions, ProductRow, Report

REPORT_SCHEMA = "ffkpi.report/1"
RULE_LABELS = {"list_price": "list price", "net": "net of discounts"}
Lead = Literal["mrr", "arr"]


def error(message: str) -> None:
    sys.stderr.write(f"ffkpi: error: {message}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"ffkpi: warning: {message}\n")


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _row_dict(row: ProductRow, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "mrr": format_money(row.mrr, currency),
        "arr": format_money(row.arr, currency),
        "subscriptions": row.subscriptions,
        "quantity": row.quantity,
    }


def report_dict(report: Report) -> dict[str, Any]:
    cur = report.currency
    return {
        "schema": REPORT_SCHEMA,
        "as_of": report.as_of.isoformat(),
        "currency": cur,
        "mrr": format_money(report.mrr, cur),
        "arr": format_money(report.arr, cur),
        "tiers": [
            {
                "name": tier.name,
                "rule": tier.rule,
                "mrr": format_money(tier.mrr, cur),
                "arr": format_money(tier.arr, cur),
                "subscriptions": tier.subscriptions,
                "quantity": tier.quantity,
                "products": [_row_dict(row, cur) for row in tier.products],
            }
            for tier in report.tiers
        ],
        "unlisted": [_row_dict(row, cur) for row in report.unlisted],
        "excluded": {
            "statuses": dict(report.excluded.statuses),
            "scheduled_cancellation": report.excluded.scheduled_cancellation,
            "paused_collection": report.excluded.paused_collection,
            "zero_mrr": report.excluded.zero_mrr,
            "trialing_items": report.excluded.trialing_items,
            "metered_items": report.excluded.metered_items,
            "metered_items_without_invoice": report.excluded.metered_items_without_invoice,
        },
    }


def report_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


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


def _money_cells(mrr: str, arr: str, lead: Lead) -> list[str]:
    return [arr, mrr] if lead == "arr" else [mrr, arr]


def _exclusions_note(excluded: Exclusions) -> str:
    subs = [f"{count} {status}" for status, count in excluded.statuses.items()]
    for count, label in (
        (excluded.scheduled_cancellation, "scheduled to cancel"),
        (excluded.paused_collection, "with collection paused"),
        (excluded.zero_mrr, "at 0 after discounts and trials"),
    ):
        if count:
            subs.append(f"{count} {label}")
    items = []
    for count, label in (
        (excluded.trialing_items, "in a trial of their own"),
        (excluded.metered_items, 'metered (policy metered = "exclude")'),
        (excluded.metered_items_without_invoice, "metered with no finalized invoice yet"),
    ):
        if count:
            items.append(f"{count} {label}")
    notes = []
    if subs:
        notes.append(f"Subscriptions not counted: {', '.join(subs)}.")
    if items:
        notes.append(f"Items at 0: {', '.join(items)}.")
    return " ".join(notes)


def report_table(report: Report, lead: Lead = "mrr", console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    cur = report.currency
    money = ("ARR", "MRR") if lead == "arr" else ("MRR", "ARR")
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
    for label in money:
        table.add_column(label, justify="right")

    def cells(row: ProductRow) -> list[str]:
        return [
            f"  {row.name}",
            str(row.subscriptions),
            str(row.quantity),
            *_money_cells(
                format_money(row.mrr, cur, grouping=True),
                format_money(row.arr, cur, grouping=True),
                lead,
            ),
        ]

    for tier in report.tiers:
        table.add_row(
            f"{tier.name} ({RULE_LABELS[tier.rule]})",
            str(tier.subscriptions),
            str(tier.quantity),
            *_money_cells(
                format_money(tier.mrr, cur, grouping=True),
                format_money(tier.arr, cur, grouping=True),
                lead,
            ),
            style="bold",
        )
        for row in tier.products:
            table.add_row(*cells(row))
        table.add_section()
    table.add_row(
        "Total",
        "",
        "",
        *_money_cells(
            format_money(report.mrr, cur, grouping=True),
            format_money(report.arr, cur, grouping=True),
            lead,
        ),
        style="bold",
    )
    if report.unlisted:
        table.add_section()
        table.add_row("Unlisted (outside the total)", style="italic")
        for row in report.unlisted:
            table.add_row(*cells(row))
    console.print(table)
