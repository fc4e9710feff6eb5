"""Invoices as a read takes them, each with all its lines: every invoice created since
an instant, in created windows; or each subscription's newest. And metered items'
newest invoices, read the cheaper of those two ways. Through the read's lister (one
pacer, one pool); the recorder, if any, keeps each answer as read.
"""

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

import msgspec

from ffkpi.engine.model import InvoiceLine, Price, Subscription
from ffkpi.stripe.bundle import Recorder
from ffkpi.stripe.http import Progress
from ffkpi.stripe.lists import INVOICES, invoice_lines_path
from ffkpi.stripe.paging import DAY, PAGE, Answer, Lister, Windows, parse, whole
from ffkpi.stripe.payloads import Page, StripeInvoice, StripeLine
from ffkpi.stripe.resolve import invoice_lines
from ffkpi.stripe.spread import Spread, SpreadWindows

WEEK = 7 * 86_400
PERIOD_DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}  # at their longest


class Invoices:
    """The invoices of one read."""

    def __init__(
        self, lister: Lister, recorder: Recorder | None, now: int, progress: Progress
    ) -> None:
        self.lister = lister
        self.recorder = recorder
        self.now = now
        self.progress = progress

    def listed(
        self,
        params: Mapping[str, Any],
        since: int,
        expected: float | None = None,
        spread: "Future[Spread | None] | None" = None,
    ) -> Iterator[StripeInvoice]:
        """Every invoice created since `since`, in created windows, once each, with all
        its lines: the lines of one that has more than a page embeds are asked for as
        soon as it comes back, alongside the windows. `expected`: how many there are, or
        `spread`: where they lie, as far as the caller can tell (or will)."""
        seen: set[str] = set()
        incomplete: dict[str, tuple[StripeInvoice, Future[list[Answer[StripeLine]]]]] = {}
        until = self.now + DAY
        plan = (
            Windows(since, until, self.lister.slots, expected)
            if spread is None
            else SpreadWindows(
                since, until, self.lister.slots, spread, lambda: self.lister.http.in_flight
            )
        )
        for answer in self.lister.windows(
            INVOICES.path, params, Page[StripeInvoice], "invoices", plan
        ):
            if self.recorder is not None:
                self.recorder.listed("invoices", [answer.body])
            for invoice in answer.page.data:
                if invoice.id in seen:
                    continue  # windows and retries can overlap: once each
                seen.add(invoice.id)
                if invoice.lines.has_more:
                    incomplete[invoice.id] = (invoice, self._lines_of(invoice.id))
                else:
                    yield invoice
        for invoice, future in incomplete.values():
            yield self._with_lines(invoice, future.result())

    def newest(self, subscription_ids: list[str]) -> Iterator[StripeInvoice]:
        """The newest invoices of each subscription, a request each (lines complete)."""
        http = self.lister.http

        def newest_invoices(subscription: str) -> bytes:
            return http.get(INVOICES.path, {"subscription": subscription, "limit": 10})

        self.progress.phase("invoices", len(subscription_ids))
        for body in self.lister.pool.map(newest_invoices, subscription_ids):
            self.progress.advance()
            page = parse(Page[StripeInvoice], body, "invoices")
            if self.recorder is not None:
                self.recorder.listed("invoices", [body])
            for invoice in page.data:
                if invoice.lines.has_more:
                    yield self._with_lines(invoice, self._lines_of(invoice.id).result())
                else:
                    yield invoice

    def metered_lines(
        self, domain: tuple[Subscription, ...], statuses: frozenset[str]
    ) -> list[InvoiceLine]:
        """The lines of the newest invoices of the subscriptions with metered items, read
        the cheaper way: every invoice of the last two of their longest periods (the
        newest may still be a draft) in created windows, a page per 100; or each such
        subscription's newest ten, a request each."""
        longest = max(
            (period_seconds(i.price) for sub in domain for i in sub.items if i.price.metered),
            default=0,
        )
        span = 2 * longest + WEEK
        metered, listed = _metered_costs(domain, statuses, span)
        if not metered:
            return []
        if listed / PAGE < len(metered):
            invoices = self.listed({}, self.now - span, listed)
        else:
            invoices = self.newest(metered)
        return [line for invoice in invoices for line in invoice_lines([invoice])]

    def _lines_of(self, invoice_id: str) -> "Future[list[Answer[StripeLine]]]":
        return self.lister.pool.submit(
            self.lister.all,
            invoice_lines_path(invoice_id),
            {"expand": ["data.discounts"]},
            Page[StripeLine],
            "invoice lines",
        )

    def _with_lines(
        self, invoice: StripeInvoice, answers: list[Answer[StripeLine]]
    ) -> StripeInvoice:
        """An invoice whose lines a page did not embed whole, with all of them."""
        if self.recorder is not None:
            self.recorder.completed("invoices", invoice.id, "lines", (a.body for a in answers))
        return msgspec.structs.replace(invoice, lines=whole(invoice.lines, answers))


def _metered_costs(
    subscriptions: Iterable[Subscription], statuses: frozenset[str], span: int
) -> tuple[list[str], float]:
    """The subscriptions counted with metered items (a request each, to read their newest
    invoices), and how many invoices their account sent in `span` (a page per 100 to
    list them): each subscription that bills sends at least one a period."""
    metered: list[str] = []
    listed = 0.0
    for sub in subscriptions:
        if not sub.items or sub.status in ("canceled", "incomplete_expired"):
            continue
        listed += span / period_seconds(sub.items[0].price)
        if sub.status in statuses and any(item.price.metered for item in sub.items):
            metered.append(sub.id)
    return metered, listed


def period_seconds(price: Price) -> int:
    """A price's billing period at its longest."""
    return PERIOD_DAYS[price.interval] * price.interval_count * 86_400
