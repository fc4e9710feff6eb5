"""What ffkpi shows: reports as terminal tables, JSON or CSV, and messages. The only
package that imports rich.

stdout carries data only; messages go to stderr. JSON and CSV never pass through Rich,
and outside text (names, ids, quoted messages) passes through ffkpi.text before it
reaches a terminal or a spreadsheet.
"""

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ffkpi.engine.mrr import Report
from ffkpi.errors import UsageError
from ffkpi.history.growth import History, WeekMovers
from ffkpi.render.backfill import backfill_json, backfill_text
from ffkpi.render.formats import (
    REPORT_SCHEMA,
    findings_json,
    report_csv,
    report_dict,
    report_json,
    to_json,
)
from ffkpi.render.growth import history_csv, history_json, history_table, limits_text
from ffkpi.render.kpis import recorded_text as kpi_recorded
from ffkpi.render.kpis import week_text as kpi_week
from ffkpi.render.movements import movements_csv, movements_json, movements_table
from ffkpi.render.page import review_html
from ffkpi.render.review import review_json, review_markdown, review_slack
from ffkpi.render.tables import Lead, Terminal, findings_table, product_listing, report_table
from ffkpi.review.document import Review
from ffkpi.screenshot import png_of
from ffkpi.storage.files import write_atomically
from ffkpi.storage.snapshots import Saved
from ffkpi.text import one_line
from ffkpi.usecases.backfill import Backfill
from ffkpi.usecases.check import Finding

__all__ = [
    "REPORT_SCHEMA",
    "error",
    "fetch_progress",
    "kpi_recorded",
    "kpi_week",
    "note",
    "product_listing",
    "report_dict",
    "report_json",
    "review_html",
    "review_text",
    "show_findings",
    "show_history",
    "show_report",
    "show_snapshot",
    "warning",
    "write",
]


def error(message: str) -> None:
    sys.stderr.write(f"ffkpi: error: {one_line(message)}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"ffkpi: warning: {one_line(message)}\n")


def note(message: str) -> None:
    sys.stderr.write(f"ffkpi: {one_line(message)}\n")


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def review_text(document: Review, fmt: str) -> str:
    """The review as `fmt` says: html, json, markdown or slack."""
    if fmt == "json":
        return review_json(document)
    if fmt == "html":
        return review_html(document)
    return review_slack(document) if fmt == "slack" else review_markdown(document)


def save_review(document: Review, fmt: str, output: Path | None) -> None:
    """The review as `fmt` says, on stdout or written whole to `output` (its path then on
    stdout); png, the page's top as the system's chromium takes it, needs `output`."""
    if fmt == "png":
        if output is None:
            raise UsageError("--format png writes an image", "pass --output FILE.png")
        write_atomically(output, png_of(review_html(document, top_only=True)))
    elif output is not None:
        write_atomically(output, review_text(document, fmt).encode())
    else:
        write(review_text(document, fmt))
        return
    write(f"{output}\n")


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


def show_history(shown: History, fmt: str, *, chart: bool, empty: str) -> None:
    """The weeks as `fmt` says; what rebuilt weeks cannot show is stated once."""
    limits = limits_text(shown.limits, shown.unknown_discounts) if shown.limits else None
    if fmt == "json":
        write(history_json(shown))
    elif fmt == "csv":
        write(history_csv(shown.weeks, shown.tiers))
        if limits:
            note(limits)  # a CSV file has no place for it: on stderr, once
    elif not shown.weeks:
        note(empty)
    else:
        history_table(shown.weeks, shown.target, by_tier=shown.tiers, chart=chart, limits=limits)


def show_backfill(result: Backfill, *, as_json: bool) -> None:
    """What backfill wrote and kept, the check beside kept weeks and of today, and what
    could not be rebuilt."""
    write(backfill_json(result) if as_json else backfill_text(result, Terminal().width))


def show_movements(changes: WeekMovers, names: Mapping[str, str], fmt: str) -> None:
    """The customers behind a week's movements, as `fmt` says."""
    if fmt == "json":
        write(movements_json(changes, names))
    elif fmt == "csv":
        write(movements_csv(changes, names))
    else:
        movements_table(changes, names)


def show_findings(findings: list[Finding], *, as_json: bool) -> None:
    if as_json:
        write(findings_json(findings))
    else:
        findings_table(findings)


@contextlib.contextmanager
def fetch_progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A live line on stderr while reading Stripe, told what is being read."""
    if not enabled:
        yield lambda description: None
        return
    console = Terminal(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("reading Stripe", total=None)
        yield lambda description: progress.update(task, description=description)
