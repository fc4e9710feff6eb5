"""A week's customer file written streamed, row after row: the same bytes (so the same
SHA-256 and name) as the whole document dumped and compressed at once, whatever the
ids, digits and names, and however the rows fall into chunks. Read back streamed, a
block at a time: its rows in order, each time they are gone through; a file laid out
otherwise decoded whole; one altered meanwhile an error, never other rows."""

import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffkpi.engine.model import HeldNames
from ffkpi.errors import StorageError
from ffkpi.storage import customer_files
from ffkpi.storage.customer_files import (
    CustomerFile,
    StoredNames,
    customer_rows,
    read_customers,
    write_customers,
)

DIGITS = st.decimals(
    min_value=Decimal("-1000"), max_value=Decimal("100000"), allow_nan=False, places=None
)
IDS = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)  # surrogates too
NO_NAMES = HeldNames()


class InBlocks:
    """Names as a large read gives them: sorted, in blocks of `size`."""

    def __init__(self, names: dict[str, str], size: int) -> None:
        self.names, self.size = names, size

    def of(self, customers: object) -> dict[str, str]:
        raise AssertionError("a customer file goes through the names in order")

    def blocks(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        ordered = sorted(self.names.items())
        for first in range(0, len(ordered), self.size):
            batch = ordered[first : first + self.size]
            yield batch[-1][0], dict(batch)


def whole(
    currency: str,
    tiers: list[str],
    customers: dict[str, tuple[Decimal, ...]],
    names: dict[str, str],
) -> bytes:
    """The customer file as one document dumped and compressed at once."""
    ordered = sorted(customers.items())
    body = {
        "schema": customer_files.SCHEMA,
        "currency": currency,
        "tiers": tiers,
        "customers": {c: [f"{m:f}" for m in values] for c, values in ordered},
        "names": {c: names[c] for c, _ in ordered if c in names},
    }
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6, mtime=0)


@settings(max_examples=80, deadline=None)
@given(
    tiers=st.lists(st.text(max_size=6), min_size=1, max_size=3, unique=True),
    data=st.data(),
    chunk=st.integers(1, 5),
    named=st.sets(st.integers(0, 30)),
    block=st.none() | st.integers(1, 6),
)
def test_streamed_file_is_the_whole_document_to_the_byte(
    tmp_path_factory: pytest.TempPathFactory,
    tiers: list[str],
    data: st.DataObject,
    chunk: int,
    named: set[int],
    block: int | None,
) -> None:
    """The names given held, or in blocks of any size as a large read gives them, and
    naming customers without a row too."""
    width = len(tiers)
    values = st.tuples(*[DIGITS] * width)
    customers = data.draw(st.dictionaries(IDS, values, max_size=30))
    shared = data.draw(values)  # a tuple many customers share, as a plan's price
    for customer in list(customers)[::3]:
        customers[customer] = shared
    ordered = sorted(customers)
    names = {ordered[k]: f'Name {k} \u00e9 "q"' for k in named if k < len(ordered)}
    listed = {**data.draw(st.dictionaries(IDS, st.text(max_size=4), max_size=8)), **names}
    given = HeldNames(listed) if block is None else InBlocks(listed, block)
    folder = tmp_path_factory.mktemp("week")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(customer_files, "CHUNK", chunk)
    monkey.setattr(customer_files, "SPOOL", 8)  # the names wait on disk past 8 bytes
    try:
        rows = customer_rows(sorted(customers.items()))
        path, digest, existed = write_customers(
            folder, "2026-W49", CustomerFile("usd", tiers, rows, given)
        )
    finally:
        monkey.undo()
    expected = whole("usd", tiers, customers, listed)
    assert path.read_bytes() == expected
    assert path.name == f"2026-W49.customers.{digest[:16]}.json.gz"
    assert not existed
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left


def test_the_same_file_again_is_found_existing(tmp_path: Path) -> None:
    rows = [("cus_a", '["1.00"]')]
    first = write_customers(tmp_path, "2026-W49", CustomerFile("usd", ["A"], rows, NO_NAMES))
    again = write_customers(tmp_path, "2026-W49", CustomerFile("usd", ["A"], rows, NO_NAMES))
    assert first[:2] == again[:2]
    assert (first[2], again[2]) == (False, True)


def test_digits_are_kept_as_written() -> None:
    five = (Decimal("5.2"),)
    rows = list(customer_rows([("a", five), ("b", (Decimal("5.20"),)), ("c", five)]))
    assert rows == [("a", '["5.2"]'), ("b", '["5.20"]'), ("c", '["5.2"]')]


IDS_HARD = st.sampled_from(
    ['cus_"],"', 'cus_"]}', "],", "]}", "cus_\\", 'cus_\\"', "cus_é", "", "cus_a", "cus_b"]
)
# Names whose text looks like the end of one and the start of the next.
NAMES_HARD = st.sampled_from([",", '","', '":"', "\\", '\\"', '"}', "}}", "", "A, B & Co"])


