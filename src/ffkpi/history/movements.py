"""What moved MRR between weeks: new, expansion, contraction, churn and reactivation,
per customer (docs/history-rules.md, "Movements, per customer" and "Metrics").

Fed by each week's MRR per customer (in the reporting currency at full precision,
customers with MRR > 0 only); pure: no I/O. Sums are exact (mrr.EXACT), so the bridge
previous + new + expansion + reactivation - contraction - churn = MRR holds exactly.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ffkpi.engine.mrr import EXACT, exact_sum
from ffkpi.engine.pricing import ZERO
from ffkpi.history.ledger import held

NEW, EXPANSION, REACTIVATION, CONTRACTION, CHURN = (
    "new",
    "expansion",
    "reactivation",
    "contraction",
    "churn",
)
KINDS = (NEW, EXPANSION, REACTIVATION, CONTRACTION, CHURN)
INFLOWS = (NEW, EXPANSION, REACTIVATION)  # add to MRR; the others take from it
TRAILING = (4, 52)  # the trailing windows rates are also given over, in weeks
MOVERS = 5  # customers a review shows each way: the largest rises and the largest falls

Series = Sequence[Mapping[str, Decimal] | None]  # None: a week whose customers are unknown


@dataclass(frozen=True, slots=True)
class Change:
    """One customer's move between two weeks."""

    customer: str
    kind: str
    previous: Decimal
    current: Decimal

    @property
    def amount(self) -> Decimal:
        """How much it moved MRR, positive."""
        return abs(EXACT.subtract(self.current, self.previous))


@dataclass(frozen=True, slots=True)
class Movement:
    mrr: Decimal  # positive
    customers: int


@dataclass(frozen=True, slots=True)
class Rates:
    logo_churn: Decimal | None
    gross_mrr_churn: Decimal | None
    net_mrr_churn: Decimal | None
    quick_ratio: Decimal | None
    nrr: Decimal | None = None  # over a window only
    grr: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WeekMoves:
    """One week against the week before it."""

    mrr: Decimal  # the sum of its customers' MRR
    customers: int
    arpa: Decimal | None
    movements: dict[str, Movement] | None  # None: the first week, or one not comparable
    changes: tuple[Change, ...]  # largest first
    rates: Rates | None
    trailing: dict[int, Rates | None]  # by window length in weeks


