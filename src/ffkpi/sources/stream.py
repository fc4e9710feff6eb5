"""Reads in JSON lines: one subscription a line with its own invoices and pending items,
after a header and the catalog (prices, coupons, products, customers). What `ffkpi
fetch` and the weekly run write, so that no command holds the file, nor the account's
invoices, at once:

    {"object":"ffkpi.read","version":1,"lists":[...],"subscriptions":N,"fetched_at":T,...}
    {"prices":[...]}                                    (a hundred objects a line)
    {"subscription":{...},"invoices":[...],"invoice_items":[...]}   (N lines)
    {"invoices":[...]}              (invoices of no subscription held: one-off, or newer)

A first pass reads each subscription's id (its invoices skipped unread); today's MRR
reads each subscription again with its metered items' newest lines (Dataset.with_lines),
the rebuild each one's invoices, a range of subscriptions at a time (Dataset.billing),
and lets them go.
"""

import dataclasses
import gzip
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import msgspec

from ffkpi.engine.model import Billed, BilledInvoice, Dataset, InvoiceLine, Subscription
from ffkpi.engine.pricing import newest_lines
from ffkpi.errors import InputError
from ffkpi.history.timeline import refuse_unheld
from ffkpi.sources.fingerprints import Fingerprints, fingerprint, fingerprints
from ffkpi.sources.read_names import Listing
from ffkpi.stripe.billed import Biller, lifetime
from ffkpi.stripe.lists import (
    CUSTOMERS,
    ENDPOINTS,
    INVOICE_ITEMS,
    INVOICES,
    SUBSCRIPTIONS,
)
from ffkpi.stripe.payloads import (
    Payload,
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceItem,
    StripeSubscription,
    error_location,
    malformed,
)
from ffkpi.stripe.resolve import Resolver, bulk_allocation, invoice_lines, refuse_repeats

MAGIC = "ffkpi.read"
VERSION = 1
CHUNK = 100  # objects a line, outside the subscriptions' lines
LINE_LIMIT = 256 * 2**20  # a longer line is no subscription's: a crafted file
CATALOG = tuple(e for e in ENDPOINTS if e not in (SUBSCRIPTIONS, INVOICES, INVOICE_ITEMS))
OWNED = (INVOICES.key, INVOICE_ITEMS.key)  # the lists a subscription's line holds
SUBSCRIPTION_LINE = b'{"subscription":'
STREAM_START = b'{"object":"ffkpi.read"'  # how the header, written by ffkpi, begins


class Header(Payload, frozen=True):
    object: str
    version: int
    lists: list[str]  # the lists the read holds (an empty one is a list read)
    subscriptions: int
    fetched_at: int | None = None  # when the read began (Unix seconds)
    history_from: int | None = None  # its --since: the first instant it rebuilds


class _Id(Payload, frozen=True):
    """What the first pass reads of a subscription: its id. The rest (its dates, its
    items) is read where the subscription is counted or rebuilt."""

    id: str


class _IdOnly(Payload, frozen=True):
    subscription: _Id


# A line as the first pass reads it: the catalog decoded, a subscription's head, its
# invoices kept as undecoded JSON until it is known whether they are needed.
_First: Any = msgspec.defstruct(
    "_First",
    [
        ("subscription", _Id | None, None),
        ("invoices", msgspec.Raw, msgspec.Raw()),  # empty: none on the line
        ("invoice_items", msgspec.Raw, msgspec.Raw()),
        *((e.key, list[e.payload] | None, None) for e in CATALOG),  # type: ignore[name-defined]
    ],
    bases=(Payload,),
    frozen=True,
)


class _Listed(Payload, frozen=True):
    """A catalog line as the customers' names are read from it again."""

    customers: list[StripeCustomer] | None = None


class _Counted(Payload, frozen=True):
    """A subscription's line as today's MRR reads it: the subscription alone."""

    subscription: StripeSubscription