def _written(
    folder: Path, customers: dict[str, tuple[Decimal, ...]], names: dict[str, str], tiers: list[str]
) -> tuple[str, str]:
    """The week's file written as ffkpi writes it; the snapshot's reference to it."""
    rows = customer_rows(sorted(customers.items()))
    file = CustomerFile("usd", tiers, rows, HeldNames(names))
    path, digest, _ = write_customers(folder, "2026-W49", file)
    return "2026-W49", f"{path.name} sha256:{digest}"


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    text=st.integers(1, 40),
    block=st.integers(1, 30),
)
def test_a_file_read_streamed_is_the_file_decoded_whole(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, text: int, block: int
) -> None:
    """Read back a few bytes at a time, the rows come in order, as written, and again
    each time they are gone through; whatever the ids hold (`"],"`, `"]}`, escapes)."""
    values = st.tuples(DIGITS, DIGITS)
    # Ids as a read decodes them: no lone surrogate gets past its decoder.
    ids = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
    customers = data.draw(st.dictionaries(st.one_of(ids, IDS_HARD), values, max_size=25))
    names = {c: data.draw(NAMES_HARD | st.just(f"{c} Inc.")) for c in list(customers)[::2]}
    folder = tmp_path_factory.mktemp("week")
    week, reference = _written(folder, customers, names, ["A", "B"])
    monkey = pytest.MonkeyPatch()
    monkey.setattr(customer_files, "TEXT", text)
    monkey.setattr(customer_files, "BLOCK", block)
    try:
        read = read_customers(folder, week, reference)
        assert read.ordered
        assert isinstance(read.mrr, customer_files.StoredCustomers)
        assert (read.currency, read.tiers) == ("usd", ("A", "B"))
        assert isinstance(read.names, StoredNames)
        assert read.names.of(customers) == names
        assert read.names.of(list(names)[:1]) == dict(list(names.items())[:1])
        assert list(read.mrr.items()) == sorted(customers.items())
        assert list(read.mrr) == sorted(customers)  # again, from the file
        assert len(read.mrr) == len(customers)
    finally:
        monkey.undo()
    for customer, value in customers.items():
        assert read.mrr[customer] == value  # looked up: decoded whole, once


def _hand_made(folder: Path, body: bytes) -> tuple[str, str]:
    packed = gzip.compress(body)
    digest = hashlib.sha256(packed).hexdigest()
    name = f"2026-W49.customers.{digest[:16]}.json.gz"
    (folder / name).write_bytes(packed)
    return "2026-W49", f"{name} sha256:{digest}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"schema":"ffkpi.customers/2","currency":"usd","tiers":["A"],'
        b'"customers":{"cus_b":["2"],"cus_a":["1"]},"names":{}}',
        b'{"schema": "ffkpi.customers/2", "currency": "usd", "tiers": ["A"], '
        b'"customers": {"cus_a": ["1"], "cus_b": ["2"]}}',
        b'{"schema":"ffkpi.customers/1","currency":"usd","customers":{"cus_a":"1","cus_b":"2"}}',
    ],
    ids=["another order", "spaced", "schema 1"],
)
def test_a_file_not_laid_out_as_ffkpi_writes_is_decoded_whole(tmp_path: Path, body: bytes) -> None:
    read = read_customers(tmp_path, *_hand_made(tmp_path, body))
    assert not read.ordered
    assert read.mrr == {"cus_a": (Decimal(1),), "cus_b": (Decimal(2),)}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b'{"schema":"ffkpi.customers/2","currency":"usd","tiers":["A"],"customers":{"cus_a":[',
            "not readable",
        ),
        (
            b'{"schema":"ffkpi.customers/2","currency":"usd","tiers":["A"],'
            b'"customers":{"cus_a":["x"]},"names":{}}',
            "not readable",
        ),
    ],
    ids=["cut short", "not a number"],
)
def test_a_file_that_does_not_read_is_one_error(tmp_path: Path, body: bytes, problem: str) -> None:
    with pytest.raises(StorageError, match=f"snapshot 2026-W49: .*{problem}"):
        read_customers(tmp_path, *_hand_made(tmp_path, body))


def test_a_file_altered_after_it_was_checked_is_an_error_not_other_rows(tmp_path: Path) -> None:
    customers = {f"cus_{n:03d}": (Decimal(n),) for n in range(300)}
    week, reference = _written(tmp_path, customers, {}, ["A"])
    read = read_customers(tmp_path, week, reference)
    path = next(tmp_path.glob("*.json.gz"))
    other = {**customers, "cus_000": (Decimal(7),)}
    _written(tmp_path, other, {}, ["A"])
    next(p for p in tmp_path.glob("*.json.gz") if p != path).replace(path)
    with pytest.raises(StorageError, match="was altered while ffkpi read it"):
        list(read.mrr.items())


def test_a_compressed_file_cut_short_is_one_error(tmp_path: Path) -> None:
    """Its digest naming the bytes left (a copy cut short, then the TOML fixed by hand):
    the stream ends before the customers do, and the whole decode says why."""
    customers = {f"cus_{n:04d}": (Decimal(n), Decimal(1)) for n in range(2000)}
    rows = customer_rows(sorted(customers.items()))
    file = CustomerFile("usd", ["A", "B"], rows, NO_NAMES)
    path, _, _ = write_customers(tmp_path, "2026-W49", file)
    cut = path.read_bytes()[: path.stat().st_size // 2]
    digest = hashlib.sha256(cut).hexdigest()
    path.write_bytes(cut)
    with pytest.raises(StorageError, match="snapshot 2026-W49: its customer file is not readable"):
        read_customers(tmp_path, "2026-W49", f"{path.name} sha256:{digest}")
