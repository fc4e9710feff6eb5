"""Reads in JSON lines written (the format sources/stream.py reads): what `ffkpi fetch`
and the weekly run write, part by part, so that no writer holds the file either."""

import json
from typing import BinaryIO

from ffkpi.sources.stream import CATALOG, CHUNK, MAGIC, OWNED, SUBSCRIPTION_LINE, VERSION
from ffkpi.stripe.bundle import Bundle, Json
from ffkpi.stripe.lists import ENDPOINTS


def owner(entry: Json) -> str | None:
    """The subscription an invoice or pending invoice item belongs to, if any."""
    details = (entry.get("parent") or {}).get("subscription_details") or {}
    found = details.get("subscription")
    return found if isinstance(found, str) else None


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Writer:
    """Writes a read in JSON lines to `out`, part by part, in the format's order: the
    header (first, as `lists` and the subscription count say), the catalog, each
    subscription's line, then the rest."""

    def __init__(
        self,
        out: BinaryIO,
        lists: list[str],
        subscriptions: int,
        fetched_at: int | None,
        history_from: int | None,
    ) -> None:
        self.out = out
        self.lists = lists
        header: dict[str, object] = {
            "object": MAGIC,  # first: STREAM_START
            "version": VERSION,
            "lists": lists,
            "subscriptions": subscriptions,
        }
        for name, moment in (("fetched_at", fetched_at), ("history_from", history_from)):
            if moment is not None:
                header[name] = int(moment)
        out.write(_dump(header) + b"\n")

    def objects(self, key: str, objects: list[Json]) -> None:
        """A catalog list, or what follows the subscriptions: a hundred objects a line."""
        for first in range(0, len(objects), CHUNK):
            self.out.write(_dump({key: objects[first : first + CHUNK]}) + b"\n")

    def subscription(self, text: str, owned: dict[str, list[Json]]) -> None:
        """One subscription (its JSON as Stripe sent it) with its invoices and pending
        items, under each of those lists the read holds."""
        self.out.write(SUBSCRIPTION_LINE + text.encode())
        for key in OWNED:
            if key in self.lists:
                self.out.write(f',"{key}":'.encode() + _dump(owned.get(key, [])))
        self.out.write(b"}\n")


def write_stream_to(out: BinaryIO, bundle: Bundle) -> None:
    """A bundle as a read in JSON lines, streamed to `out`."""
    lists = [e.key for e in ENDPOINTS if getattr(bundle, e.key) is not None]
    writer = Writer(out, lists, len(bundle.subscriptions), bundle.fetched_at, bundle.history_from)
    for endpoint in CATALOG:
        writer.objects(endpoint.key, list((getattr(bundle, endpoint.key) or {}).values()))
    owned: dict[str, dict[str, list[Json]]] = {}
    rest: dict[str, list[Json]] = {key: [] for key in OWNED}
    for key in OWNED:
        for entry in (getattr(bundle, key) or {}).values():
            sub_id = owner(entry)
            if sub_id in bundle.subscriptions:
                owned.setdefault(sub_id, {}).setdefault(key, []).append(entry)
            else:
                rest[key].append(entry)
    for sub_id, text in bundle.subscriptions.items():
        writer.subscription(text, owned.get(sub_id, {}))
    for key, entries in rest.items():
        writer.objects(key, entries)