class _Metering(Payload, frozen=True):
    """A subscription's line as today's MRR reads it: the subscription, and its invoices
    undecoded unless an item is metered (its newest lines are then read)."""

    subscription: StripeSubscription
    invoices: msgspec.Raw = msgspec.Raw()


class _Owned(Payload, frozen=True):
    """A subscription's line as the rebuild reads it: all of it."""

    subscription: StripeSubscription
    invoices: list[StripeInvoice] | None = None
    invoice_items: list[StripeInvoiceItem] | None = None


@contextmanager
def _lines(path: Path) -> Iterator[Iterator[tuple[int, bytes]]]:
    """The file's lines (unpacked if gzip), numbered from 1, each at most LINE_LIMIT."""
    with path.open("rb") as raw:
        packed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        handle: IO[bytes] = gzip.GzipFile(fileobj=raw) if packed else raw  # type: ignore[assignment]

        def numbered() -> Iterator[tuple[int, bytes]]:
            number = 0
            try:
                while line := handle.readline(LINE_LIMIT + 1):
                    number += 1
                    if len(line) > LINE_LIMIT:
                        raise InputError(
                            f"{path}, line {number} is longer than {LINE_LIMIT // 2**20} MB:"
                            " not a read ffkpi wrote",
                            "fetch it again with ffkpi fetch",
                        )
                    if line.strip():
                        yield number, line
            except (OSError, EOFError, gzip.BadGzipFile) as err:
                raise InputError(f"{path}: broken gzip data: {err}", "fetch it again") from None

        yield numbered()


def _decode(line: bytes, kind: Any, where: str) -> Any:
    try:
        return msgspec.json.decode(line, type=kind)
    except msgspec.ValidationError as err:
        loc, message = error_location(err)
        path = ".".join(str(part) for part in loc)
        raise InputError(
            f"{where}: {path + ': ' if path else ''}{message}",
            "check the file is a read ffkpi fetch wrote",
        ) from None
    except msgspec.DecodeError as err:
        raise InputError(
            f"{where} is not valid JSON: {malformed(err)}", "fetch it again with ffkpi fetch"
        ) from None


