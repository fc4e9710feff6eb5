"""The Stripe list endpoints ffkpi reads, one row each: where it is, what its objects
decode to, what it expands, the restricted key's permission it needs, and when a run
reads it. The reader (account), the recorder and the bundle (bundle), the file parser
(sources.files), the permission check (http), the key check (cli.connection) and the
fake Stripe of the tests all go through this table: a new list is a row, its payload
type and its conversion. Every path of the API ffkpi asks for is written here, and
only here.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from ffkpi.stripe.payloads import (
    Page,
    Payload,
    StripeCoupon,
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceItem,
    StripePrice,
    StripeProduct,
    StripeSubscription,
)

# When a run reads a list: "windows", in created windows alongside everything else;
# "side", whole, once, alongside the first subscription pages; "history", with the
# billed history (fetch --since, backfill); "names", for a bundle's customer names.
Reading = Literal["windows", "side", "history", "names"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    key: str  # the bundle's key for its objects
    kind: str  # one of its objects, in messages
    path: str
    payload: type[Payload]
    permission: str  # the restricted key's Read permission it needs
    read: Reading
    expand: tuple[str, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)
    # Whether every bundle holds the key: those read with the history only are there when
    # the bundle was fetched with --since (an empty list then is a history in which
    # nothing was billed; no key is no history).
    always: bool = True

    @property
    def page(self) -> type[Page[Any]]:
        """A page of its objects, as decoded."""
        return Page[self.payload]  # type: ignore[name-defined]  # a type known at run time

    def params(self) -> dict[str, Any]:
        """The query of its first page."""
        return {**self.filters, **({"expand": list(self.expand)} if self.expand else {})}


SUBSCRIPTIONS = Endpoint(
    "subscriptions",
    "subscription",
    "/v1/subscriptions",
    StripeSubscription,
    "Subscriptions",
    "windows",
    ("data.discounts.source.coupon", "data.items.data.discounts"),
)
PRICES = Endpoint("prices", "price", "/v1/prices", StripePrice, "Prices", "side", ("data.tiers",))
COUPONS = Endpoint(
    "coupons", "coupon", "/v1/coupons", StripeCoupon, "Coupons", "side", ("data.applies_to",)
)
PRODUCTS = Endpoint("products", "product", "/v1/products", StripeProduct, "Products", "side")
# An invoice's own discounts and its lines' (four levels with data.: Stripe's limit).
INVOICES = Endpoint(
    "invoices",
    "invoice",
    "/v1/invoices",
    StripeInvoice,
    "Invoices",
    "history",
    ("data.discounts", "data.lines.data.discounts"),
)
INVOICE_ITEMS = Endpoint(
    "invoice_items",
    "invoice item",
    "/v1/invoiceitems",
    StripeInvoiceItem,
    "Invoices",
    "history",
    filters={"pending": "true"},
    always=False,
)
CUSTOMERS = Endpoint(
    "customers", "customer", "/v1/customers", StripeCustomer, "Customers", "names", always=False
)

ENDPOINTS = (SUBSCRIPTIONS, PRICES, COUPONS, PRODUCTS, INVOICES, INVOICE_ITEMS, CUSTOMERS)
BY_KEY = {endpoint.key: endpoint for endpoint in ENDPOINTS}
SIDE = tuple(endpoint for endpoint in ENDPOINTS if endpoint.read == "side")

# The other paths ffkpi asks for: a subscription's items past the ones its list embeds,
# an invoice's lines past the ten its list embeds, and one object by its id.
SUBSCRIPTION_ITEMS = "/v1/subscription_items"
PERMISSIONS = {endpoint.path: endpoint.permission for endpoint in ENDPOINTS} | {
    SUBSCRIPTION_ITEMS: SUBSCRIPTIONS.permission  # read like its subscription
}
# The lists whose Read permission `ffkpi check` tests a key for: today's MRR, and the
# invoices it is rebuilt from (invoice items need the same permission).
CHECKED = (SUBSCRIPTIONS, PRICES, PRODUCTS, COUPONS, INVOICES)


def invoice_lines_path(invoice: str) -> str:
    """The path of an invoice's lines."""
    return f"{INVOICES.path}/{invoice}/lines"


def one_object(endpoint: Endpoint, object_id: str) -> str:
    """The path of one object of a list, by its id."""
    return f"{endpoint.path}/{object_id}"
