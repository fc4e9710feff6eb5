"""Reports as plain data, money rounded to the currency's digits: what JSON output and
snapshot files hold. Rounding happens here, at the edge, never in the rules."""

from typing import Any

from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import ProductRow, Report


def _row_document(row: ProductRow, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "mrr": format_money(row.mrr, currency),
        "arr": format_money(row.arr, currency),
        "subscriptions": row.subscriptions,
        "quantity": row.quantity,
    }


def report_document(report: Report) -> dict[str, Any]:
    cur = report.currency
    excluded = report.excluded
    return {
        "as_of": report.as_of,
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
                "products": [_row_document(row, cur) for row in tier.products],
            }
            for tier in report.tiers
        ],
        "unlisted": [_row_document(row, cur) for row in report.unlisted],
        "excluded": {
            "statuses": dict(excluded.statuses),
            **{reason.key: count for reason, count in excluded.counts()},
        },
    }
