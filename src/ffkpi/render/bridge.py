"""What moved MRR each week, as printed (the bridge): amounts rounded so that it still
adds up to the printed MRRs, rates as decimal strings, a table that fits 80 columns."""

from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ffkpi.engine.money import format_money, format_percent, format_rate, format_ratio
from ffkpi.history.growth import Week, printed_movements
from ffkpi.history.movements import CHURN, CONTRACTION, INFLOWS, KINDS, TRAILING, Rates

LABELS = {
    "new": "New",
    "expansion": "Expansion",
    "reactivation": "Reactivated",
    "contraction": "Contraction",
    "churn": "Churn",
}
REBUILT = "~"  # marks a week rebuilt from invoices, in tables and charts
RECOMPUTED = "^"  # marks a week counted again from its kept read, under today's config
RATE_KEYS = ("logo_churn", "gross_mrr_churn", "net_mrr_churn", "quick_ratio")
WINDOW_KEYS = (*RATE_KEYS, "nrr", "grr")


def _rates(rates: Rates | None, keys: tuple[str, ...]) -> dict[str, str | None] | None:
    if rates is None:
        return None
    return {key: format_rate(getattr(rates, key)) for key in keys}


def moves_dict(week: Week) -> dict[str, Any]:
    """A week's movements for JSON (nothing when its customers are not known)."""
    moves = week.moves
    if moves is None:
        return {
            "customers": None,
            "arpa": None,
            "movements": None,
            "rates": None,
            **{f"trailing_{n}w": None for n in TRAILING},
            "movements_note": "its customers are not known (a customer file of schema 1)",
        }
    cur = week.currency
    printed = printed_movements(week)
    movements = None
    if printed is not None and moves.movements is not None:
        movements = {
            kind: {
                "mrr": format_money(printed[kind], cur),
                "customers": moves.movements[kind].customers,
            }
            for kind in KINDS
        }
    document: dict[str, Any] = {
        "customers": moves.customers,
        "arpa": None if moves.arpa is None else format_money(moves.arpa, cur),
        "movements": movements,
        "rates": _rates(moves.rates, RATE_KEYS),
        **{f"trailing_{n}w": _rates(moves.trailing[n], WINDOW_KEYS) for n in TRAILING},
    }
    if not week.comparable:
        document["movements_note"] = "another MRR definition or currency than the week before"
    return document


# CSV: after the history's own columns, in this order.
MOVE_COLUMNS = [
    "customers",
    "arpa",
    *(f"{kind}_{part}" for kind in KINDS for part in ("mrr", "customers")),
    *RATE_KEYS,
    *(f"trailing_{n}w_{key}" for n in TRAILING for key in WINDOW_KEYS),
]


def moves_row(week: Week) -> dict[str, Any]:
    """The same as flat CSV cells (empty where unknown)."""
    document = moves_dict(week)
    row: dict[str, Any] = dict.fromkeys(MOVE_COLUMNS)
    if not document:
        return row
    row["customers"] = document["customers"]
    row["arpa"] = document["arpa"]
    for kind, values in (document["movements"] or {}).items():
        row[f"{kind}_mrr"], row[f"{kind}_customers"] = values["mrr"], values["customers"]
    row.update(document["rates"] or {})
    for n in TRAILING:
        for key, value in (document[f"trailing_{n}w"] or {}).items():
            row[f"trailing_{n}w_{key}"] = value
    return row


def moves_table(weeks: list[Week], title: Text) -> Table | None:
    """New, expansion, reactivation, contraction and churn per week, with customers."""
    if not any(week.moves is not None for week in weeks):
        return None
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Week", justify="left", no_wrap=True)
    for kind in KINDS:
        table.add_column(LABELS[kind], justify="right", no_wrap=True)
    table.add_column("Paying", justify="right", no_wrap=True)
    for week in weeks:
        cur = week.currency
        printed = printed_movements(week)
        moves = week.moves
        cells = [week.week]
        for kind in KINDS:
            if printed is None or moves is None or moves.movements is None:
                cells.append("")
                continue
            sign = "+" if kind in INFLOWS else "-"
            amount = format_money(printed[kind], cur, grouping=True)
            count = moves.movements[kind].customers
            cells.append(f"{sign}{amount}\n({count})" if count else "")
        cells.append("" if moves is None else str(moves.customers))
        table.add_row(*cells)
    last = weeks[-1].moves
    notes = [
        "(n): customers. Each week against the week before it; blank: not known. "
        "Paying: customers with MRR."
    ]
    if last is not None:
        for n in TRAILING:
            rates = last.trailing[n]
            if rates is None:
                continue
            quick = format_ratio(rates.quick_ratio)
            notes.append(
                f"Last {n} weeks: logo churn {format_percent(rates.logo_churn)}, gross MRR churn "
                f"{format_percent(rates.gross_mrr_churn)}, net MRR churn "
                f"{format_percent(rates.net_mrr_churn)}, NRR {format_percent(rates.nrr)}, GRR "
                f"{format_percent(rates.grr)}, quick ratio {quick or 'none'}."
            )
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    return table


SIDE = 20  # chart cells for money out, and as many for money in


def moves_chart(weeks: list[Week], width: int) -> Text | None:
    """Each week's money in (new, expansion, reactivation) as a bar right of the axis
    and money out (contraction, churn) left of it, on one scale."""
    rows = [(week, printed_movements(week)) for week in weeks]
    known = [(week, printed) for week, printed in rows if printed is not None]
    if not known:
        return None
    cur = known[-1][0].currency
    flows = []
    for week, printed in known:
        inflow = sum((printed[kind] for kind in INFLOWS), Decimal(0))
        outflow = printed[CONTRACTION] + printed[CHURN]
        label = f"{_signed('+', inflow, cur)} {_signed('-', outflow, cur)}"
        flows.append((week, inflow, outflow, label))
    scale = max(max(i, o) for _, i, o, _ in flows) or Decimal(1)
    side = max(5, min(SIDE, (width - 12 - max(len(label) for *_, label in flows)) // 2))
    chart = Text()
    chart.append(f"What moved MRR each week ({cur.upper()}): out ◀│▶ in\n", style="bold")
    for week, inflow, outflow, label in flows:
        out_cells = int(outflow / scale * side)
        in_cells = int(inflow / scale * side)
        chart.append(f"{week.week}{REBUILT if week.source == 'reconstructed' else ' '} ")
        chart.append(" " * (side - out_cells))
        chart.append("▒" * out_cells, style="red")
        chart.append("│")
        chart.append("█" * in_cells, style="green")
        chart.append(" " * (side - in_cells))
        chart.append(f" {label}\n")
    return chart


def _signed(sign: str, amount: Decimal, currency: str) -> str:
    """An amount in or out with its sign; none is "0.00", never "-0.00"."""
    text = format_money(amount, currency, grouping=True)
    return text if Decimal(text.replace(",", "")) == 0 else f"{sign}{text}"