class StreamedRead:
    """A read in JSON lines: its header, its catalog, and its subscriptions' lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first = 0  # the line number of the first subscription
        self.listed_to = 0  # the line number of the catalog's last line

    def dataset(self, *, history: bool | None) -> Dataset:
        """The read as a Dataset: its subscriptions read again from the file each time
        they are gone through, alone or each with its metered items' newest lines
        (Dataset.with_lines); with `history`, their billed history read again part by
        part when the rebuild asks (Dataset.billing). None: the history if the read
        holds one. No subscription's invoices or lines are held."""
        origin = str(self.path)
        count = 0
        seen = Fingerprints()
        catalog: dict[str, list[Any]] = {e.key: [] for e in CATALOG}
        listing = Listing()
        after = 0  # the lines after the subscriptions
        unheld: list[StripeInvoice] = []  # invoices there that name a subscription
        unheld_items: list[StripeInvoiceItem] = []
        resolver: Resolver | None = None
        with _lines(self.path) as lines, bulk_allocation():
            header, history = _header(next(lines, (0, b""))[1], origin, history)
            for number, line in lines:
                where = f"{origin}, line {number}"
                entry = _decode(line, _First, where)
                sub: _Id | None = entry.subscription
                owns = entry.invoices or entry.invoice_items
                if sub is None and not (count or after or owns):
                    for endpoint in CATALOG:
                        if endpoint is not CUSTOMERS:  # whose ids and names are not held
                            catalog[endpoint.key] += getattr(entry, endpoint.key) or ()
                    listing.add(entry.customers or ())
                    self.listed_to = number
                    continue
                if sub is None:
                    after += 1
                    if history:
                        _unheld(where, entry, unheld, unheld_items)
                    continue
                if after or not line.startswith(SUBSCRIPTION_LINE):
                    raise InputError(
                        f"{where}: subscription {sub.id} out of place",
                        "fetch the read again with ffkpi fetch",
                    )
                if resolver is None:
                    resolver = _resolver(catalog)
                    self.first = number
                seen.add(sub.id)
                count += 1
        if count != header.subscriptions:
            raise InputError(
                f"{origin} holds {count:,} of its {header.subscriptions:,} "
                "subscriptions: it was cut short",
                "fetch it again with ffkpi fetch",
            )
        twice = seen.repeated()
        if twice:
            for sub_id, numbers in self._lines_of(twice, count).items():
                if len(numbers) > 1:
                    raise InputError(
                        f"{origin}, line {numbers[1]}: subscription {sub_id} there twice "
                        f"(first on line {numbers[0]})",
                        "fetch the read again with ffkpi fetch",
                    )
        resolver = resolver or _resolver(catalog)
        data = Dataset(
            subscriptions=_Subscriptions(self, resolver, count),
            product_names=resolver.product_names,
            read_at=header.fetched_at,
            customer_names=listing.names(self._listed),
            with_lines=lambda: self._with_lines(resolver, count),
        )
        if not history:
            return data
        biller = Biller(resolver)
        by_subscription: dict[str, list[BilledInvoice]] = {}
        for invoice in [*filter(None, map(biller.invoice, unheld)), *biller.pending(unheld_items)]:
            by_subscription.setdefault(invoice.subscription, []).append(invoice)
        maybe = [sub_id for sub_id in by_subscription if seen.may_hold(sub_id)]
        held = self._lines_of(fingerprints(maybe), count) if maybe else {}
        for sub_id, owned in by_subscription.items():
            if sub_id in held:
                raise InputError(
                    f"{origin}: invoices of subscription {sub_id} outside its line",
                    "fetch the read again with ffkpi fetch",
                )
            refuse_unheld(sub_id, owned, header.fetched_at)
        return dataclasses.replace(
            data,
            history_from=header.history_from,
            billing=lambda part: self._billing(resolver, part),
        )

    def _subscription_lines(self, part: range) -> Iterator[tuple[str, bytes]]:
        """The lines of the subscriptions at `part`'s positions, read again, in order,
        each with where it is; a file whose lines moved since the first pass is refused."""
        if not part:
            return
        first, stop = self.first + part.start, self.first + part.stop
        with _lines(self.path) as lines:
            for number, line in lines:
                if number < first:
                    continue
                if number >= stop or not line.startswith(SUBSCRIPTION_LINE):
                    break
                yield f"{self.path}, line {number}", line
                if number == stop - 1:
                    return
        raise _changed(self.path)

    def _listed(self) -> Iterator[list[StripeCustomer]]:
        """The customers the catalog lists, its lines read again, a line's at a time."""
        with _lines(self.path) as lines:
            for number, line in lines:
                if number > self.listed_to:
                    return
                if number > 1:
                    entry = _decode(line, _Listed, f"{self.path}, line {number}")
                    yield entry.customers or []

    def _lines_of(self, prints: set[int], count: int) -> dict[str, list[int]]:
        """The line numbers of each subscription whose id has one of `prints`, read
        again: what a fingerprint only suggested, confirmed on the ids."""
        found: dict[str, list[int]] = {}
        for number, (where, line) in enumerate(self._subscription_lines(range(count))):
            sub_id = _decode(line, _IdOnly, where).subscription.id
            if fingerprint(sub_id) in prints:
                found.setdefault(sub_id, []).append(self.first + number)
        return found

    def _with_lines(
        self, resolver: Resolver, count: int
    ) -> Iterator[tuple[Subscription, tuple[InvoiceLine, ...]]]:
        """Each subscription with its metered items' newest lines, from its own line:
        today's MRR counted one subscription at a time, no other's lines held."""
        for where, line in self._subscription_lines(range(count)):
            entry: _Metering = _decode(line, _Metering, where)
            sub = resolver.subscription(entry.subscription)
            lines: tuple[InvoiceLine, ...] = ()
            if entry.invoices and _bills_metered(sub):
                owned = _decode(entry.invoices, list[StripeInvoice], where)
                lines = tuple(newest_lines(invoice_lines(owned)))
            yield sub, lines

    def _billing(self, resolver: Resolver, part: range) -> Iterator[Billed]:
        """The billed history of the subscriptions at `part`'s positions, in order."""
        for where, line in self._subscription_lines(part):
            owned: _Owned = _decode(line, _Owned, where)
            biller = Biller(resolver)
            with bulk_allocation():
                sub = resolver.subscription(owned.subscription)
                invoices = owned.invoices or []
                refuse_repeats(INVOICES.kind, invoices)
                for invoice in invoices:
                    refuse_repeats(f"invoice {invoice.id}: line", invoice.lines.data)
                billed = [b for i in invoices if (b := biller.invoice(i)) is not None]
                billed += biller.pending(owned.invoice_items or ())
                metered = (
                    tuple(newest_lines(invoice_lines(invoices))) if _bills_metered(sub) else ()
                )
            yield Billed(sub, lifetime(owned.subscription), tuple(billed), biller.unknown, metered)


