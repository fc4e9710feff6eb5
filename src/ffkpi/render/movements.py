"""`ffkpi movements`: the customers behind a week's movements, as a table, JSON or CSV."""

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ffkpi.engine.money import format_money
from ffkpi.history.growth import WeekMovers
from ffkpi.history.movements import KINDS
from ffkpi.render.bridge import LABELS
from ffkpi.render.formats import csv_text, to_json
from ffkpi.render.tables import Terminal, outside, print_table
from ffkpi.text import csv_cell

MOVEMENTS_SCHEMA = "ffkpi.history.movements/1"


def _entries(changes: WeekMovers, names: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    cur = changes.currency
    grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for move in changes.moves:
        grouped[move.kind].append(
            {
                "customer": move.customer,
                "name": names.get(move.customer),
                "previous_mrr": format_money(move.previous, cur),
                "mrr": format_money(move.current, cur),
                "change": format_money(move.change, cur),
                "tiers": list(move.tiers),
            }
        )
    return grouped


def movements_json(changes: WeekMovers, names: Mapping[str, str]) -> str:
    return to_json(
        {
            "schema": MOVEMENTS_SCHEMA,
            "week": changes.week,
            "as_of": changes.as_of.isoformat(),
            "previous_as_of": changes.previous_as_of.isoformat(),
            "currency": changes.currency,
            "movements": _entries(changes, names),
        }
    )


def movements_csv(changes: WeekMovers, names: Mapping[str, str]) -> str:
    columns = ["customer", "name", "previous_mrr", "mrr", "change"]
    rows: list[list[object]] = [["movement", *columns, "tiers"]]
    for kind, entries in _entries(changes, names).items():
        for entry in entries:
            cells = [csv_cell(str(entry[c] or "")) for c in columns]
            rows.append([kind, *cells, csv_cell(" ".join(entry["tiers"]))])
    return csv_text(rows)


def movements_table(changes: WeekMovers, names: Mapping[str, str]) -> None:
    cur = changes.currency
    title = Text(
        f"Who moved MRR in {changes.week} (as of {changes.as_of}, against "
        f"{changes.previous_as_of}, {cur.upper()})"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Movement", no_wrap=True)
    table.add_column("Customer")
    for label in ("Before", "After", "Change"):
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("Tiers")
    for kind in KINDS:
        for move in (m for m in changes.moves if m.kind == kind):
            who = outside(move.customer)
            name = names.get(move.customer)
            if name:
                who.append("\n")
                who.append_text(outside(name))
            table.add_row(
                LABELS[kind],
                who,
                format_money(move.previous, cur, grouping=True),
                format_money(move.current, cur, grouping=True),
                format_money(move.change, cur, grouping=True),
                outside(", ".join(move.tiers)),
            )
    if not changes.moves:
        table.caption = "Nothing moved."
    print_table(table, console=Terminal())
