"""Reports, findings and product listings as terminal tables.

Outside text goes into cells as rich Text, which is never read as markup, after
ffkpi.text.printable. Figures are never cut: the name column wraps, and when even that
is not enough the table is printed in parts that fit the terminal.
"""

import copy
import dataclasses
import textwrap
from decimal import Decimal
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from ffkpi.engine.exclusions import Exclusions
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import ProductRow, Report
from ffkpi.text import printable
from ffkpi.usecases.check import Finding

RULE_LABELS = {"list_price": "list price", "net": "net of discounts"}
LEVEL_STYLES = {"ok": "green", "warning": "yellow", "error": "bold red"}
NAME_WIDTH = 16  # the narrowest a wrapping name column gets
Lead = Literal["mrr", "arr"]


class Terminal(Console):
    """Rich's console, but a closed pipe is left to ffkpi's one handler of it (Rich's
    own exits 1, the code for bugs)."""

    def __init__(self, *, stderr: bool = False, width: int | None = None) -> None:
        super().__init__(highlight=False, stderr=stderr, width=width)

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def outside(text: str, style: str = "") -> Text:
    """Text from Stripe or a file, as a cell: shown as it is, never as markup."""
    return Text(printable(text), style=style)


def print_table(table: Table, *, stderr: bool = False, console: Console | None = None) -> None:
    """Print `table` whole, within the terminal's width where it can be.

    Its first column wraps (names); the others never shrink, since Rich would cut figures
    ("6,490…"). A table that does not fit is printed in parts, each with the first
    column again, as a wide spreadsheet prints on pages. The caption under it is wrapped
    at the terminal's width, between words.
    """
    console = console or Terminal(stderr=stderr)
    caption, table.caption = table.caption, None
    for part in _parts(table, console.width):
        needed = _needed(part, console)
        out = console if console.width >= needed else Terminal(stderr=stderr, width=needed)
        out.print(part)
    if caption:
        style = caption.style if isinstance(caption, Text) else "table.caption"
        console.print(Text(wrap(str(caption), console.width), style=style))


def wrap(text: str, width: int) -> str:
    """`text` wrapped at `width`, each of its lines apart, never inside a word nor
    between a number and its "%"."""
    glued = text.replace(" %", "\N{NO-BREAK SPACE}%")  # textwrap breaks at ASCII spaces only
    lines = []
    for line in glued.split("\n"):
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2) if line.startswith(" ") else ""
        wrapper = textwrap.TextWrapper(
            width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        )
        lines.append(wrapper.fill(line) if line else "")
    return "\n".join(lines).replace("\N{NO-BREAK SPACE}", " ")


def _widest(column: Column) -> int:
    cells = [column.header, *column.cells]
    return max(cell_len(line) for cell in cells for line in str(cell).splitlines() or [""])


def _needed(table: Table, console: Console) -> int:
    """The width `table` needs with its first column wrapped at NAME_WIDTH, if it wraps."""
    padding = Measurement.get(console, console.options, table).maximum - sum(
        _widest(column) for column in table.columns
    )
    first, *rest = table.columns
    name = _widest(first) if first.no_wrap else min(_widest(first), NAME_WIDTH)
    return padding + name + sum(_widest(column) for column in rest)


def _parts(table: Table, width: int) -> list[Table]:
    """`table` as it is if it fits `width`, else in parts that each do (or hold one
    column beside the first): the first one with the title, all with the first column."""
    console = Console(width=max(width, 1000))  # measures only: never prints
    if len(table.columns) < 3 or _needed(table, console) <= width:
        return [table]
    groups: list[list[int]] = [[]]
    for index in range(1, len(table.columns)):
        if groups[-1] and _needed(_part(table, [*groups[-1], index]), console) > width:
            groups.append([])
        groups[-1].append(index)
    parts = [_part(table, group) for group in groups]
    for part in parts[1:]:
        part.title = None
    return parts


def _part(table: Table, indices: list[int]) -> Table:
    part = copy.copy(table)
    part.columns = [
        dataclasses.replace(table.columns[index], _index=position)
        for position, index in enumerate([0, *indices])
    ]
    return part


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
    cur = report.currency
    labels = ("ARR", "MRR") if lead == "arr" else ("MRR", "ARR")
    table = Table(
        title=f"{lead.upper()} by tier and product, as of {report.as_of} ({cur.upper()})",
        box=box.SIMPLE_HEAD,
        caption=_exclusions_note(report.excluded) or None,
        caption_justify="left",
        pad_edge=False,
    )
    table.add_column("Tier / product", overflow="fold")
    table.add_column("Subs", justify="right", no_wrap=True)
    table.add_column("Qty", justify="right", no_wrap=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)

    def money(mrr: Decimal, arr: Decimal) -> list[str]:
        cells = [format_money(mrr, cur, grouping=True), format_money(arr, cur, grouping=True)]
        return cells[::-1] if lead == "arr" else cells

    def cells(row: ProductRow) -> list[str | Text]:
        return [
            outside(f"  {row.name}"),
            str(row.subscriptions),
            str(row.quantity),
            *money(row.mrr, row.arr),
        ]

    for tier in report.tiers:
        table.add_row(
            outside(f"{tier.name} ({RULE_LABELS[tier.rule]})"),
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
    print_table(table, console=console)


def findings_table(findings: list[Finding], console: Console | None = None) -> None:
    console = console or Terminal()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Level", no_wrap=True)
    table.add_column("Topic", no_wrap=True)
    table.add_column("Finding")
    for finding in findings:
        table.add_row(
            Text(finding.level, style=LEVEL_STYLES[finding.level]),
            finding.topic,
            outside(finding.message),
        )
    console.print(table)
    counts = {level: sum(f.level == level for f in findings) for level in LEVEL_STYLES}
    console.print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['ok']} ok")


def product_listing(report: Report, note: str) -> None:
    """The account's products with subscriptions and MRR, on stderr (init's guidance),
    with `note`: how they were counted."""
    table = Table(
        title=f"Recurring products, as of {report.as_of} ({report.currency.upper()})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption=note,
        caption_justify="left",
    )
    table.add_column("Product", overflow="fold")
    table.add_column("Id", no_wrap=True)
    table.add_column("Subs", justify="right", no_wrap=True)
    table.add_column("MRR", justify="right", no_wrap=True)
    for row in sorted(report.tiers[0].products, key=lambda r: (-r.mrr, r.name)):
        table.add_row(
            outside(row.name),
            outside(row.id or ""),
            str(row.subscriptions),
            format_money(row.mrr, report.currency, grouping=True),
        )
    print_table(table, stderr=True)
