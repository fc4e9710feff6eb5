"""What `ffkpi fetch` saves: Stripe's JSON as a read returned it, kept by a Recorder."""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ffkpi.stripe.lists import BY_KEY

Json = dict[str, Any]


@dataclass
class Bundle:
    """Stripe's objects by id, in the order first read.

    Subscriptions are kept as compact JSON text: a third of the memory of dicts.
    """

    subscriptions: dict[str, str] = field(default_factory=dict)
    prices: dict[str, Json] = field(default_factory=dict)
    coupons: dict[str, Json] = field(default_factory=dict)
    products: dict[str, Json] = field(default_factory=dict)
    invoices: dict[str, Json] = field(default_factory=dict)
    # Pending invoice items: only in a bundle fetched with --since, which therefore says
    # it holds the billed history.
    invoice_items: dict[str, Json] | None = None
    customers: dict[str, Json] | None = None  # with --since: their names, for movements
    fetched_at: int | None = None  # when the read began (Unix seconds)
    history_from: int | None = None  # --since: the first instant its invoices rebuild


def _objects(body: bytes) -> list[Json]:
    """The objects of a list page."""
    data: list[Json] = json.loads(body)["data"]
    return data


class Recorder:
    """Keeps the JSON of what a read returns; the reader tells it what it read."""

    def __init__(self) -> None:
        self.bundle = Bundle()

    def subscriptions(self, body: bytes) -> None:
        for entry in _objects(body):
            self.bundle.subscriptions.setdefault(
                entry["id"], json.dumps(entry, separators=(",", ":"))
            )

    def listed(
        self, key: str, bodies: Iterable[bytes], keep: Callable[[Json], bool] | None = None
    ) -> None:
        """Objects of list pages, kept under the list's key (lists.ENDPOINTS); a list not
        in every bundle has its key from its first page on, even an empty one."""
        if not BY_KEY[key].always and getattr(self.bundle, key) is None:
            setattr(self.bundle, key, {})
        table: dict[str, Json] = getattr(self.bundle, key)
        for body in bodies:
            for entry in _objects(body):
                if keep is None or keep(entry):
                    table.setdefault(entry["id"], entry)

    def retrieved(self, kind: str, body: bytes) -> None:
        """One object, retrieved by id."""
        entry = json.loads(body)
        getattr(self.bundle, kind)[entry["id"]] = entry

    def completed(self, kind: str, object_id: str, key: str, bodies: Iterable[bytes]) -> None:
        """An embedded list (a subscription's items, an invoice's lines) with every page."""
        listed = {"data": [e for body in bodies for e in _objects(body)], "has_more": False}
        if kind == "subscriptions":
            entry = json.loads(self.bundle.subscriptions[object_id])
            entry[key] = {**entry[key], **listed}
            self.bundle.subscriptions[object_id] = json.dumps(entry, separators=(",", ":"))
        else:
            entry = getattr(self.bundle, kind)[object_id]
            entry[key] = {**entry[key], **listed}