def _divide(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else numerator / denominator


def _rates(moved: Mapping[str, Movement], start_mrr: Decimal, start_customers: int) -> Rates:
    lost = EXACT.add(moved[CHURN].mrr, moved[CONTRACTION].mrr)
    gained = exact_sum(moved[kind].mrr for kind in INFLOWS)
    won_back = EXACT.add(moved[EXPANSION].mrr, moved[REACTIVATION].mrr)
    return Rates(
        logo_churn=_divide(Decimal(moved[CHURN].customers), Decimal(start_customers)),
        gross_mrr_churn=_divide(lost, start_mrr),
        net_mrr_churn=_divide(EXACT.subtract(lost, won_back), start_mrr),
        quick_ratio=_divide(gained, lost),
    )


def _changes(
    previous: Mapping[str, Decimal], current: Mapping[str, Decimal], seen: set[str]
) -> list[Change]:
    changes = []
    # Only the customers whose MRR differs: the item views' symmetric difference is
    # computed without a Python loop over every customer.
    moved = {customer for customer, _ in previous.items() ^ current.items()}
    for customer in moved:
        before = previous.get(customer, ZERO)
        now = current.get(customer, ZERO)
        if before == now:
            continue
        if before == 0:
            kind = REACTIVATION if customer in seen else NEW
        elif now == 0:
            kind = CHURN
        else:
            kind = EXPANSION if now > before else CONTRACTION
        changes.append(Change(customer, kind, before, now))
    changes.sort(key=lambda c: (-c.amount, c.customer))
    return changes


def _totals(changes: Sequence[Change]) -> dict[str, Movement]:
    sums = dict.fromkeys(KINDS, ZERO)
    counts = dict.fromkeys(KINDS, 0)
    for change in changes:
        sums[change.kind] = EXACT.add(sums[change.kind], change.amount)
        counts[change.kind] += 1
    return {kind: Movement(sums[kind], counts[kind]) for kind in KINDS}


def week_moves(
    series: Series,
    comparable: Sequence[bool] | None = None,
    windows: Sequence[int] = TRAILING,
    movers: int | None = None,
) -> list[WeekMoves]:
    """Each week's movements against the week before (None for the first, for a week
    whose customers or the week before's are unknown, and where `comparable` is False:
    another config or currency), with its rates and those of the trailing windows.
    `movers`: each week keeps that many of its largest rises and of its largest falls
    among its changes (None: every change, each week)."""
    weeks: list[WeekMoves] = []
    seen: set[str] = set()  # customers positive in some earlier week
    running = _Running()
    sums: list[Decimal | None] = []  # each week's MRR, exact
    previous: Mapping[str, Decimal] | None = None
    for i, week in enumerate(series):
        # Made once here if lazy (a ledger's week), and the week before kept as made.
        customers = None if week is None else held(week)
        count = len(customers) if customers is not None else 0
        ok = comparable is None or comparable[i]
        changes: list[Change] = []
        totals: dict[str, Movement] | None = None
        rates = None
        if customers is not None and previous is not None:
            changes = _changes(previous, customers, seen)
            before = sums[i - 1]
            assert before is not None
            mrr = before  # the week before plus what changed: exact, so equal to a sum
            for change in changes:
                mrr = EXACT.add(mrr, EXACT.subtract(change.current, change.previous))
            if ok:
                totals = _totals(changes)
                rates = _rates(totals, before, len(previous))
            else:
                changes = []
        else:
            mrr = exact_sum(customers.values()) if customers is not None else ZERO
        sums.append(mrr if customers is not None else None)
        running.append(totals)
        if customers is not None:
            seen.update(customers)
        trailing = {n: _window(series, sums, running, i, n, customers) for n in windows}
        previous = customers
        weeks.append(
            WeekMoves(
                mrr=mrr if customers is not None else ZERO,
                customers=count,
                arpa=_divide(mrr, Decimal(count)) if customers is not None else None,
                movements=totals,
                changes=tuple(changes if movers is None else _largest(changes, movers)),
                rates=rates,
                trailing=trailing,
            )
        )
    return weeks


def _largest(changes: Sequence[Change], movers: int) -> list[Change]:
    """The `movers` largest rises and largest falls of `changes` (largest first), in
    that order."""
    rises = [c for c in changes if c.current > c.previous][:movers]
    falls = [c for c in changes if c.current < c.previous][:movers]
    return sorted(rises + falls, key=lambda c: (-c.amount, c.customer))


class _Running:
    """Running sums of each kind's movements, week by week, so a window's sums are two
    lookups (exact: no residue) rather than a pass over its weeks."""

    def __init__(self) -> None:
        self.mrr: dict[str, list[Decimal]] = {kind: [ZERO] for kind in KINDS}
        self.customers: dict[str, list[int]] = {kind: [0] for kind in KINDS}
        self.unknown = [0]  # weeks without movements so far

    def append(self, moved: Mapping[str, Movement] | None) -> None:
        for kind in KINDS:
            step = moved[kind] if moved is not None else Movement(ZERO, 0)
            self.mrr[kind].append(EXACT.add(self.mrr[kind][-1], step.mrr))
            self.customers[kind].append(self.customers[kind][-1] + step.customers)
        self.unknown.append(self.unknown[-1] + (moved is None))

    def between(self, start: int, end: int) -> dict[str, Movement] | None:
        """The movements of weeks start+1..end summed; None if one of them is unknown."""
        if self.unknown[end + 1] != self.unknown[start + 1]:
            return None
        return {
            kind: Movement(
                EXACT.subtract(self.mrr[kind][end + 1], self.mrr[kind][start + 1]),
                self.customers[kind][end + 1] - self.customers[kind][start + 1],
            )
            for kind in KINDS
        }


def _window(
    series: Series,
    sums: Sequence[Decimal | None],
    running: _Running,
    end: int,
    length: int,
    last: Mapping[str, Decimal] | None,
) -> Rates | None:
    """Rates over the `length` weeks ending with week `end` (history-rules.md): those of
    the customers paying at the window's first week (`end - length`), so that no churn
    rate passes 100 % however fast the business grew; the quick ratio from the
    movements summed over the span."""
    start = end - length
    if start < 0:
        return None
    summed = running.between(start, end)
    opened = series[start]
    if opened is None or last is None or summed is None:
        return None
    first = held(opened)
    start_mrr = sums[start]
    assert start_mrr is not None
    # The customers paying at the start, at the end, and each at most what they paid
    # then: sums in C over the customers paying both weeks (exact in EXACT's context).
    common = first.keys() & last.keys()
    kept = exact_sum(map(last.__getitem__, common))
    floor = exact_sum(map(min, map(first.__getitem__, common), map(last.__getitem__, common)))
    nrr, grr = _divide(kept, start_mrr), _divide(floor, start_mrr)
    lost = Decimal(len(first) - len(common))  # paying at the start, not at the end
    return Rates(
        logo_churn=_divide(lost, Decimal(len(first))),
        gross_mrr_churn=None if grr is None else 1 - grr,
        net_mrr_churn=None if nrr is None else 1 - nrr,
        quick_ratio=_rates(summed, start_mrr, len(first)).quick_ratio,
        nrr=nrr,
        grr=grr,
    )


@dataclass(frozen=True, slots=True)
class CustomerMove(Change):
    """One customer behind a week's movement, and the tiers its MRR moved in."""

    tiers: tuple[str, ...] = ()

    @property
    def change(self) -> Decimal:
        return EXACT.subtract(self.current, self.previous)


def customer_moves(
    series: Series, tiers: Mapping[str, tuple[Mapping[str, Decimal], Mapping[str, Decimal]]]
) -> list[CustomerMove] | None:
    """Who moved MRR in the last week of `series` against the week before (earlier
    weeks tell new from reactivation), largest first; `tiers`: each tier's customers in
    those two weeks. None when either week's customers are unknown."""
    if len(series) < 2 or series[-1] is None or series[-2] is None:
        return None
    last = week_moves(series)[-1]
    moves = []
    each = [(name, held(before), held(after)) for name, (before, after) in tiers.items()]
    for change in last.changes:
        moved = tuple(
            name
            for name, before, after in each
            if before.get(change.customer, ZERO) != after.get(change.customer, ZERO)
        )
        moves.append(
            CustomerMove(change.customer, change.kind, change.previous, change.current, moved)
        )
    return moves
