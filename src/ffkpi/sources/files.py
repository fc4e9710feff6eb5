"""Stripe JSON files: a list page, JSON lines of pages or subscriptions, or a bundle."""

import dataclasses
import json
import os
import zlib
from pathlib import Path
from typing import Any, cast

import msgspec

from ffkpi.engine.calendar import format_instant
from ffkpi.engine.model import Dataset, HeldNames
from ffkpi.errors import InputError
from ffkpi.sources.stream import STREAM_START, StreamedRead
from ffkpi.sources.stream_writer import write_stream_to
from ffkpi.storage.files import PRIVATE, atomic_file
from ffkpi.stripe.billed import build_history_dataset
from ffkpi.stripe.bundle import Bundle
from ffkpi.stripe.lists import ENDPOINTS, INVOICE_ITEMS, INVOICES, SUBSCRIPTIONS
from ffkpi.stripe.payloads import (
    Payload,
    StripeSubscription,
    dotted,
    error_location,
    malformed,
)
from ffkpi.stripe.resolve import build_dataset, refuse_repeats

FORMATS = (
    "a Stripe list object, JSON lines of list pages or subscriptions, or a bundle "
    '{"subscriptions": [...], "prices": [...], ...}'
)


# Any of the accepted top-level shapes, which one decided after parsing: a list page of
# subscriptions (object, data, has_more), or a bundle with a key per list endpoint
# (stripe.lists), each decoded to its payload type, and when it was read.
_Document: Any = msgspec.defstruct(
    "_Document",
    [
        ("object", str | None, None),
        ("data", list[StripeSubscription] | None, None),
        ("has_more", bool, False),
        ("fetched_at", int | None, None),  # when `ffkpi fetch` began reading (Unix seconds)
        ("history_from", int | None, None),  # its --since: the first instant it rebuilds
        *((endpoint.key, list[endpoint.payload] | None, None) for endpoint in ENDPOINTS),  # type: ignore[name-defined]
    ],
    bases=(Payload,),
    frozen=True,
)


HEAD = 64 * 1024  # read first, to refuse what cannot be Stripe JSON before reading on
GZIP = b"\x1f\x8b"
# Stripe JSON compresses about 30x; far more is a crafted file, not an export.
MAX_RATIO = 100
MAX_UNPACKED_EXTRA = 32 * 1024 * 1024


def read_input(path: Path, *, history: bool | None = False) -> Dataset:
    """The one place an input file is read: its first bytes must be able to start Stripe
    JSON (a device such as /dev/zero, or a binary file, is refused there, before it fills
    memory). A file that does not say when it was read is dated by its modification
    time, and says so (`read_at_is_file_time`)."""
    origin = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(HEAD)
            _check_start(raw, origin)
            modified = int(os.fstat(handle.fileno()).st_mtime)
            streamed = _head(raw).lstrip().startswith(STREAM_START)
            if not streamed:
                raw += handle.read()
    except FileNotFoundError:
        raise InputError(f"input file {path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise InputError(f"input file {path} is a folder", "give the path of a file") from None
    except OSError as err:
        raise InputError(
            f"cannot read input file {path}: {err.strerror}", "check the path and its permissions"
        ) from None
    if streamed:  # read record by record, never whole
        data = StreamedRead(path).dataset(history=history)
    else:
        data = parse_input(raw, origin, history=history)
    if data.read_at is None:  # the Stripe CLI's output never says: the file's own time
        return dataclasses.replace(data, read_at=modified, read_at_is_file_time=True)
    return data


def _head(raw: bytes) -> bytes:
    """The first bytes of a file's JSON, unpacked if it is gzip."""
    if raw[:2] != GZIP:
        return raw
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, HEAD)
    except zlib.error:
        return b""  # refused as broken gzip data when read whole


def file_time_note(data: Dataset) -> str | None:
    """What every output says of data dated by its file's modification time."""
    if not data.read_at_is_file_time or data.read_at is None:
        return None
    return (
        "the file does not say when it was read: dated by its modification time, "
        f"{format_instant(data.read_at)}"
    )


