"""The growth history: MRR week over week against the weekly target, from a series of
weeks taken by cron or rebuilt from invoices (history.series). Pure."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext

from ffkpi.config import Config, Growth
from ffkpi.engine.calendar import weeks_between
from ffkpi.engine.exact import EXACT
from ffkpi.engine.money import round_money
from ffkpi.engine.pricing import ZERO
from ffkpi.errors import StorageError
from ffkpi.history.movements import (
    CHURN,
    CONTRACTION,
    INFLOWS,
    KINDS,
    MOVERS,
    CustomerMove,
    WeekMoves,
    customer_moves,
    week_moves,
)
from ffkpi.history.rebuild import LIMITS, ONCE_LIMIT
from ffkpi.history.series import Customers, Origin, ProductFigures, WeekFigures
from ffkpi.history.shards import ShardedWeek


@dataclass(frozen=True, slots=True)
class Week:
    week: str
    as_of: date
    currency: str
    mrr: Decimal
    arr: Decimal
    growth: Decimal | None  # compounded weekly rate since the previous snapshot
    met_target: bool | None
    next_week_mrr: Decimal  # what next week needs to stay on target
    config_changed: bool
    source: Origin
    converted: int | None = None  # rebuilt: subscriptions counted at today's [fx] rates
    moves: WeekMoves | None = None  # what moved MRR since the week before, if known
    previous_mrr: Decimal | None = None  # the week before's, for the bridge
    comparable: bool = True  # False: another config or currency than the week before
    unlisted: tuple[ProductFigures, ...] = ()  # recurring revenue outside the tiers
    notes: tuple[str, ...] = ()  # what the read behind it did not find


def weekly_growth(current: Decimal, previous: Decimal, weeks: int) -> Decimal | None:
    """The weekly rate that compounds `previous` into `current` over `weeks` weeks."""
    if previous <= 0 or weeks <= 0:
        return None
    with localcontext(prec=28):
        try:
            return (current / previous) ** (Decimal(1) / weeks) - 1
        except InvalidOperation:
            return None


def comparable(before: WeekFigures, after: WeekFigures) -> bool:
    """Whether growth and movements run from one week to the next: one currency and one
    MRR definition (review-rules.md). A week made under another definition is recomputed
    where its read is kept (past.py); where it is not, growth across the change is
    withheld."""
    return before.currency == after.currency and before.config_digest == after.config_digest


def growth_weeks(
    series: Sequence[WeekFigures],
    target: Decimal,
    *,
    digest: str | None,
    tier: str | None = None,
) -> list[Week]:
    """Week-by-week MRR, ARR and growth against the target; one tier's if `tier` is given.

    `digest` is the config in force now; weeks made under another are marked.
    """
    weeks: list[Week] = []
    previous: tuple[WeekFigures, Decimal] | None = None
    for snapshot in series:
        if tier is None:
            mrr, arr = snapshot.mrr, snapshot.arr
        else:
            match = snapshot.tier(tier)
            if match is None:
                continue
            mrr, arr = match.mrr, match.arr
        growth = None
        if previous is not None and comparable(previous[0], snapshot):
            gap = weeks_between(previous[0].week, snapshot.week)
            growth = weekly_growth(mrr, previous[1], gap)
        weeks.append(
            Week(
                week=snapshot.week,
                as_of=snapshot.as_of,
                currency=snapshot.currency,
                mrr=mrr,
                arr=arr,
                growth=growth,
                met_target=None if growth is None else growth >= target,
                next_week_mrr=mrr * (1 + target),
                config_changed=digest is not None and snapshot.config_digest != digest,
                source=snapshot.origin,
                converted=snapshot.converted,
                unlisted=snapshot.unlisted if tier is None else (),
                notes=snapshot.notes,
            )
        )
        previous = (snapshot, mrr)
    return weeks


@dataclass(frozen=True, slots=True)
class History:
    weeks: list[Week]
    tiers: dict[str, list[Week]] | None  # with --by-tier: each tier's weeks
    target: Decimal
    # What invoices cannot tell, when a week shown was rebuilt from them.
    limits: tuple[str, ...] = ()
    unknown_discounts: int = 0  # the most any rebuilt week shown left out


def growth_history(
    series: Sequence[WeekFigures],
    config: Config | None,
    *,
    last: int | None,
    by_tier: bool,
    since: date | None = None,
    until: date | None = None,
) -> History:
    """Weeks (the last `last`) measured against the config's target, taken or rebuilt,
    with what moved MRR each week where their customers are known. Without a config,
    the newest week's tiers are listed and its config is the one in force."""
    target = (config.growth if config is not None else Growth()).weekly_target
    latest = series[-1] if series else None
    digest = config.digest if config is not None else latest.config_digest if latest else None

    def shown(weeks: list[Week]) -> list[Week]:
        """The weeks from `since` to `until`, the last `last` of them."""
        inside = [
            week
            for week in weeks
            if (since is None or week.as_of >= since) and (until is None or week.as_of <= until)
        ]
        return inside[-(last or 0) :]

    weeks = shown(_with_moves(growth_weeks(series, target, digest=digest), series, None))
    tiers = None
    if by_tier:
        names = [t.name for t in (config.tiers if config else latest.tiers if latest else ())]
        tiers = {
            name: shown(
                _with_moves(growth_weeks(series, target, digest=digest, tier=name), series, name)
            )
            for name in names
        }
    listed = {week.week for week in weeks}
    rebuilt = [w for w in series if w.week in listed and w.origin == "reconstructed"]
    limits: tuple[str, ...] = ()
    if rebuilt:
        once = config is not None and config.policy.discounts == "all"
        limits = LIMITS + ((ONCE_LIMIT,) if once else ())
    unknown = max((w.unknown_discounts for w in rebuilt), default=0)
    return History(weeks, tiers, target, limits=limits, unknown_discounts=unknown)


