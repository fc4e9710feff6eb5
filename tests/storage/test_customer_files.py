"""A week's customer file written streamed, row after row: the same bytes (so the same
SHA-256 and name) as the whole document dumped and compressed at once, whatever the
ids, digits and names, and however the rows fall into chunks."""

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffkpi.storage import snapshots
from ffkpi.storage.snapshots import CustomerFile, customer_rows

DIGITS = st.decimals(
    min_value=Decimal("-1000"), max_value=Decimal("100000"), allow_nan=False, places=None
).map(lambda d: d.quantize(Decimal(1)) if d.adjusted() > 20 else d)
IDS = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)  # surrogates too


def whole(
    currency: str,
    tiers: list[str],
    customers: dict[str, tuple[Decimal, ...]],
    names: dict[str, str],
) -> bytes:
    """The customer file as one document dumped and compressed at once."""
    ordered = sorted(customers.items())
    body = {
        "schema": snapshots.CUSTOMERS_SCHEMA,
        "currency": currency,
        "tiers": tiers,
        "customers": {c: [f"{m:f}" for m in values] for c, values in ordered},
        "names": {c: names[c] for c, _ in ordered if c in names},
    }
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6, mtime=0)


@settings(max_examples=60, deadline=None)
@given(
    tiers=st.lists(st.text(max_size=6), min_size=1, max_size=3, unique=True),
    data=st.data(),
    chunk=st.integers(1, 5),
    named=st.sets(st.integers(0, 30)),
)
def test_streamed_file_is_the_whole_document_to_the_byte(
    tmp_path_factory: pytest.TempPathFactory,
    tiers: list[str],
    data: st.DataObject,
    chunk: int,
    named: set[int],
) -> None:
    width = len(tiers)
    values = st.tuples(*[DIGITS] * width)
    customers = data.draw(st.dictionaries(IDS, values, max_size=30))
    shared = data.draw(values)  # a tuple many customers share, as a plan's price
    for customer in list(customers)[::3]:
        customers[customer] = shared
    ordered = sorted(customers)
    names = {ordered[k]: f'Name {k} \u00e9 "q"' for k in named if k < len(ordered)}
    folder = tmp_path_factory.mktemp("week")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(snapshots, "CHUNK", chunk)
    try:
        rows = customer_rows(sorted(customers.items()))
        path, digest, existed = snapshots._write_customers(
            folder, "2026-W49", CustomerFile("usd", tiers, rows, names)
        )
    finally:
        monkey.undo()
    expected = whole("usd", tiers, customers, names)
    assert path.read_bytes() == expected
    assert path.name == f"2026-W49.customers.{digest[:16]}.json.gz"
    assert not existed
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left


def test_the_same_file_again_is_found_existing(tmp_path: Path) -> None:
    rows = [("cus_a", '["1.00"]')]
    first = snapshots._write_customers(tmp_path, "2026-W49", CustomerFile("usd", ["A"], rows, {}))
    again = snapshots._write_customers(tmp_path, "2026-W49", CustomerFile("usd", ["A"], rows, {}))
    assert first[:2] == again[:2]
    assert (first[2], again[2]) == (False, True)


def test_digits_are_kept_as_written() -> None:
    five = (Decimal("5.2"),)
    rows = list(customer_rows([("a", five), ("b", (Decimal("5.20"),)), ("c", five)]))
    assert rows == [("a", '["5.2"]'), ("b", '["5.20"]'), ("c", '["5.2"]')]
