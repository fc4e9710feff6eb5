"""What a run reads from one Stripe account, as domain values.

Every subscription, in `created` windows read several at once; the side data the MRR
rules need (tiered prices, coupons, product names) alongside the first pages; then the
items of subscriptions with more than a list page embeds and, for metered items, their
newest invoices (stripe/invoices.py), or the billed history. All of it through one
StripeHttp: one pacer, one cap on requests.
"""

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import msgspec

from ffkpi.engine.model import (
    BilledInvoice,
    Dataset,
    HeldNames,
    InvoiceLine,
    Lifetime,
    Subscription,
)
from ffkpi.errors import MissingPermissionError
from ffkpi.stripe.billed import Billed, Biller, lifetime
from ffkpi.stripe.bundle import Recorder
from ffkpi.stripe.http import Counters, Progress, StripeHttp
from ffkpi.stripe.invoices import PERIOD_DAYS, WEEK, Invoices
from ffkpi.stripe.lists import (
    COUPONS,
    CUSTOMERS,
    INVOICE_ITEMS,
    INVOICES,
    PRICES,
    SIDE,
    SUBSCRIPTION_ITEMS,
    SUBSCRIPTIONS,
    Endpoint,
    one_object,
)
from ffkpi.stripe.paging import DAY, EARLIEST, Answer, Lister, Windows, objects, parse, whole
from ffkpi.stripe.payloads import (
    Page,
    StripeCoupon,
    StripeItem,
    StripePrice,
    StripeSubscription,
)
from ffkpi.stripe.resolve import Resolver, bulk_allocation, invoice_lines
from ffkpi.stripe.spread import Spread

# A read's billed history: invoices and pending items, discounts left out, and the lines
# of subscription items (for metered items' newest invoices).
_History = tuple[tuple[BilledInvoice, ...], int, list[InvoiceLine]]

DEFAULT_CONCURRENCY = 12


class AccountReader:
    """Reads every subscription and the side data the MRR rules need, from one account."""

    def __init__(
        self,
        http: StripeHttp,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        now: int | None = None,
        on_progress: Callable[[Counters], None] | None = None,
    ) -> None:
        self.http = http
        self.concurrency = concurrency
        self.now = now if now is not None else int(time.time())
        self.on_progress = on_progress or (lambda counters: None)

    def read(
        self,
        *,
        invoices_for: frozenset[str] | None,
        canceled: bool = False,
        recorder: Recorder | None = None,
        history_from: int | None = None,
        names: bool = False,
    ) -> Dataset:
        """`invoices_for`: statuses of subscriptions whose metered items need invoices;
        `canceled`: read canceled subscriptions too; `recorder`: keeps Stripe's JSON;
        `history_from`: the first instant past weeks will be rebuilt from, for which the
        recorder keeps every invoice, pending invoice item and price needed; `names`:
        customers' names as well (for the movers a review names)."""
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ffkpi")
        try:
            lister = Lister(self.http, pool, self.concurrency)
            run = _Read(self, lister, recorder, history_from, names)
            dataset = run.read(invoices_for, canceled)
        except BaseException:
            self.http.cancelled.set()  # requests in flight or backing off stop now
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return dataset


