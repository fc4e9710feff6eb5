"""A week's customer file, `<week>.customers.<digest>.json.gz` beside its snapshot: each
customer's MRR per tier at full precision, in customers' order (by id), and the names
the read gave them; named by its SHA-256, which the snapshot's TOML holds.

Written streamed, row after row, the same bytes as the whole document compressed at
once. Read streamed too: a file of 1,000,000 customers is never decoded whole. Its rows
are decoded a block at a time (each block of entries one msgspec decode), checked
against the digest and the order once, then read again from the file each time a
reader goes through them (StoredCustomers). Its names are read the same way, a block
at a time, only when asked for the customers shown (StoredNames). A file in another
order, or of schema 1 (rounded totals), is decoded whole, as before.
"""

import gzip
import hashlib
import json
import re
import tempfile
import zlib
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice, pairwise
from json.encoder import encode_basestring_ascii as quoted
from pathlib import Path
from typing import Literal

import msgspec

from ffkpi.engine.model import HeldNames, NamesInOrder
from ffkpi.engine.mrr import Report
from ffkpi.errors import StorageError
from ffkpi.history.ledger import Values
from ffkpi.history.series import Customers
from ffkpi.storage.files import open_own, replacing

SCHEMA = "ffkpi.customers/2"
MAX_SIZE = 1024 * 1024 * 1024  # 100,000 customers are 0.2 to 3 MB compressed
BLOCK = 1 << 16  # bytes read at once
TEXT = 1 << 18  # bytes of text decompressed at once
CHUNK = 1024  # rows encoded at once
SPOOL = 1 << 20  # bytes of names held before they wait on disk

# A customer's row in a customer file: the id, and its MRR per tier as JSON.
Row = tuple[str, str]
_MARK = b'"customers":{'
# In a file of schema 2 a customer's values end with a digit, a quote and `]`: then
# `,` goes on to the next customer, `}` ends the last. No id can hold that: a `"` in one
# is escaped (`\"`), and the opening quote of an id follows `{` or `,`, never a digit.
_NEXT, _LAST = b'"],"', b'"]}'


def customer_rows(customers: Iterable[tuple[str, Values]]) -> Iterator[Row]:
    """Customers' MRR per tier, at full precision, as a customer file writes them, in
    the order given. Most customers share one tuple of values with others (a plan's
    price): each tuple is encoded once while it lives."""
    encoded: dict[int, tuple[Values, str]] = {}  # by id, the tuple kept: no id reused
    for customer, values in customers:
        known = encoded.get(id(values))
        if known is None:
            text = json.dumps([f"{m:f}" for m in values], separators=(",", ":"))
            known = encoded[id(values)] = (values, text)
        yield customer, known[1]


@dataclass(frozen=True, slots=True)
class CustomerFile:
    """What a week's customer file holds: `rows` in customers' order, once."""

    currency: str
    tiers: Sequence[str]
    rows: Iterable[Row]
    names: NamesInOrder


def customer_file(report: Report, names: NamesInOrder, rows: Iterable[Row]) -> CustomerFile:
    """A report's customers as its customer file holds them: `rows`, in order, and the
    names of those `names` has."""
    return CustomerFile(report.currency, [tier.name for tier in report.tiers], rows, names)


_NONE: tuple[str | None, Mapping[str, str]] = (None, {})  # no more names