def _check_start(raw: bytes | bytearray, origin: str) -> None:
    if raw[:2] == GZIP:
        return
    first = raw.lstrip()[:1]
    if first and first not in b"{[":
        shown = repr(first.decode("latin-1")) if first.isascii() else f"byte 0x{first[0]:02x}"
        raise InputError(
            f"{origin} is not Stripe JSON: it starts with {shown}", f"give it {FORMATS}"
        )


def _gunzip(raw: bytes | bytearray, origin: str) -> bytearray:
    """Every member of a gzip file, unpacked to at most MAX_RATIO times its size (plus
    MAX_UNPACKED_EXTRA), into one buffer: never more than that in memory."""
    limit = MAX_RATIO * len(raw) + MAX_UNPACKED_EXTRA
    unpacked = bytearray()
    rest = raw
    try:
        while rest:
            unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while rest:
                unpacked += unpacker.decompress(rest, limit - len(unpacked) + 1)
                if len(unpacked) > limit:
                    raise InputError(
                        f"{origin} unpacks to more than {limit // 2**20:,} MB from "
                        f"{len(raw) / 1024:,.0f} kB: not a Stripe export (a gzip bomb?)",
                        "give it the file ffkpi fetch wrote, or the JSON unpacked",
                    )
                rest = unpacker.unconsumed_tail
            if not unpacker.eof:
                raise EOFError("the file ends inside the compressed data")
            rest = unpacker.unused_data.lstrip(b"\0")
    except (zlib.error, EOFError) as err:
        raise InputError(f"{origin}: broken gzip data: {err}", "fetch the file again") from None
    return unpacked


def parse_input(raw: bytes | bytearray, origin: str, *, history: bool | None = False) -> Dataset:
    """The data of a Stripe JSON file; with `history`, its billed history too (an error
    if it holds none); with None, its billed history if it holds one."""
    if raw[:2] == GZIP:
        raw = _gunzip(raw, origin)
        _check_start(raw, origin)
    if not raw.strip():
        raise InputError(f"{origin} is empty", f"give it {FORMATS}")
    try:
        documents = _documents(raw, origin)
    except UnicodeDecodeError as err:
        raise InputError(
            f"{origin} is not UTF-8 (it holds the byte 0x{err.object[err.start]:02x} in a text):"
            " Stripe JSON is UTF-8, so it was saved in another encoding",
            "save it as UTF-8, or fetch it again with ffkpi fetch",
        ) from None
    except RecursionError:
        raise InputError(
            f"{origin} nests objects more deeply than Stripe JSON ever does",
            f"give it {FORMATS}",
        ) from None

    lists, read_at, history_from = _collect(documents, origin)
    subscriptions, prices, coupons, products, invoices, pending, customers = (
        lists[endpoint.key] for endpoint in ENDPOINTS
    )
    names = HeldNames({c.id: c.name for c in customers or () if c.name})
    try:
        _refuse_repeats(lists)
        if history is None:
            history = pending is not None or (invoices is not None and history_from is not None)
        sides = (subscriptions or [], prices or [], coupons or [], products or [])
        if not history:
            data = build_dataset(*sides, invoices or ())
            return dataclasses.replace(data, read_at=read_at, customer_names=names)
        if pending is None or invoices is None:
            # An empty list is a history in which nothing was billed; no key is no history.
            missing = " and ".join(
                f'no "{endpoint.key}"'
                for endpoint, got in ((INVOICES, invoices), (INVOICE_ITEMS, pending))
                if got is None
            )
            raise InputError(
                f"it holds no billed history ({missing}), so past weeks cannot be rebuilt from it",
                "fetch it with ffkpi fetch --since YYYY-MM-DD, which saves them",
            )
        data = build_history_dataset(*sides, invoices, pending)
        return dataclasses.replace(
            data, read_at=read_at, history_from=history_from, customer_names=names
        )
    except InputError as err:
        raise InputError(f"{origin}: {err.what}", err.fix) from None


