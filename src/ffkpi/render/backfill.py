"""`ffkpi backfill`'s summary: weeks written and kept, the checks, what was not rebuilt."""

from decimal import Decimal
from typing import Any

from ffkpi.engine.exact import EXACT
from ffkpi.engine.money import format_money
from ffkpi.render.formats import to_json
from ffkpi.render.growth import limits_text
from ffkpi.render.tables import wrap
from ffkpi.text import one_line
from ffkpi.usecases.backfill import Backfill


def _difference(rebuilt: Decimal, stored: Decimal, currency: str) -> str:
    gap = format_money(EXACT.subtract(rebuilt, stored), currency, grouping=True)
    return "equal" if Decimal(gap.replace(",", "")) == 0 else f"rebuilt - stored = {gap}"


def _weeks(count: int) -> str:
    return f"{count} week" if count == 1 else f"{count} weeks"


def backfill_text(result: Backfill, width: int = 80) -> str:
    rebuilt = result.rebuilt
    reports = rebuilt.reports
    cur = reports[0].currency if reports else result.reconciliation.currency
    code = cur.upper()
    lines = []
    if reports:
        lines.append(
            f"{len(reports)} weeks rebuilt from invoices, as of {reports[0].as_of} to "
            f"{reports[-1].as_of} ({code})"
        )
    written = [saved.path.stem for saved in result.written]
    span = f", {written[0]} to {written[-1]}," if written else ""
    lines.append(f"written: {_weeks(len(written))}{span} to {one_line(str(result.folder))}")
    lines.append(f"kept: {_weeks(len(result.kept))} that had a snapshot, left untouched")
    for kept in result.kept:
        same = kept.currency == cur
        stored = format_money(kept.stored, kept.currency, grouping=True)
        again = format_money(kept.rebuilt, cur, grouping=True)
        check = _difference(kept.rebuilt, kept.stored, cur) if same else "other currency"
        lines.append(
            f"  {kept.week} {kept.source}: {stored} {kept.currency.upper()}, "
            f"rebuilt {again} {code} ({check})"
        )
    if result.unreadable:
        lines.append(
            f"unreadable: {_weeks(len(result.unreadable))} whose file is not a snapshot, left "
            "untouched"
        )
        for entry in result.unreadable:
            lines.append(f"  {one_line(entry.path.name)}: {one_line(entry.reason)}")
    today = result.reconciliation
    live = format_money(today.live, cur, grouping=True)
    again = format_money(today.rebuilt, cur, grouping=True)
    if live == again:
        lines.append(f"check: {today.as_of} rebuilt from invoices equals the read, {live} {code}")
    else:
        lines.append(
            f"check: {today.as_of} rebuilt from invoices is {again}, the read {live} {code}"
        )
        for cause in today.causes:
            gap = format_money(cause.difference, cur, grouping=True)
            subs = "subscription" if cause.subscriptions == 1 else "subscriptions"
            lines.append(f"  {cause.subscriptions} {subs} {cause.what}: {gap}")
    converted = max(rebuilt.converted, default=0)
    if converted:
        lines.append(
            f"converted at today's rates: up to {converted} subscriptions a week in other "
            "currencies"
        )
    lines.append(limits_text(rebuilt.limits, rebuilt.unknown_discounts))
    return "".join(wrap(line, width) + "\n" for line in lines)


def backfill_json(result: Backfill) -> str:
    rebuilt = result.rebuilt
    check = result.reconciliation
    cur = check.currency
    document: dict[str, Any] = {
        "schema": "ffkpi.backfill/1",
        "folder": str(result.folder),
        "currency": cur,
        "written": [{"week": saved.path.stem, "path": str(saved.path)} for saved in result.written],
        "kept": [
            {
                "week": kept.week,
                "path": str(kept.path),
                "source": kept.source,
                "currency": kept.currency,
                "mrr": format_money(kept.stored, kept.currency),
                "rebuilt_mrr": format_money(kept.rebuilt, cur),
            }
            for kept in result.kept
        ],
        "unreadable": [
            {"week": entry.path.stem, "path": str(entry.path), "reason": entry.reason}
            for entry in result.unreadable
        ],
        "check": {
            "as_of": check.as_of.isoformat(),
            "live_mrr": format_money(check.live, cur),
            "rebuilt_mrr": format_money(check.rebuilt, cur),
            "causes": [
                {
                    "subscriptions": cause.subscriptions,
                    "cause": cause.what,
                    "difference": format_money(cause.difference, cur),
                }
                for cause in check.causes
            ],
        },
        "reconstruction": {
            "cannot_show": list(rebuilt.limits),
            "unknown_discounts": rebuilt.unknown_discounts,
            "converted_subscriptions": dict(
                zip(
                    (report.as_of.isoformat() for report in rebuilt.reports),
                    rebuilt.converted,
                    strict=True,
                )
            ),
        },
    }
    return to_json(document)
