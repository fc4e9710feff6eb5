"""Two years of a subscription business as Stripe would have billed it, simulated.

Each subscription lives period by period from its start to `now`: a create invoice
(a $0 one for a trial), a cycle invoice at every renewal, prorations for changes made
mid-period (on the next invoice, or pending while the period runs), metered usage
billed in arrears, late and failed payments, pauses that void invoices,
cancellations at the period's end or at once, and customers who come back. What is
left at `now` is the subscription object Stripe returns today, every invoice with
all its lines, and the pending invoice items: the billed history `ffkpi fetch
--since` saves, in the shapes of API version 2026-10-28.endive.

With `unknowable` set, some changes leave no trace until the next invoice (made
with proration_behavior=none), as docs/history-rules.md says real accounts have.

Deterministic for a seed. Used by scripts/make_demo.py, benchmarks/history.py and
the tests.
"""

import calendar
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe_fixtures as sf

Json = dict[str, Any]
DAY = 86_400
HOUR = 3_600


def add_months(t: int, months: int) -> int:
    """Stripe's renewal: the same day of the month (clamped), the same time."""
    moment = datetime.fromtimestamp(t, UTC)
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return calendar.timegm(moment.replace(year=year, month=month, day=day).timetuple())


def charge(price: Json, currency: str, quantity: int) -> int:
    """What one period of `quantity` costs in minor units (per unit or tiered)."""
    if price["tiers_mode"] is None:
        unit = price["unit_amount"]
        if currency != price["currency"]:
            unit = price["currency_options"][currency]["unit_amount"]
        return int(unit * quantity)
    total, below = 0, 0
    for tier in price["tiers"]:
        top = tier["up_to"]
        if price["tiers_mode"] == "volume":
            if top is None or quantity <= top:
                return int(tier["flat_amount"] + tier["unit_amount"] * quantity)
            continue
        units = max(0, min(quantity, top if top is not None else quantity) - below)
        if units:
            total += tier["flat_amount"] + tier["unit_amount"] * units
        if top is None or quantity <= top:
            break
        below = top
    return int(total)


@dataclass
class Item:
    id: str
    price: Json  # with tiers, for tiered prices
    quantity: int | None  # None: metered
    discount: Json | None = None  # an item-level discount
    usage: int = 0  # metered usage in the running period
    trial: tuple[int, int] | None = None  # a trial of its own

    @property
    def metered(self) -> bool:
        return self.price["recurring"]["usage_type"] == "metered"


@dataclass
class Odds:
    """Chances, in percent, per period or per subscription."""

    trial: float = 30
    trial_lost: float = 12  # of trials: canceled at the trial's end
    trial_paused: float = 3  # of trials: paused at its end (no payment method)
    incomplete: float = 2  # the first payment fails: expired after 23 hours
    awaiting: float = 20  # of those created in the last 23 hours: still incomplete
    change: float = 7  # a seat count changes mid-period, with prorations
    busy: float = 0  # a period whose seat counts change 5 to 9 times: an invoice of 11+ lines
    add_on: float = 3
    add_on_trial: float = 25  # of add-ons: on a 14-day trial of their own first
    drop_add_on: float = 2
    upgrade: float = 2  # a monthly Starter moves to Team, with prorations
    cancel: float = 2.5  # per month of a period
    cancel_now: float = 15  # of cancellations: at once rather than at the period's end
    late: float = 4
    failed: float = 2.5
    unpaid: float = 30  # of failed payments: left unpaid rather than canceled
    pause: float = 1
    come_back: float = 20  # of churned customers
    unknowable: float = 0  # a change without prorations, seen only at the next invoice


@dataclass
class Plan:
    """How a new subscription starts: its items, currency, interval and coupons."""

    items: list[tuple[Json, int | None]]
    currency: str = "usd"
    coupon: Json | None = None  # a subscription-level coupon
    item_coupon: tuple[int, Json] | None = None  # (item position, coupon)
    upgrade_to: Json | None = None  # the price a Starter upgrade moves its base item to
    add_ons: list[Json] = field(default_factory=list)  # prices it may add mid-life
    item_trial_days: int = 0  # its add-ons start on a trial of their own