def _collect(
    documents: list[_Document], origin: str
) -> tuple[dict[str, list[Any] | None], int | None, int | None]:
    """Each list's objects across the documents, by its key (None where no document has
    the key), and when the data was read and from when it rebuilds, if they say."""
    lists: dict[str, list[Any] | None] = {endpoint.key: None for endpoint in ENDPOINTS}
    read_at: int | None = None
    history_from: int | None = None
    for number, document in enumerate(documents, start=1):
        if document.object == "list" and document.data is not None:
            lists[SUBSCRIPTIONS.key] = [*(lists[SUBSCRIPTIONS.key] or []), *document.data]
            if document.has_more and number == len(documents):
                raise InputError(
                    f"{origin}: the last page says has_more, so subscriptions are missing",
                    "fetch every page (ffkpi fetch does), then try again",
                )
        elif document.subscriptions is None:
            where = f"{origin}, line {number}" if len(documents) > 1 else origin
            raise InputError(f"{where}: not a Stripe list page or bundle", f"give it {FORMATS}")
        for endpoint in ENDPOINTS:
            objects = getattr(document, endpoint.key)
            if objects is not None:
                lists[endpoint.key] = [*(lists[endpoint.key] or []), *objects]
        if document.fetched_at is not None:
            read_at = max(read_at or 0, document.fetched_at)
        if document.history_from is not None:
            history_from = max(history_from or 0, document.history_from)
    return lists, read_at, history_from


def _refuse_repeats(lists: dict[str, list[Any] | None]) -> None:
    """Every object of every list once, and every line of an invoice."""
    for endpoint in ENDPOINTS:
        refuse_repeats(endpoint.kind, lists[endpoint.key] or ())
    for invoice in lists[INVOICES.key] or ():
        refuse_repeats(f"invoice {invoice.id}: line", invoice.lines.data)


def _documents(raw: bytes | bytearray, origin: str) -> list[_Document]:
    """One document, or JSON lines of them."""
    try:
        return [msgspec.json.decode(raw, type=_Document)]
    except msgspec.ValidationError as err:
        raise _explain(err, raw, origin, line=None) from None
    except msgspec.DecodeError as err:
        if "trailing characters" not in str(err):
            raise _not_json(err, origin) from None
    return _json_lines(raw, origin)


def _json_lines(raw: bytes | bytearray, origin: str) -> list[_Document]:
    documents = []
    lines = cast("list[bytes]", raw.splitlines())  # bytearray lines act the same
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = msgspec.json.decode(line, type=_Document)
            if document.object == "subscription":
                sub = msgspec.json.decode(line, type=StripeSubscription)
                document = _Document(object="list", data=[sub])
        except msgspec.ValidationError as err:
            raise _explain(err, line, origin, line=number) from None
        except msgspec.DecodeError as err:
            raise _not_json(err, f"{origin}, line {number}") from None
        documents.append(document)
    return documents


def _not_json(err: msgspec.DecodeError, where: str) -> InputError:
    return InputError(f"{where} is not valid JSON: {malformed(err)}", f"give it {FORMATS}")


def _explain(
    err: msgspec.ValidationError, raw: bytes | bytearray, origin: str, line: int | None
) -> InputError:
    where = origin if line is None else f"{origin}, line {line}"
    loc, message = error_location(err)
    # Name the subscription (or other object) the bad field belongs to, by its id.
    try:
        node: Any = json.loads(raw)
    except (ValueError, RecursionError):
        node = None
    owner = None
    for depth, part in enumerate([*loc, None]):
        in_list = depth == 2 and loc[0] in ("data", "subscriptions")
        if isinstance(node, dict) and (node.get("object") == "subscription" or in_list):
            owner = (str(node["id"]) if "id" in node else f"#{loc[1]}", depth)
            break
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    path = dotted(loc if owner is None else loc[owner[1] :])
    subject = where if owner is None else f"{where}: subscription {owner[0]}"
    if path:
        subject = f"{subject}: {path}"
    return InputError(
        f"{subject}: {message}", "check the file is Stripe JSON as the API returns it"
    )


def write_bundle(path: Path, bundle: Bundle) -> None:
    """A bundle as a read in JSON lines (sources.stream), streamed to disk and committed
    atomically, readable by the user alone: it holds customer names, emails and addresses."""
    with atomic_file(path, PRIVATE) as out:
        write_stream_to(out, bundle)