def _json(file: CustomerFile) -> Iterator[bytes]:
    """A customer file's JSON, streamed, the same bytes as its document dumped whole:
    each customer's MRR within each tier, at full precision, in the order of its rows
    (by id), what movements between weeks are computed from; and the names of those the
    read named, so the movers of a snapshot folder are named as those of a read. The
    names are found going through the read's in the same order, and wait in a spooled
    temporary file until the rows are written."""
    head = {"schema": SCHEMA, "currency": file.currency, "tiers": list(file.tiers)}
    yield json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"customers":{'
    blocks = iter(file.names.blocks())
    last, names = next(blocks, _NONE)
    rows = iter(file.rows)
    sep, named = "", ""
    with tempfile.SpooledTemporaryFile(SPOOL) as waiting:
        while chunk := list(islice(rows, CHUNK)):
            yield (sep + ",".join(f"{quoted(c)}:{values}" for c, values in chunk)).encode()
            sep = ","
            entries = []
            for customer, _ in chunk:
                while last is not None and last < customer:
                    last, names = next(blocks, _NONE)
                name = names.get(customer)
                if name is not None:
                    entries.append(f"{named}{quoted(customer)}:{quoted(name)}")
                    named = ","
            waiting.write("".join(entries).encode())
        yield b'},"names":{'
        waiting.seek(0)
        yield from iter(lambda: waiting.read(BLOCK), b"")
    yield b"}}"


def write_customers(folder: Path, week: str, file: CustomerFile) -> tuple[Path, str, bool]:
    """The week's customer file written whole or not at all, named by its SHA-256
    (gzip's bytes as one `gzip.compress` with mtime 0 would make them); its path, its
    digest, and whether a file of that name was there already."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, mtime 0
    digest = hashlib.sha256()
    found: list[tuple[Path, bool]] = []

    def named() -> Path:
        path = folder / f"{week}.customers.{digest.hexdigest()[:16]}.json.gz"
        found.append((path, path.exists()))
        return path

    with replacing(folder / f"{week}.customers.json.gz", named=named) as out:
        for text in _json(file):
            packed = packer.compress(text)
            digest.update(packed)
            out.write(packed)
        packed = packer.flush()
        digest.update(packed)
        out.write(packed)
    path, existed = found[0]
    return path, digest.hexdigest(), existed


class _Whole(msgspec.Struct, frozen=True, rename={"schema_version": "schema"}):
    """A customer file decoded whole."""

    schema_version: Literal["ffkpi.customers/1", "ffkpi.customers/2"]
    currency: str
    customers: dict[str, Decimal | tuple[Decimal, ...]]
    tiers: tuple[str, ...] | None = None
    names: dict[str, str] = {}  # files written before names were kept have none


class _Head(msgspec.Struct, frozen=True, rename={"schema_version": "schema"}):
    schema_version: str
    currency: str
    tiers: tuple[str, ...] | None = None


_BROKEN = (EOFError, zlib.error, msgspec.DecodeError, ValueError)  # a file not readable


class _Unreadable(Exception):
    """What makes a customer file unreadable, said as `problem` says it."""


class _Unusual(Exception):
    """A file read whole instead: another schema, or not in customers' order."""


def problem(folder: Path, reference: str | None) -> str | None:
    """What is wrong with the customer file a snapshot names (`name sha256:digest`),
    read a block at a time and checked against its SHA-256; None if nothing."""
    try:
        path, digest = _named(folder, reference)
        hasher = hashlib.sha256()
        with open_own(path) as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                hasher.update(block)
        if hasher.hexdigest() != digest:
            return f"its customer file {path.name} does not match its SHA-256 (altered or replaced)"
    except _Unreadable as err:
        return str(err)
    except FileNotFoundError:
        return f"its customer file {path.name} is missing"
    except OSError as err:
        return f"its customer file {path.name} cannot be read: {err.strerror or err}"
    return None


def _named(folder: Path, reference: str | None) -> tuple[Path, str]:
    name, _, digest = (reference or "").partition(" sha256:")
    if not name or not digest or "/" in name or "\\" in name:
        raise _Unreadable(f"it names no customer file ({reference!r})")
    return folder / name, digest


def read_customers(folder: Path, week: str, reference: str | None) -> Customers:
    """The customer file a snapshot names, checked against its SHA-256: rows read again
    from the file each time they are gone through, where it is of schema 2 in
    customers' order (checked here, once); else decoded whole."""
    try:
        path, digest = _named(folder, reference)
        stored = StoredCustomers(path, digest)
        try:
            head = stored.check()
        except _Unusual:
            return _whole(path, digest)
        assert head.tiers is not None
        return Customers(head.currency, head.tiers, stored, names=StoredNames(stored), ordered=True)
    except _Unreadable as err:
        message = str(err)
    except FileNotFoundError:
        message = f"its customer file {path.name} is missing"
    except OSError as err:
        message = f"its customer file {path.name} cannot be read: {err.strerror or err}"
    except _BROKEN as err:
        message = f"its customer file is not readable ({err})"
    raise StorageError(
        f"snapshot {week}: {message}", "restore the file from a backup, or take the week again"
    )


def _whole(path: Path, digest: str) -> Customers:
    with open_own(path) as handle:
        raw = handle.read(MAX_SIZE + 1)
    if len(raw) > MAX_SIZE:
        raise _Unreadable(f"its customer file {path.name} is larger than {MAX_SIZE >> 30} GB")
    if hashlib.sha256(raw).hexdigest() != digest:
        raise _Unreadable(f"its customer file {path.name} does not match its SHA-256")
    body = msgspec.json.decode(gzip.decompress(raw), type=_Whole)
    mrr = {
        customer: value if isinstance(value, tuple) else (value,)
        for customer, value in body.customers.items()
    }
    return Customers(body.currency, body.tiers, mrr, names=HeldNames(body.names))


class StoredCustomers(Mapping[str, Values]):
    """A week's customers as its customer file holds them, in customers' order: read
    from the file again each time they are gone through, never held. Looking one up
    decodes the file whole, once (nothing in a folder's history does)."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path, self.digest = path, digest
        self.count = 0
        self.checked = False  # gone through once, whole and in order
        self._looked_up: dict[str, Values] | None = None

    def check(self) -> _Head:
        """Its rows and names gone through once, the rows counted and both found in
        order; the file's head."""
        found: list[_Head] = []
        count, last_row, last_name = 0, None, None
        for rows, raw in self._sections(found, rows=True, names=True):
            if rows:
                keys = list(msgspec.json.decode(raw, type=_BLOCK_TYPE))
                count, last_row = count + len(keys), _following(keys, last_row)
            else:
                named = list(msgspec.json.decode(raw, type=_NAMES_TYPE))
                last_name = _following(named, last_name)
        self.count, self.checked = count, True
        return found[0]

    def _sections(
        self, found: list[_Head], *, rows: bool, names: bool
    ) -> Iterator[tuple[bool, bytes]]:
        """The file's blocks of rows, then of names (those asked for), each as a JSON
        object and marked True for rows, the file checked against its digest at the end;
        its head added to `found`."""
        hasher, unpack = hashlib.sha256(), zlib.decompressobj(31)
        with open_own(self.path) as handle:

            def text() -> Iterator[bytes]:
                for raw in iter(lambda: handle.read(BLOCK), b""):
                    hasher.update(raw)
                    packed = raw
                    while packed:  # a text a fraction of a MB at a time: a block decodes
                        yield unpack.decompress(packed, TEXT)  # a few thousand customers
                        packed = unpack.unconsumed_tail
                yield unpack.flush()
                if unpack.unused_data or not unpack.eof:
                    raise _Unusual  # another gzip member follows, or the file is cut
                if hasher.hexdigest() != self.digest:
                    raise StorageError(
                        f"the customer file {self.path} was altered while ffkpi read it",
                        "run the command again, with nothing else writing to the folder",
                    )

            try:
                yield from _parse(text(), found, rows=rows, names=names)
            except (_Unusual, *_BROKEN) as err:
                if not self.checked:
                    raise
                raise StorageError(
                    f"the customer file {self.path} was altered while ffkpi read it ({err})",
                    "run the command again, with nothing else writing to the folder",
                ) from None

    def _rows(self) -> Iterator[tuple[str, Values]]:
        for _, raw in self._sections([], rows=True, names=False):
            yield from msgspec.json.decode(raw, type=_BLOCK_TYPE).items()

    def names(self) -> Iterator[dict[str, str]]:
        """Its names, a block at a time, in customers' order; its rows skipped."""
        for _, raw in self._sections([], rows=False, names=True):
            yield msgspec.json.decode(raw, type=_NAMES_TYPE)

    def items(self) -> ItemsView[str, Values]:
        return _Items(self)

    def __iter__(self) -> Iterator[str]:
        return (customer for customer, _ in self._rows())

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, customer: str) -> Values:
        if self._looked_up is None:
            self._looked_up = dict(self._rows())
        return self._looked_up[customer]