class _Read:
    """One read: the reader's settings, the lister, and what is being kept."""

    def __init__(
        self,
        reader: AccountReader,
        lister: Lister,
        recorder: Recorder | None,
        history_from: int | None = None,
        names: bool = False,
    ) -> None:
        self.history_from = history_from
        self.names = names
        self.longest_interval = 0  # seconds: the longest billing period of any price
        self.reader = reader
        self.lister = lister
        self.pool = lister.pool
        self.http = reader.http
        self.recorder = recorder
        self.progress = Progress(self.http.counters, reader.on_progress)
        self.invoices = Invoices(lister, recorder, reader.now, self.progress)
        # Where the invoices lie, once every subscription is read (or None: not all are).
        self.spread: Future[Spread | None] = Future()

    def read(self, invoices_for: frozenset[str] | None, canceled: bool) -> Dataset:
        if self.recorder is not None:
            self.recorder.bundle.fetched_at = self.reader.now
            self.recorder.bundle.history_from = self.history_from
        # Side data is read alongside the first subscription pages, not before them: the
        # subscriptions' windows are the longest chains of requests, so they go first.
        pages = self._subscription_pages(canceled)
        lists = {endpoint.key: self._list(endpoint) for endpoint in SIDE}
        names = None
        if self.names or (self.recorder is not None and self.history_from is not None):
            # Their names, for `ffkpi movements` on the bundle or the movers a review
            # names: read once, waited for only at the end (the rules need none of them).
            names = self._list(CUSTOMERS)
        resolver: Resolver | None = None
        history: Future[_History] | None = None
        subscriptions: dict[str, Subscription] = {}
        lifetimes: dict[str, Lifetime] = {}
        partial: dict[str, StripeSubscription] = {}  # more items than a page embeds
        counters = self.progress.counters
        spread: Spread | None = None
        with bulk_allocation():
            for answer in pages:
                if resolver is None:
                    resolver = self._side_data(lists)
                    history = self._start_history(resolver)
                    if history is not None and canceled:
                        spread = Spread(self._since(), self.reader.now + DAY)
                if self.recorder is not None:
                    self.recorder.subscriptions(answer.body)
                fresh = []
                for sub in answer.page.data:
                    if sub.id in subscriptions or sub.id in partial:
                        continue  # windows and retries can overlap: once each
                    if spread is not None:
                        spread.subscription(sub)
                    lifetimes[sub.id] = lifetime(sub)
                    if sub.items.has_more:
                        partial[sub.id] = sub
                    else:
                        fresh.append(sub)
                self._side_data_by_id(fresh, resolver)
                for sub in fresh:
                    subscriptions[sub.id] = resolver.subscription(sub)
                counters.subscriptions = len(subscriptions) + len(partial)
                self.progress.show(counters)
            if resolver is None:
                resolver = self._side_data(lists)
                history = self._start_history(resolver)
            self.spread.set_result(spread.done() if spread is not None else None)
            completed = self._complete_items(partial)
            self._side_data_by_id(completed, resolver)
            for sub in completed:
                subscriptions[sub.id] = resolver.subscription(sub)
        domain = tuple(subscriptions.values())
        billed = None
        lines: list[InvoiceLine] = []
        if history is not None:
            invoices, unknown, lines = history.result()  # the newest invoices are among them
            billed = Billed(lifetimes, invoices, unknown)
        elif invoices_for is not None:
            lines = self.invoices.metered_lines(domain, invoices_for)
        customer_names: dict[str, str] = {}
        if names is not None:
            # Names are a courtesy: without the permission, customers are shown by id.
            with contextlib.suppress(MissingPermissionError):
                answers = names.result()
                customer_names = {c.id: c.name for c in objects(answers) if c.name}
                if self.recorder is not None:
                    self.recorder.listed(CUSTOMERS.key, (a.body for a in answers))
        data = Dataset(
            domain,
            product_names=resolver.product_names,
            invoice_lines=tuple(lines),
            customer_names=HeldNames(customer_names),
            read_at=self.reader.now,
        )
        if billed is None:
            return data
        return dataclasses.replace(
            data,
            lifetimes=billed.lifetimes,
            invoices=billed.invoices,
            unknown_discounts=billed.unknown_discounts,
            history_from=self.history_from,
        )

    def _list(self, endpoint: Endpoint) -> "Future[list[Answer[Any]]]":
        """Every page of a list, read on the pool while the subscriptions are."""
        what = f"{endpoint.kind}s"
        return self.pool.submit(
            self.lister.all, endpoint.path, endpoint.params(), endpoint.page, what
        )

    def _subscription_pages(self, canceled: bool) -> Iterator[Answer[StripeSubscription]]:
        params = SUBSCRIPTIONS.params()
        if canceled:
            params["status"] = "all"  # Stripe's default lists every status but canceled
        plan = Windows(EARLIEST, self.reader.now + DAY, self.lister.slots)
        return self.lister.windows(
            SUBSCRIPTIONS.path, params, Page[StripeSubscription], "subscriptions", plan
        )

    def _side_data(self, lists: dict[str, "Future[list[Answer[Any]]]"]) -> Resolver:
        answers = {name: future.result() for name, future in lists.items()}
        prices: list[StripePrice] = objects(answers["prices"])
        tiered = {p.id for p in prices if p.billing_scheme == "tiered"}
        self.longest_interval = max(map(_period_seconds, prices), default=0)
        if self.recorder is not None:
            # Past invoices name prices no subscription embeds any more: keep them all.
            every = self.history_from is not None
            for key, pages in answers.items():
                keep = (lambda p: every or p["id"] in tiered) if key == PRICES.key else None
                self.recorder.listed(key, [a.body for a in pages], keep)
        every = self.history_from is not None  # past invoices name prices of any kind
        return Resolver(
            [p for p in prices if every or p.id in tiered],
            objects(answers["coupons"]),
            objects(answers["products"]),
        )

    def _start_history(self, resolver: Resolver) -> "Future[_History] | None":
        """The billed history, read alongside the subscriptions (on a thread of its own,
        its requests on the shared pool and pacer): a subscription list whose creation
        times come in bursts is read a window at a time, and the invoices fill the
        rate limit meanwhile."""
        if self.history_from is None:
            return None
        runner = ThreadPoolExecutor(1, thread_name_prefix="ffkpi-history")
        future = runner.submit(self._billed_history, resolver)
        runner.shutdown(wait=False)
        return future

    def _billed_history(self, resolver: Resolver) -> "_History":
        """Every invoice since `history_from` less the longest billing period and a week
        (an annual line covering the first week is there), with all its lines, and the
        pending invoice items (history-rules.md, "What is read"); the discounts left out;
        and the lines of subscription items, for metered items' newest invoices."""
        since = self._since()
        self.progress.phase("history", 0)
        pending = self._list(INVOICE_ITEMS)
        biller = Biller(resolver)
        invoices: list[BilledInvoice] = []
        lines: list[InvoiceLine] = []
        with bulk_allocation():
            for invoice in self.invoices.listed(INVOICES.params(), since, spread=self.spread):
                billed = biller.invoice(invoice)
                if billed is not None:
                    invoices.append(billed)
                lines += invoice_lines([invoice])
                self.progress.advance()
        items = pending.result()
        if self.recorder is not None:
            self.recorder.listed("invoice_items", (a.body for a in items))
        invoices += biller.pending(objects(items))
        return tuple(invoices), biller.unknown, lines

    def _since(self) -> int:
        """The first instant the billed history is read from."""
        assert self.history_from is not None
        return self.history_from - self.longest_interval - WEEK

    def _complete_items(self, partial: dict[str, StripeSubscription]) -> list[StripeSubscription]:
        """Subscriptions with more items than a list page embeds, with all of them."""
        params = {"expand": ["data.discounts"]}
        ids = list(partial)
        completed = []
        self.progress.phase("items", len(ids))
        pages = self.pool.map(
            lambda s: self.lister.all(
                SUBSCRIPTION_ITEMS,
                {**params, "subscription": s},
                Page[StripeItem],
                "subscription items",
            ),
            ids,
        )
        for sub_id, answers in zip(ids, pages, strict=True):
            sub = partial[sub_id]
            completed.append(msgspec.structs.replace(sub, items=whole(sub.items, answers)))
            self.progress.advance()
            if self.recorder is not None:
                self.recorder.completed("subscriptions", sub_id, "items", (a.body for a in answers))
        return completed

    def _side_data_by_id(
        self, subscriptions: Iterable[StripeSubscription], resolver: Resolver
    ) -> None:
        """Tiered prices and coupons the account lists did not hold, fetched once each."""
        prices: set[str] = set()
        coupons: set[str] = set()
        for sub in subscriptions:
            discounts = list(sub.discounts)
            for item in sub.items.data:
                if item.price.billing_scheme == "tiered":
                    prices.add(item.price.id)
                discounts += item.discounts
            for discount in discounts:
                if not isinstance(discount, str) and isinstance(discount.source.coupon, str):
                    coupons.add(discount.source.coupon)
        for body in self._by_id(PRICES, prices - resolver.full_prices.keys(), "tiers"):
            price = parse(StripePrice, body, "price")
            resolver.full_prices[price.id] = price
            if self.recorder is not None:
                self.recorder.retrieved("prices", body)
        for body in self._by_id(COUPONS, coupons - resolver.full_coupons.keys(), "applies_to"):
            coupon = parse(StripeCoupon, body, "coupon")
            resolver.full_coupons[coupon.id] = coupon
            if self.recorder is not None:
                self.recorder.retrieved("coupons", body)

    def _by_id(self, endpoint: Endpoint, ids: set[str], expand: str) -> Iterator[bytes]:
        return self.pool.map(
            lambda one: self.http.get(one_object(endpoint, one), {"expand": [expand]}), sorted(ids)
        )


def _period_seconds(price: StripePrice) -> int:
    recurring = price.recurring
    if recurring is None:
        return 0
    return PERIOD_DAYS[recurring.interval] * recurring.interval_count * 86_400
