"""Today's MRR rebuilt from invoices against today's MRR as Stripe states it
(history-rules.md, "Checks that must always hold").

Rebuilding the instant of a read must give the report of that read, to the cent, when
nothing invoices cannot show has happened. When something has, the difference is
told subscription by subscription, each with its cause.

Pure: no I/O, no clock.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ffkpi.config import Config
from ffkpi.engine.calendar import end_of_day
from ffkpi.engine.exact import EXACT, exact_sum
from ffkpi.engine.model import Dataset, Subscription
from ffkpi.engine.mrr import Counted, Rules
from ffkpi.engine.pricing import ZERO, latest_metered
from ffkpi.history.timeline import Timeline, Timelines, instant_of, metered_lines


@dataclass(frozen=True, slots=True)
class Cause:
    """Subscriptions whose rebuilt MRR differs from Stripe's for one reason."""

    what: str  # "changed since their last invoice without prorations"
    subscriptions: int
    difference: Decimal  # rebuilt - live, in the reporting currency


@dataclass(frozen=True, slots=True)
class Reconciliation:
    as_of: date
    currency: str
    live: Decimal  # the MRR of the read
    rebuilt: Decimal  # the same instant rebuilt from invoices
    causes: tuple[Cause, ...]  # largest difference first; empty when they agree

    @property
    def difference(self) -> Decimal:
        return EXACT.subtract(self.rebuilt, self.live)


def _in_tiers(counted: Counted | None) -> Decimal:
    return exact_sum(mrr for _, mrr in counted.tiers) if counted is not None else ZERO


def _licensed(sub: Subscription) -> set[tuple[str, str, int]]:
    return {(i.id, i.price.id, i.quantity) for i in sub.items if not i.price.metered}


def _coupons(sub: Subscription) -> set[str]:
    return {d.coupon.id for d in sub.discounts} | {
        d.coupon.id for i in sub.items for d in i.discounts
    }


# Why a subscription as Stripe states it differs from its invoices, first match wins.
CAUSES: tuple[tuple[str, Callable[[Subscription, Subscription], bool]], ...] = (
    (
        "had a cancellation requested or revoked since their last invoice",
        lambda live, then: (
            (live.cancel_at_period_end or live.cancel_at is not None) != then.cancel_at_period_end
        ),
    ),
    (
        "had collection paused or resumed since their last invoice",
        lambda live, then: live.pause_collection != then.pause_collection,
    ),
    (
        "changed status since their last invoice",
        lambda live, then: live.status != then.status,
    ),
    (
        "changed since their last invoice without prorations",
        lambda live, then: _licensed(live) != _licensed(then),
    ),
    (
        "had a discount attached or removed since their last invoice",
        lambda live, then: _coupons(live) != _coupons(then),
    ),
    (
        "started or ended a trial of an item since their last invoice",
        lambda live, then: {i.trial_end for i in live.items} != {i.trial_end for i in then.items},
    ),
)
NO_INVOICE = "have no invoice in the data"
OTHER = "differ in metered usage or in what a coupon no longer known did"


def _cause(live: Subscription, timeline: Timeline | None, then: Subscription | None) -> str:
    if timeline is None or not timeline.invoices or then is None:
        return NO_INVOICE
    for what, differs in CAUSES:
        if differs(live, then):
            return what
    return OTHER


@dataclass(slots=True)
class Tally:
    """The reconciliation of some of the subscriptions, counted one at a time (as a
    rebuild goes through them, or a part of them): sums and causes that add up in any
    order, exactly, so parts counted apart merge into the same result."""

    live: Decimal = ZERO
    rebuilt: Decimal = ZERO
    causes: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    def count(
        self,
        rules: Rules,
        sub: Subscription,
        timeline: Timeline | None,
        live_rules: Rules,
        cutoff: int,
        t: int,
    ) -> None:
        """One subscription as its read states it (by `live_rules`, which know the read's
        metered lines, or by its timeline's, from a streamed read), against its self
        rebuilt at t (by `rules`)."""
        read = timeline.read_metered if timeline is not None else None
        live = _in_tiers(live_rules.count(sub, cutoff, read))
        then = timeline.at(t) if timeline is not None else None
        rebuilt = ZERO
        if timeline is not None and then is not None:
            metered = latest_metered(metered_lines(timeline.invoices, t))
            rebuilt = _in_tiers(rules.count(then, cutoff, metered))
        self.live = EXACT.add(self.live, live)
        self.rebuilt = EXACT.add(self.rebuilt, rebuilt)
        if live != rebuilt:
            what = _cause(sub, timeline, then)
            count, difference = self.causes.get(what, (0, ZERO))
            self.causes[what] = (count + 1, EXACT.add(difference, EXACT.subtract(rebuilt, live)))

    def merge(self, other: "Tally") -> None:
        self.live = EXACT.add(self.live, other.live)
        self.rebuilt = EXACT.add(self.rebuilt, other.rebuilt)
        for what, (count, difference) in other.causes.items():
            mine, total = self.causes.get(what, (0, ZERO))
            self.causes[what] = (mine + count, EXACT.add(total, difference))

    def reconciliation(self, as_of: date, currency: str) -> Reconciliation:
        ranked = sorted(self.causes.items(), key=lambda entry: (-abs(entry[1][1]), entry[0]))
        return Reconciliation(
            as_of=as_of,
            currency=currency,
            live=self.live,
            rebuilt=self.rebuilt,
            causes=tuple(Cause(what, count, difference) for what, (count, difference) in ranked),
        )


def reconcile(data: Dataset, config: Config, as_of: date) -> Reconciliation:
    """The report of `data` (as of `as_of`) against the same instant rebuilt from its
    invoices, with the causes of any difference. `data` must hold billed history.

    A pass of its own over the subscriptions' invoices: a rebuild that reaches the same
    instant tallies it as it goes instead (rebuild's `reconcile_at`)."""
    # One set of rules for both counts: the rebuilt one is given its own metered lines.
    rules = Rules(config, data.product_names, data.invoice_lines)
    cutoff = end_of_day(as_of)
    t = instant_of(as_of, data.read_at)
    # The timelines come in the subscriptions' order, one at a time (a streamed read is
    # never held whole): each is matched to its subscription as the two lists go.
    lines = iter(Timelines(data))
    next_line = next(lines, None)
    tally = Tally()
    for sub in data.subscriptions:
        timeline = None
        if next_line is not None and next_line.sub.id == sub.id:
            timeline, next_line = next_line, next(lines, None)
        tally.count(rules, sub, timeline, rules, cutoff, t)
    return tally.reconciliation(as_of, config.currency)