@dataclass(frozen=True, slots=True)
class StoredNames:
    """The names a week's customer file keeps, read from it again when asked."""

    stored: StoredCustomers

    def of(self, customers: Iterable[str]) -> dict[str, str]:
        wanted = set(customers)
        found: dict[str, str] = {}
        for block in self.stored.names() if wanted else ():
            found.update((c, block[c]) for c in wanted.intersection(block))
        return found


class _Items(ItemsView[str, Values]):
    """A StoredCustomers' rows, read from its file in order."""

    _mapping: StoredCustomers

    def __iter__(self) -> Iterator[tuple[str, Values]]:
        return self._mapping._rows()


_BLOCK_TYPE = dict[str, tuple[Decimal, ...]]
_NAMES_TYPE = dict[str, str]
_NAMED = b',"names":{'
# Names' entries, each followed by `,`, as ffkpi writes them (JSON strings, no spaces):
# a block of names ends where the last whole entry does. A string ends at a quote that
# is not escaped (`\"` goes on), whatever its text looks like (`","`, `":"`).
_ENTRIES = re.compile(rb'(?:"[^"\\]*+(?:\\.[^"\\]*+)*+":"[^"\\]*+(?:\\.[^"\\]*+)*+",)*+', re.DOTALL)


def _following(keys: list[str], before: str | None) -> str | None:
    """The last of `keys` (else `before`), each found after the one before it and all
    after `before`: a file in another order is _Unusual."""
    if (before is not None and keys and keys[0] <= before) or any(
        a >= b for a, b in pairwise(keys)
    ):
        raise _Unusual
    return keys[-1] if keys else before


