"""What moved MRR between weeks: new, expansion, contraction, churn and reactivation,
per customer (docs/history-rules.md, "Movements, per customer" and "Metrics").

Fed by each week's MRR per customer (in the reporting currency at full precision,
customers with MRR > 0 only); pure: no I/O. Sums are exact (exact.EXACT), so the bridge
previous + new + expansion + reactivation - contraction - churn = MRR holds exactly.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from ffkpi.engine.exact import EXACT, exact_sum
from ffkpi.engine.pricing import ZERO
from ffkpi.history.ledger import held
from ffkpi.history.shards import ShardedWeek, shards_of

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


@dataclass(frozen=True, slots=True)
class _Share:
    """One week of a share of the customers (all of them, or a shard's), in sums that
    add up over the shares, exactly."""

    mrr: Decimal  # its customers' MRR
    customers: int
    changes: list[Change]  # largest first (only the largest each way, with `movers`)
    moved: dict[str, Movement] | None  # None: no movements this week
    # By window length: customers paying at its first week, of those paying at this
    # one, their MRR now, and each at most what it paid then; None: no such window.
    opened: dict[int, tuple[int, int, Decimal, Decimal] | None]


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
    among its changes (None: every change, each week). A rebuild's weeks (shards.py)
    are read a shard at a time and their sums added up."""
    sharded = shards_of(series)
    if sharded is None:
        shares = [_shares(series, comparable, windows, movers)]
    else:
        shares = [
            _shares([_part(week, s) for week in series], comparable, windows, movers)
            for s in range(sharded.count)
        ]
    return _merged(shares, windows, movers)


def _part(week: Mapping[str, Decimal] | None, shard: int) -> Mapping[str, Decimal] | None:
    return None if week is None else cast(ShardedWeek[Decimal], week).part(shard)


def _shares(
    series: Series, comparable: Sequence[bool] | None, windows: Sequence[int], movers: int | None
) -> list[_Share | None]:
    """Each week of one share of the customers (None: its customers unknown)."""
    shares: list[_Share | None] = []
    seen: set[str] = set()  # customers positive in some earlier week
    previous: Mapping[str, Decimal] | None = None
    for i, week in enumerate(series):
        # Made once here if lazy (a ledger's week), and the week before kept as made.
        customers = None if week is None else held(week)
        if customers is None:
            shares.append(None)
            previous = None
            continue
        changes: list[Change] = []
        moved = None
        if previous is not None:
            changes = _changes(previous, customers, seen)
            before = shares[i - 1]
            assert before is not None
            mrr = before.mrr  # the week before plus what changed: exact, so equal to a sum
            for change in changes:
                mrr = EXACT.add(mrr, EXACT.subtract(change.current, change.previous))
            if comparable is None or comparable[i]:
                moved = _totals(changes)
            else:
                changes = []
        else:
            mrr = exact_sum(customers.values())
        seen.update(customers)
        opened = {n: _opened(series, i - n, customers) for n in windows}
        kept = changes if movers is None else _largest(changes, movers)
        shares.append(_Share(mrr, len(customers), kept, moved, opened))
        previous = customers
    return shares


def _opened(
    series: Series, start: int, last: Mapping[str, Decimal]
) -> tuple[int, int, Decimal, Decimal] | None:
    """A window's sums over the customers paying at its first week (`start`) and at
    `last`: sums in C over the customers paying both (exact in EXACT's context)."""
    if start < 0 or series[start] is None:
        return None
    first = held(cast(Mapping[str, Decimal], series[start]))
    common = first.keys() & last.keys()
    kept = exact_sum(map(last.__getitem__, common))
    floor = exact_sum(map(min, map(first.__getitem__, common), map(last.__getitem__, common)))
    return len(first), len(common), kept, floor


def _merged(
    shares: Sequence[Sequence[_Share | None]], windows: Sequence[int], movers: int | None
) -> list[WeekMoves]:
    """The weeks of every share, added up: sums and counts, the largest changes of all,
    and the rates of those."""
    weeks: list[WeekMoves] = []
    running = _Running()
    sums: list[Decimal | None] = []  # each week's MRR, exact
    counts: list[int] = []
    for parts in zip(*shares, strict=True):
        known = [part for part in parts if part is not None]
        if not known:  # one share's customers are unknown where all are
            running.append(None)
            sums.append(None)
            counts.append(0)
            weeks.append(WeekMoves(ZERO, 0, None, None, (), None, dict.fromkeys(windows)))
            continue
        mrr = exact_sum(part.mrr for part in known)
        count = sum(part.customers for part in known)
        moved = None
        rates = None
        if known[0].moved is not None:
            moved = {
                kind: Movement(
                    exact_sum(part.moved[kind].mrr for part in known if part.moved),
                    sum(part.moved[kind].customers for part in known if part.moved),
                )
                for kind in KINDS
            }
            before = sums[-1]
            assert before is not None
            rates = _rates(moved, before, counts[-1])
        changes = sorted(
            (change for part in known for change in part.changes),
            key=lambda c: (-c.amount, c.customer),
        )
        running.append(moved)
        end = len(sums)
        sums.append(mrr)
        counts.append(count)
        trailing = {
            n: _window(running, end, n, sums, [part.opened[n] for part in known]) for n in windows
        }
        weeks.append(
            WeekMoves(
                mrr=mrr,
                customers=count,
                arpa=_divide(mrr, Decimal(count)),
                movements=moved,
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
    running: _Running,
    end: int,
    length: int,
    sums: Sequence[Decimal | None],
    opened: Sequence[tuple[int, int, Decimal, Decimal] | None],
) -> Rates | None:
    """Rates over the `length` weeks ending with week `end` (history-rules.md): those of
    the customers paying at the window's first week (`end - length`), so that no churn
    rate passes 100 % however fast the business grew; the quick ratio from the
    movements summed over the span. `opened`: each share's sums of the window."""
    start = end - length
    if start < 0:
        return None
    summed = running.between(start, end)
    if summed is None or any(part is None for part in opened):
        return None
    parts = cast(Sequence[tuple[int, int, Decimal, Decimal]], opened)
    first = sum(part[0] for part in parts)
    common = sum(part[1] for part in parts)
    kept = exact_sum(part[2] for part in parts)
    floor = exact_sum(part[3] for part in parts)
    start_mrr = sums[start]
    assert start_mrr is not None
    nrr, grr = _divide(kept, start_mrr), _divide(floor, start_mrr)
    lost = Decimal(first - common)  # paying at the start, not at the end
    return Rates(
        logo_churn=_divide(lost, Decimal(first)),
        gross_mrr_churn=None if grr is None else 1 - grr,
        net_mrr_churn=None if nrr is None else 1 - nrr,
        quick_ratio=_rates(summed, start_mrr, first).quick_ratio,
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
    those two weeks. None when either week's customers are unknown. A rebuild's weeks
    (shards.py) are read a shard at a time."""
    if len(series) < 2 or series[-1] is None or series[-2] is None:
        return None
    sharded = shards_of([*series, *(week for pair in tiers.values() for week in pair)])
    if sharded is None:
        return _customer_moves(series, tiers)
    moves = [
        move
        for s in range(sharded.count)
        for move in _customer_moves(
            [_part(week, s) for week in series],
            {name: (_part(b, s), _part(a, s)) for name, (b, a) in tiers.items()},
        )
    ]
    return sorted(moves, key=lambda c: (-c.amount, c.customer))


def _customer_moves(
    series: Series, tiers: Mapping[str, tuple[Mapping[str, Decimal] | None, ...]]
) -> list[CustomerMove]:
    seen: set[str] = set()  # customers positive in some week before the last
    for week in series[:-1]:
        if week is not None:
            seen.update(held(week))
    before, after = (held(cast(Mapping[str, Decimal], week)) for week in series[-2:])
    each = [
        (name, held(cast(Mapping[str, Decimal], b)), held(cast(Mapping[str, Decimal], a)))
        for name, (b, a) in tiers.items()
    ]
    moves = []
    for change in _changes(before, after, seen):
        moved = tuple(
            name
            for name, b, a in each
            if b.get(change.customer, ZERO) != a.get(change.customer, ZERO)
        )
        moves.append(
            CustomerMove(change.customer, change.kind, change.previous, change.current, moved)
        )
    return moves
