"""Reports and findings as JSON and CSV for scripts: never through Rich."""

import csv
import io
import json
from typing import Any

from ffkpi.engine.documents import report_document
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import Report
from ffkpi.text import csv_cell
from ffkpi.usecases.check import Finding

REPORT_SCHEMA = "ffkpi.report/1"
CHECK_SCHEMA = "ffkpi.check/1"


def to_json(document: dict[str, Any]) -> str:
    # json escapes every control character; names stay readable Unicode.
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def csv_text(rows: list[list[object]]) -> str:
    """Rows as CSV. Cells of outside text go through csv_cell first (numbers, which can
    start with "-", must not)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def report_dict(report: Report) -> dict[str, Any]:
    document = report_document(report)
    return {"schema": REPORT_SCHEMA, **document, "as_of": report.as_of.isoformat()}


def report_json(report: Report) -> str:
    return to_json(report_dict(report))


def report_csv(report: Report) -> str:
    cur = report.currency
    rows: list[list[object]] = [
        ["tier", "product_id", "name", "subscriptions", "quantity", "mrr", "arr"]
    ]
    sections = [(tier.name, tier.products) for tier in report.tiers]
    sections.append(("unlisted", report.unlisted))
    for tier_name, products in sections:
        rows += [
            [
                csv_cell(tier_name),
                csv_cell(row.id or ""),
                csv_cell(row.name),
                row.subscriptions,
                row.quantity,
                format_money(row.mrr, cur),
                format_money(row.arr, cur),
            ]
            for row in products
        ]
    return csv_text(rows)


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