class Account:
    """The simulated account: call `start` for each subscription, then read the lists."""

    def __init__(self, now: int, seed: int = 1, odds: Odds | None = None) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self.odds = odds or Odds()
        self.subscriptions: list[Json] = []
        self.invoices: list[Json] = []
        self.invoice_items: list[Json] = []
        self.changes_unbilled = 0  # changes made without prorations
        self._serial = 0

    def chance(self, percent: float) -> bool:
        return self.rng.random() * 100 < percent

    def _id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_TdSim{self._serial:08d}"

    def start(self, customer: str, created: int, plan: Plan) -> None:
        """Simulate one subscription from `created` to now; a customer who churns may
        come back with another."""
        ended = _Life(self, customer, created, plan).run()
        while ended is not None and self.chance(self.odds.come_back):
            again = ended + self.rng.randint(20, 240) * DAY
            if again >= self.now:
                return
            ended = _Life(self, customer, again, plan).run()


def growing(rng: random.Random, since: int, until: int, doubling_days: float) -> int:
    """An instant in [since, until), sign-ups growing exponentially."""
    rate = math.log(2) / (doubling_days * DAY)
    span = until - since
    u = rng.random()
    return since + int(math.log1p(u * math.expm1(rate * span)) / rate)


class _Life:
    """One subscription, period by period."""

    def __init__(self, account: Account, customer: str, created: int, plan: Plan) -> None:
        self.account = account
        self.rng = account.rng
        self.odds = account.odds
        self.now = account.now
        self.customer = customer
        self.created = created
        self.plan = plan
        self.id = account._id("sub")
        self.currency = plan.currency
        self.items: list[Item] = []
        for position, (price, quantity) in enumerate(plan.items):
            item = Item(account._id("si"), price, quantity)
            if plan.item_trial_days and position > 0:
                item.trial = (created, created + plan.item_trial_days * DAY)
            if plan.item_coupon is not None and plan.item_coupon[0] == position:
                item.discount = self._discount(plan.item_coupon[1], created, item.id)
            self.items.append(item)
        self.discount = self._discount(plan.coupon, created) if plan.coupon else None
        self.discount_used = False  # a once coupon goes with its first invoice
        self.months = _months(plan.items[0][0])
        self.status = "active"
        self.canceled_at: int | None = None
        self.ended_at: int | None = None
        self.cancel_at: int | None = None
        self.trial: tuple[int, int] | None = None
        self.paused = False  # collection paused now
        # Lines not invoiced yet: item, price, quantity, amount, start, end, proration.
        self.pending: list[tuple[Item, Json, int, int, int, int, bool]] = []
        self.period = (created, created)

    def _discount(self, coupon: Json, start: int, item: str | None = None) -> Json:
        end = None
        if coupon["duration"] == "repeating":
            end = add_months(start, coupon["duration_in_months"])
        return sf.discount(
            self.account._id("di"),
            coupon,
            customer=self.customer,
            subscription=self.id,
            subscription_item=item,
            start=start,
            end=end,
        )

    # -- the life ---------------------------------------------------------------------

    def run(self) -> int | None:
        """Simulate to now; returns when the subscription ended, if it did."""
        odds, created = self.odds, self.created
        recent = created + 23 * HOUR > self.now  # its first payment may still come
        if self.account.chance(odds.awaiting if recent else odds.incomplete):
            # The first payment failed: incomplete for 23 hours, then expired.
            end = add_months(created, self.months)
            self.period = (created, end)
            if recent:
                self._invoice(created, "subscription_create", end, "open", paying=False)
                self.status = "incomplete"
            else:
                self._invoice(created, "subscription_create", end, "void", paying=False)
                self.status, self.ended_at = "incomplete_expired", created + 23 * HOUR
            return self._save()
        start = created
        if self.account.chance(odds.trial):
            trial_end = created + 14 * DAY
            self.trial = (created, trial_end)
            self._invoice(created, "subscription_create", trial_end, "paid", free=True)
            if trial_end > self.now:
                self.status = "trialing"
                self.period = (created, trial_end)
                return self._save()
            if self.account.chance(odds.trial_lost):
                self.canceled_at = self.ended_at = trial_end
                self.status = "canceled"
                self.period = (created, trial_end)
                return self._save()
            if self.account.chance(odds.trial_paused):
                self.status = "paused"
                self.period = (created, trial_end)
                return self._save()
            start = trial_end
        reason = "subscription_cycle" if self.trial else "subscription_create"
        while True:
            end = add_months(start, self.months)
            if not self._bill(start, end, reason):
                break
            reason = "subscription_cycle"
            self.period = (start, end)
            if self._during(start, end):
                break
            if end > self.now:
                break
            start = end
        return self._save()

    def _bill(self, start: int, end: int, reason: str) -> bool:
        """The invoice that opens [start, end); False when the subscription ends here."""
        odds = self.odds
        if self.canceled_at is not None and self.cancel_at == start:
            self.ended_at, self.status = start, "canceled"
            return False
        if self.paused:
            self.paused = not self.account.chance(50)  # resumes after one or two periods
        elif reason == "subscription_cycle" and self.account.chance(odds.pause):
            self.paused = True
        if self.paused:
            self._invoice(start, reason, end, "void")
            return True
        roll = self.rng.random() * 100
        if roll < odds.failed:
            uncollectible = start + 14 * DAY
            if uncollectible > self.now:
                self._invoice(start, reason, end, "open")
                self.status = "past_due"
                return True
            self._invoice(start, reason, end, "uncollectible", uncollectible=uncollectible)
            if self.account.chance(odds.unpaid):
                self.status = "unpaid"
                self.period = (start, end)
                return False  # no more invoices: Stripe leaves it unpaid
            self.canceled_at = self.ended_at = uncollectible
            self.status = "canceled"
            self.period = (start, end)
            return False
        if roll < odds.failed + odds.late:
            paid = start + self.rng.randint(2, 10) * DAY
            if paid > self.now:
                self._invoice(start, reason, end, "open")
                self.status = "past_due"
                return True
            self._invoice(start, reason, end, "paid", paid_at=paid)
        elif start + HOUR > self.now:
            self._invoice(start, reason, end, "draft")  # finalized an hour after renewal
        else:
            self._invoice(start, reason, end, "paid", paid_at=start + HOUR)
        self.status = "active"
        return True

    def _during(self, start: int, end: int) -> bool:
        """Changes within [start, end), up to now; True when the subscription ended."""
        odds, rng = self.odds, self.rng
        for item in self.items:
            if item.metered:
                item.usage = rng.randint(1, 25)
        events: list[tuple[int, str]] = []
        for kind, percent in (
            ("change", odds.change),
            ("add_on", odds.add_on),
            ("drop_add_on", odds.drop_add_on),
            ("upgrade", odds.upgrade),
            ("unknowable", odds.unknowable),
            ("cancel", odds.cancel * self.months),
        ):
            if self.account.chance(percent):
                events.append((rng.randint(start + HOUR, end - HOUR), kind))
        if odds.busy and self._seats() and self.account.chance(odds.busy):
            for _ in range(rng.randint(5, 9)):
                events.append((rng.randint(start + HOUR, end - HOUR), "change"))
        for moment, kind in sorted(events):
            if moment >= self.now:
                break
            if kind == "cancel":
                if self.canceled_at is not None:
                    continue
                self.canceled_at = moment
                if self.account.chance(odds.cancel_now):
                    self.ended_at, self.status = moment, "canceled"
                    return True
                self.cancel_at = end
            elif self.canceled_at is None and self.status == "active":
                getattr(self, f"_{kind}")(moment, start, end)
        return False

    def _seats(self) -> list[Item]:
        """Add-ons billed per unit: what customers change the quantity of."""
        return [i for i in self.items[1:] if i.quantity and i.price["tiers_mode"] is None]

    def _change(self, moment: int, start: int, end: int) -> None:
        seats = self._seats()
        if not seats:
            return
        item = self.rng.choice(seats)
        assert item.quantity is not None
        quantity = max(1, item.quantity + self.rng.choice([-2, -1, 1, 1, 2, 3]))
        if quantity != item.quantity:
            self._prorate(item, moment, start, end, item.price, quantity)

    def _unknowable(self, moment: int, start: int, end: int) -> None:
        seats = self._seats()
        if seats:
            item = self.rng.choice(seats)
            assert item.quantity is not None
            item.quantity += 1  # proration_behavior=none: nothing billed until renewal
            self.account.changes_unbilled += 1

    def _add_on(self, moment: int, start: int, end: int) -> None:
        held = {i.price["id"] for i in self.items}
        choices = [p for p in self.plan.add_ons if p["id"] not in held]
        if not choices:
            return
        item = Item(self.account._id("si"), self.rng.choice(choices), None)
        self.items.append(item)
        quantity = self.rng.randint(1, 3)
        trial_end = moment + 14 * DAY
        if self.account.chance(self.odds.add_on_trial) and trial_end < end:
            # A trial of its own: billed $0 until it ends, then prorated to the period's end.
            item.trial = (moment, trial_end)
            self.pending.append((item, item.price, quantity, 0, moment, trial_end, False))
            self._prorate(item, trial_end, start, end, item.price, quantity)
        else:
            self._prorate(item, moment, start, end, item.price, quantity)

    def _drop_add_on(self, moment: int, start: int, end: int) -> None:
        add_ons = [i for i in self.items[1:] if not i.metered]
        if add_ons:
            item = self.rng.choice(add_ons)
            self._prorate(item, moment, start, end, None, 0)
            self.items.remove(item)

    def _upgrade(self, moment: int, start: int, end: int) -> None:
        base = self.items[0]
        target = self.plan.upgrade_to
        if target is not None and base.price["id"] != target["id"]:
            self._prorate(base, moment, start, end, target, base.quantity or 1)

    def _prorate(
        self, item: Item, moment: int, start: int, end: int, price: Json | None, quantity: int
    ) -> None:
        """A change at `moment` with prorations: a credit for what the item was (if it
        was anything), a debit for what it becomes (if anything), over [moment, end)."""
        share = (end - moment) / (end - start)
        if item.quantity:
            old = charge(item.price, self.currency, item.quantity)
            credit = -round(old * share)
            self.pending.append((item, item.price, item.quantity, credit, moment, end, True))
        if price is not None:
            new = charge(price, self.currency, quantity)
            self.pending.append((item, price, quantity, round(new * share), moment, end, True))
            item.price, item.quantity = price, quantity

    # -- what Stripe keeps ------------------------------------------------------------

    def _invoice(
        self,
        start: int,
        reason: str,
        end: int,
        status: str,
        *,
        free: bool = False,
        paying: bool = True,
        paid_at: int | None = None,
        uncollectible: int | None = None,
    ) -> None:
        invoice_id = self.account._id("in")
        lines: list[Json] = []
        for item, price, quantity, amount, moment, until, proration in self.pending:
            period = (moment, until)
            lines.append(self._line(invoice_id, item, price, quantity, amount, period, proration))
        self.pending.clear()
        previous = self.period
        for item in self.items:
            if item.metered:
                if previous[1] == start and previous[0] < start and reason == "subscription_cycle":
                    usage = item.usage
                    amount = charge(item.price, self.currency, usage)
                    lines.append(self._line(invoice_id, item, item.price, usage, amount, previous))
                continue
            assert item.quantity is not None
            amount = 0 if free else charge(item.price, self.currency, item.quantity)
            if item.trial and item.trial[0] == start and reason == "subscription_create":
                # An add-on on a trial of its own from the start: $0 until the trial
                # ends, then prorated to the period's end on the next invoice.
                trial = (start, item.trial[1])
                lines.append(self._line(invoice_id, item, item.price, item.quantity, 0, trial))
                share = (end - trial[1]) / (end - start)
                debit = (
                    item,
                    item.price,
                    item.quantity,
                    round(amount * share),
                    trial[1],
                    end,
                    True,
                )
                self.pending.append(debit)
                continue
            lines.append(
                self._line(invoice_id, item, item.price, item.quantity, amount, (start, end))
            )
        discounts: list[Json | str] = []
        if self.discount is not None and not free and paying:
            ends = self.discount["end"]
            once = self.discount["source"]["coupon"]["duration"] == "once"
            if (ends is None or start < ends) and not (once and self.discount_used):
                discounts.append(_by_coupon_id(self.discount))
                self.discount_used = True
        invoice = sf.invoice(
            invoice_id,
            customer=self.customer,
            subscription_id=self.id,
            status=status,
            currency=self.currency,
            lines=lines,
            created=start,
            billing_reason=reason,
            discounts=discounts,
            paid_at=paid_at if status == "paid" else None,
            marked_uncollectible_at=uncollectible,
            voided_at=start + HOUR if status == "void" else None,
        )
        self.account.invoices.append(invoice)

    def _line(
        self,
        invoice_id: str,
        item: Item,
        price: Json,
        quantity: int,
        amount: int,
        period: tuple[int, int],
        proration: bool = False,
    ) -> Json:
        discounts: list[Json | str] = []
        if item.discount is not None and not proration:
            discounts.append(_by_coupon_id(item.discount))
        return sf.invoice_line(
            self.account._id("il"),
            invoice_id,
            amount=amount,
            currency=self.currency,
            subscription_id=self.id,
            subscription_item_id=item.id,
            price_id=price["id"],
            product_id=price["product"],
            quantity=quantity,
            period=period,
            proration=proration,
            discounts=discounts,
        )

    def _save(self) -> int | None:
        """The subscription as Stripe returns it now, and its pending invoice items."""
        for item, price, quantity, amount, moment, until, proration in self.pending:
            self.account.invoice_items.append(
                sf.invoice_item(
                    self.account._id("ii"),
                    amount=amount,
                    currency=self.currency,
                    customer=self.customer,
                    subscription_id=self.id,
                    subscription_item_id=item.id,
                    price_id=price["id"],
                    product_id=price["product"],
                    quantity=quantity,
                    period=(moment, until),
                    proration=proration,
                )
            )
        start, end = self.period
        items = [
            sf.subscription_item(
                item.id,
                self.id,
                {k: v for k, v in item.price.items() if k != "tiers"},
                quantity=item.quantity,
                period_start=start,
                period_end=end,
                discounts=[item.discount] if item.discount else [],
                trial=item.trial if item.trial and item.trial[1] > self.now else None,
                created=self.created,
            )
            for item in self.items
        ]
        discounts = []
        if self.discount is not None:
            ends = self.discount["end"]
            once = self.discount["source"]["coupon"]["duration"] == "once"
            if (ends is None or ends > self.now) and not (once and self.discount_used):
                discounts.append(self.discount)
        body = sf.subscription(
            self.id,
            self.customer,
            items,
            status=self.status,
            currency=self.currency,
            created=self.created,
            discounts=discounts,
            cancel_at_period_end=self.cancel_at is not None and self.ended_at is None,
            cancel_at=self.cancel_at if self.ended_at is None else None,
            pause_collection={"behavior": "void", "resumes_at": None} if self.paused else None,
            trial_end=self.trial[1] if self.trial else None,
        )
        body["canceled_at"] = self.canceled_at
        body["ended_at"] = self.ended_at
        if self.ended_at is not None:
            body["status"] = "canceled" if self.status != "incomplete_expired" else self.status
        self.account.subscriptions.append(body)
        return self.ended_at


def _by_coupon_id(discount: Json) -> Json:
    """A discount as an invoice expands it: its coupon is an id (expansion stops at four
    levels)."""
    return {
        **discount,
        "source": {**discount["source"], "coupon": discount["source"]["coupon"]["id"]},
    }


def _months(price: Json) -> int:
    recurring = price["recurring"]
    return recurring["interval_count"] * (12 if recurring["interval"] == "year" else 1)