def _more(text: Iterator[bytes]) -> bytes:
    more = next(text, None)
    if more is None:  # not laid out as ffkpi writes: decoded whole, which says why
        raise _Unusual
    return more


def _closing(buffer: bytes, pattern: bytes, *, last: bool = False) -> int:
    """Where `pattern` closes a customer's values in `buffer` (the first or the last
    place): after a digit; -1 if nowhere."""
    at = buffer.rfind(pattern) if last else buffer.find(pattern)
    while at >= 0 and not buffer[at - 1 : at].isdigit():  # at 0: an id's opening quote
        at = buffer.rfind(pattern, 0, at) if last else buffer.find(pattern, at + 1)
    return at


def _parse(
    text: Iterator[bytes], found: list[_Head], *, rows: bool, names: bool
) -> Iterator[tuple[bool, bytes]]:
    """A customer file of schema 2's blocks, each a JSON object, from its text in pieces:
    of rows (True; skipped unless `rows`), then of names (False; unless `names`, the text
    is only gone through to its end); its head appended to `found`. A file laid out
    otherwise is _Unusual."""
    buffer = b""
    while (mark := buffer.find(_MARK)) < 0:
        buffer += _more(text)
    head = msgspec.json.decode(buffer[:mark].rstrip(b",") + b"}", type=_Head)
    if head.schema_version != SCHEMA or not head.tiers:
        raise _Unusual
    found.append(head)
    buffer = buffer[mark + len(_MARK) :]
    while not buffer:
        buffer += _more(text)
    if buffer[:1] != b"}":  # not an empty week
        while (end := _closing(buffer, _LAST)) < 0:
            cut = _closing(buffer, _NEXT, last=True)
            if cut >= 0:
                if rows:
                    yield True, b"{" + buffer[: cut + 2] + b"}"
                buffer = buffer[cut + 3 :]
            buffer += _more(text)
        if rows:
            yield True, b"{" + buffer[: end + 2] + b"}"
        buffer = buffer[end + 2 :]
    if not names:
        for _ in text:  # to its end, where its digest is checked
            pass
        return
    buffer = buffer[1:]  # `,"names":{...}}`, or `}` in a file written before names were kept
    while len(buffer) < len(_NAMED) and (more := next(text, None)) is not None:
        buffer += more
    if not buffer.startswith(_NAMED):
        if buffer + b"".join(text) != b"}":
            raise _Unusual
        return
    buffer = buffer[len(_NAMED) :]
    for more in text:
        buffer += more
        cut = _ENTRIES.match(buffer).end()  # type: ignore[union-attr]  # matches "" at least
        if cut:
            yield False, b"{" + buffer[: cut - 1] + b"}"
            buffer = buffer[cut:]
    if not buffer.endswith(b"}}"):
        raise _Unusual
    yield False, b"{" + buffer[:-1]
