"""Past weeks rebuilt from what Stripe billed (docs/history-rules.md), each counted by
the same rules as today's MRR (engine/mrr.py).

Pure: no I/O, no clock. Each subscription's invoices are indexed once (timeline.py)
and swept where they change (sweep.py); a week is every subscription as it stood at
the end of its as-of day, counted as `ffkpi mrr --as-of` would.
"""

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ffkpi.config import Config
from ffkpi.engine.calendar import DAY, day_of, end_of_day
from ffkpi.engine.model import Dataset
from ffkpi.engine.mrr import Counted, Report, Rules, Totals
from ffkpi.errors import InputError, UsageError
from ffkpi.history.reconcile import Reconciliation, Tally
from ffkpi.history.shards import Sharded, Store
from ffkpi.history.sweep import transitions
from ffkpi.history.timeline import Timeline, Timelines, instant_of, metered_lines


@dataclass(slots=True)
class Week:
    """What changed in one week, in order: each Counted added or taken away (a flag per
    change, not a pair: held in memory, every change of a part waits until summed)."""

    counted: list[Counted] = dataclasses.field(default_factory=list)
    added: bytearray = dataclasses.field(default_factory=bytearray)  # 1 added, 0 taken

    def append(self, counted: Counted, sign: int) -> None:
        self.counted.append(counted)
        self.added.append(sign > 0)

    def __iter__(self) -> Iterator[tuple[Counted, int]]:
        for counted, added in zip(self.counted, self.added, strict=True):
            yield counted, 1 if added else -1


class Waiting(Protocol):
    """One part's changes, week by week, waiting to be summed: appended as the part is
    counted, sealed when it is done (it may then cross to another process), each week
    taken once, in the order appended."""

    def append(self, week: int, counted: Counted, sign: int) -> None: ...

    def seal(self) -> None: ...

    def take(self, week: int) -> Iterable[tuple[Counted, int]]: ...


class InMemory:
    """Waiting changes held in memory (the default: a use case may keep them on disk)."""

    def __init__(self, weeks: int) -> None:
        self.weeks = [Week() for _ in range(weeks)]

    def append(self, week: int, counted: Counted, sign: int) -> None:
        self.weeks[week].append(counted, sign)

    def seal(self) -> None:
        pass

    def take(self, week: int) -> Week:
        taken, self.weeks[week] = self.weeks[week], Week()  # let go once summed
        return taken


# Where each part's changes wait: given the part and the number of weeks.
Keep = Callable[[range, int], Waiting]


def in_memory(part: range, weeks: int) -> Waiting:
    return InMemory(weeks)


@dataclass(frozen=True, slots=True)
class Deltas:
    """What one part of the subscriptions changed, week by week, and the discounts its
    invoices carried that had to be left out (a streamed read counts them as it goes)."""

    weeks: Waiting
    unknown_discounts: int = 0
    tally: Tally = dataclasses.field(default_factory=Tally)  # reconciled, when asked for


# How the parts of a rebuild are run: each part (a range of the subscriptions) by `work`,
# the results in the parts' order. In one process by default; the use cases pass a pool.
Runner = Callable[[Callable[[range], Deltas], list[range]], list[Deltas]]


def in_order(work: Callable[[range], Deltas], parts: list[range]) -> list[Deltas]:
    return [work(part) for part in parts]


def split(weights: Sequence[int], parts: int) -> list[range]:
    """Contiguous ranges of `weights`' indices, at most `parts`, of about equal weight."""
    total = sum(weights)
    if parts <= 1 or len(weights) <= 1 or total == 0:
        return [range(len(weights))]
    ranges: list[range] = []
    start, reached = 0, 0
    for index, weight in enumerate(weights):
        reached += weight
        if reached * parts >= total * (len(ranges) + 1) and len(ranges) < parts - 1:
            ranges.append(range(start, index + 1))
            start = index + 1
    ranges.append(range(start, len(weights)))
    return [r for r in ranges if len(r)]


def dataset_at(data: Dataset, lines: Sequence[Timeline], t: int) -> Dataset:
    """Every subscription as it stood at t, as a Dataset compute_report can count."""
    subscriptions = tuple(sub for timeline in lines if (sub := timeline.at(t)) is not None)
    return dataclasses.replace(
        data,
        subscriptions=subscriptions,
        invoice_lines=tuple(metered_lines(data.invoices, t)),
    )


# What invoices cannot tell (history-rules.md), stated once in every history output.
LIMITS = (
    "a change made without prorations shows from the next invoice",
    "a discount attached or removed mid-period shows from the next invoice",
    "a cancellation requested and then revoked, or collection paused mid-period, leaves "
    "no trace until the next invoice; only the latest trial is known",
    "amounts in a price's other currencies are today's, and every week is converted at "
    "today's [fx] rates",
)
ONCE_LIMIT = (
    'under discounts = "all", a once coupon counts for the whole period of the invoice it was on'
)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """Past weeks rebuilt from invoices, with what could not be known."""

    reports: list[Report]  # oldest first
    converted: list[int]  # per week: counted subscriptions in another currency
    unknown_discounts: int  # discounts left out: a coupon that no longer exists
    limits: tuple[str, ...]  # what invoices cannot tell, for every output to state
    # Each week's customers, by shard: the reports' customers are its weeks (and are
    # what a comparison of two rebuilds compares).
    customers: Sharded = dataclasses.field(compare=False, repr=False)
    reconciliation: Reconciliation | None = None  # of `reconcile_at`, when asked for