def customers_in(customers: Customers | None, tier: str | None) -> Mapping[str, Decimal] | None:
    """Each customer's MRR (in one tier, or in all), customers paying only; None when
    the file does not say (a file of schema 1 has rounded totals: never guessed from)."""
    if customers is None or customers.tiers is None:
        return None
    if tier is None:
        if customers.totals is not None:
            return customers.totals
        if len(customers.tiers) == 1:
            return {customer: values[0] for customer, values in customers.mrr.items()}
        with localcontext(EXACT):  # one context for every customer's exact sum, in C
            return {customer: sum(values, ZERO) for customer, values in customers.mrr.items()}
    if tier not in customers.tiers:
        return None
    if isinstance(customers.mrr, ShardedWeek):  # rebuilt, or kept by shard: made when read
        return customers.mrr.in_tier(customers.mrr.sharded.tiers.index(tier))
    k = customers.tiers.index(tier)
    return {customer: values[k] for customer, values in customers.mrr.items() if values[k] > 0}


def _with_moves(weeks: list[Week], series: Sequence[WeekFigures], tier: str | None) -> list[Week]:
    """The weeks with their movements: each against the week before it, none across a
    change of config (rules, rates) or currency."""
    by_week = {w.week: w for w in series}
    shown = [by_week[week.week] for week in weeks]
    customers = [customers_in(w.customers, tier) for w in shown]
    together = [k > 0 and comparable(shown[k - 1], w) for k, w in enumerate(shown)]
    moves = week_moves(customers, together, movers=MOVERS)  # a review shows no more
    return [
        dataclasses.replace(
            week,
            moves=move if customers[k] is not None else None,
            comparable=together[k] or k == 0,
            previous_mrr=weeks[k - 1].mrr if k else None,
        )
        for k, (week, move) in enumerate(zip(weeks, moves, strict=True))
    ]


def printed_movements(week: Week) -> dict[str, Decimal] | None:
    """Each movement of the week rounded to the currency's digits, the rounding residue
    given to the largest, so previous + inflows - outflows = MRR holds on the figures
    as printed (every output of the bridge shows these)."""
    moves = week.moves
    if moves is None or moves.movements is None or week.previous_mrr is None:
        return None
    cur = week.currency
    amounts = moves.movements
    printed = {kind: round_money(amounts[kind].mrr, cur) for kind in KINDS}
    inflow = sum((printed[kind] for kind in INFLOWS), ZERO)
    outflow = printed[CONTRACTION] + printed[CHURN]
    residue = round_money(week.mrr, cur) - round_money(week.previous_mrr, cur) - (inflow - outflow)
    if residue:
        for kind in sorted(KINDS, key=lambda k: (-amounts[k].mrr, k)):
            sign = 1 if kind in INFLOWS else -1
            if printed[kind] + sign * residue >= 0:
                printed[kind] += sign * residue
                break
    return printed


@dataclass(frozen=True, slots=True)
class WeekMovers:
    """The customers behind one week's movements."""

    week: str
    as_of: date
    previous_as_of: date
    currency: str
    moves: list[CustomerMove]


def week_movers(series: Sequence[WeekFigures], week: str) -> WeekMovers:
    """`week` against the week before it, from their customers (all the earlier ones
    tell new from reactivation)."""
    if not series:
        raise StorageError("no weeks yet", "run `ffkpi snapshot` once a week, or `ffkpi backfill`")
    names = [s.week for s in series]
    if week not in names:
        raise StorageError(
            f"no snapshot of {week}",
            f"pick one of the weeks `ffkpi history` lists ({', '.join(names[-3:]) or 'none'})",
        )
    k = names.index(week)
    if k == 0:
        raise StorageError(
            f"{week} is the first week: nothing to compare it with", "pick a later week"
        )
    current, previous = series[k], series[k - 1]
    if not comparable(previous, current):
        raise StorageError(
            f"{week} was made under another MRR definition or currency than {previous.week}, "
            "whose read is not kept: its movements are not comparable",
            "pick another week, or rebuild both under one config with `ffkpi history --input`",
        )
    totals = [customers_in(w.customers, None) for w in series[: k + 1]]
    tiers: dict[str, tuple[Mapping[str, Decimal], Mapping[str, Decimal]]] = {}
    for tier in current.tiers:
        before, after = (
            customers_in(previous.customers, tier.name),
            customers_in(current.customers, tier.name),
        )
        if before is not None and after is not None:
            tiers[tier.name] = (before, after)
    moves = customer_moves(totals, tiers)
    if moves is None:
        raise StorageError(
            f"the customers of {week} or {previous.week} are not known (a customer file of "
            "schema 1, or one missing or altered)",
            "take the weeks again with `ffkpi snapshot --force --as-of DATE`, or rebuild them "
            "with `ffkpi movements --input`",
        )
    return WeekMovers(week, current.as_of, previous.as_of, current.currency, moves)