class _Subscriptions(Collection[Subscription]):
    """A streamed read's subscriptions, read again from its file each time they are gone
    through, one at a time: a command counting them never holds them all."""

    def __init__(self, read: StreamedRead, resolver: Resolver, count: int) -> None:
        self.read, self.resolver, self.count = read, resolver, count

    def __len__(self) -> int:
        return self.count

    def __contains__(self, wanted: object) -> bool:
        return any(sub == wanted for sub in self)

    def __iter__(self) -> Iterator[Subscription]:
        for where, line in self.read._subscription_lines(range(self.count)):
            counted: _Counted = _decode(line, _Counted, where)
            yield self.resolver.subscription(counted.subscription)


def _bills_metered(sub: Subscription) -> bool:
    return any(item.price.metered for item in sub.items)


def _changed(path: Path) -> InputError:
    return InputError(
        f"{path} changed while it was read: its subscriptions' lines are not where they were",
        "run the command again, and leave the file alone while it runs",
    )


def _header(line: bytes, origin: str, history: bool | None) -> tuple[Header, bool]:
    """The read's header, and whether its billed history is read (`history`; None: if
    it holds one), refused if asked for and not held."""
    header: Header = _decode(line, Header, f"{origin}, line 1")
    if header.object != MAGIC or header.version != VERSION:
        raise InputError(
            f"{origin}: a read of version {header.version}, which this ffkpi cannot read",
            "upgrade ffkpi, or fetch the read again with this one",
        )
    if history is None:
        history = INVOICE_ITEMS.key in header.lists or (
            INVOICES.key in header.lists and header.history_from is not None
        )
    if history and not set(OWNED) <= set(header.lists):
        missing = " and ".join(f'no "{key}"' for key in OWNED if key not in header.lists)
        raise InputError(
            f"{origin}: it holds no billed history ({missing}), so past weeks cannot "
            "be rebuilt from it",
            "fetch it with ffkpi fetch --since YYYY-MM-DD, which saves them",
        )
    return header, history


def _resolver(catalog: dict[str, list[Any]]) -> Resolver:
    for endpoint in CATALOG:
        refuse_repeats(endpoint.kind, catalog[endpoint.key])
    return Resolver(catalog["prices"], catalog["coupons"], catalog["products"])


def _unheld(
    where: str, entry: Any, invoices: list[StripeInvoice], items: list[StripeInvoiceItem]
) -> None:
    """A line after the subscriptions: invoices of none held (one-off ones, let go, or
    made after the read began) and pending items; never the catalog."""
    if any(getattr(entry, endpoint.key) is not None for endpoint in CATALOG):
        raise InputError(
            f"{where}: a catalog line after the subscriptions",
            "fetch the read again with ffkpi fetch",
        )
    if entry.invoices:
        for invoice in _decode(entry.invoices, list[StripeInvoice], where):
            details = invoice.parent.subscription_details if invoice.parent else None
            if details is not None and details.subscription is not None:
                invoices.append(invoice)
    if entry.invoice_items:
        items += _decode(entry.invoice_items, list[StripeInvoiceItem], where)