def data_day(data: Dataset) -> date | None:
    """The day the data was read, if it says."""
    return None if data.read_at is None else day_of(data.read_at)


def refuse_after_read(data: Dataset, day: date, option: str = "--as-of") -> None:
    """Data read on day R cannot know a later day (docs/review-rules.md)."""
    read = data_day(data)
    if read is not None and day > read:
        how = " (its file's modification time)" if data.read_at_is_file_time else ""
        raise UsageError(
            f"the data was read on {read}{how}, so it cannot show {day}",
            f"read Stripe again with ffkpi fetch, or pass {option} {read} or earlier",
        )


def history_start(since: date, today: date) -> int:
    """The first instant a read's invoices must rebuild (`fetch --since`): a past day,
    since no later week can be known from a read made today."""
    if since > today:
        raise UsageError(
            f"--since {since} is after today, {today}: no week from then on can be rebuilt "
            "from a read made today",
            "pass the first past day whose week you want rebuilt",
        )
    return end_of_day(since - DAY)


def rebuild(
    data: Dataset,
    config: Config,
    as_of: Sequence[date],
    *,
    parts: int = 1,
    run: Runner = in_order,
    reconcile_at: date | None = None,
    keep: Keep = in_memory,
    shards: Store | None = None,
) -> Rebuilt:
    """The report of each as-of day (oldest first), as `ffkpi mrr --as-of` would have
    computed it then from the account as it stood.

    Each subscription is counted only where its state can have changed (a line, a
    payment, a date of its own between two weeks), and the weeks are summed from the
    differences: exact, since report sums never round (exact.EXACT). The subscriptions
    are counted in `parts` contiguous ranges (by `run`, which may spread them over
    processes), and their differences summed in the subscriptions' order: the same
    reports, to the byte, whatever the parts.

    With `reconcile_at`, each subscription is also reconciled at that day as it goes by
    (reconcile.py): the same Reconciliation as `reconcile`, without a pass of its own
    over the invoices. `keep`: where each part's changes wait until they are summed;
    `shards`: where each week's customers wait, by shard, until read (None: one shard,
    made in memory as it goes).
    """
    days = sorted(set(as_of))
    if days and data.history_from is not None and end_of_day(days[0]) < data.history_from:
        first = day_of(data.history_from)
        raise InputError(
            f"the data holds invoices for weeks from {first} on, not {days[0]}",
            f"start at {first} or later, or fetch again with an earlier --since",
        )
    if days:
        refuse_after_read(data, days[-1], "--until")
    rules = Rules(config, data.product_names)
    instants = [instant_of(day, data.read_at) for day in days]
    cutoffs = [end_of_day(day) for day in days]
    lines = Timelines(data)
    check: tuple[Rules, int, int] | None = None  # the read's rules, cutoff and instant
    if reconcile_at is not None:
        live_rules = Rules(config, data.product_names, data.invoice_lines)
        check = (live_rules, end_of_day(reconcile_at), instant_of(reconcile_at, data.read_at))

    def work(part: range) -> Deltas:
        found = keep(part, len(days))
        unknown = 0
        tally = Tally()
        for timeline, left_out in lines.part(part):
            unknown += left_out
            for week, counted, sign in transitions(timeline, rules, instants, cutoffs):
                found.append(week, counted, sign)
            if check is not None:
                tally.count(rules, timeline.sub, timeline, *check)
        found.seal()
        return Deltas(found, unknown, tally)

    results = run(work, split(lines.weights(), parts))
    unknown_discounts = data.unknown_discounts
    tally = Tally()
    for found in results:
        unknown_discounts += found.unknown_discounts
        tally.merge(found.tally)
    if check is not None and not lines.streamed:
        for sub in data.subscriptions:  # those with no lifetime have no timeline either
            if sub.id not in data.lifetimes:
                tally.count(rules, sub, None, *check)
    totals = Totals(rules, customers=False)
    # Each week's customers wait by shard as what changed (shards.py): the reports hold
    # none, and a reader makes a shard's weeks at a time.
    customers = Sharded(shards, len(days), [tier.name for tier in config.tiers])
    reports = []
    converted = []
    foreign = 0
    for week, day in enumerate(days):
        # Each part's changes of the week, in the parts' order: the subscriptions' order.
        for found in results:
            for counted, sign in found.weeks.take(week):
                totals.add(counted, sign)
                if counted.tiers:
                    customers.add(week, counted.customer, counted.tiers, sign)
                if counted.reason is None and counted.currency != config.currency:
                    foreign += sign
        made = customers.week(week)
        reports.append(totals.report(day, (made, made.in_all())))
        converted.append(foreign)
    limits = LIMITS + ((ONCE_LIMIT,) if config.policy.discounts == "all" else ())
    reconciliation = None
    if reconcile_at is not None:
        reconciliation = tally.reconciliation(reconcile_at, config.currency)
    return Rebuilt(reports, converted, unknown_discounts, limits, customers, reconciliation)


def rebuild_weeks(data: Dataset, config: Config, as_of: Sequence[date]) -> list[Report]:
    """rebuild's reports alone."""
    return rebuild(data, config, as_of).reports
