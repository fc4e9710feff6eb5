"""The growth history: MRR week over week against the weekly target, from snapshots
taken by cron or rebuilt from invoices."""

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path

from ffkpi.config import Config, Growth
from ffkpi.errors import StorageError
from ffkpi.history import LIMITS, ONCE_LIMIT
from ffkpi.snapshots import Skipped, Snapshot, Source, read_snapshots

RATE_DIGITS = Decimal("0.0001")


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
    source: Source
    converted: int | None = None  # rebuilt: subscriptions counted at today's [fx] rates


def weeks_between(earlier: str, later: str) -> int:
    return (_monday(later) - _monday(earlier)).days // 7


def _monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def weekly_growth(current: Decimal, previous: Decimal, weeks: int) -> Decimal | None:
    """The weekly rate that compounds `previous` into `current` over `weeks` weeks."""
    if previous <= 0 or weeks <= 0:
        return None
    with localcontext(prec=28):
        try:
            return (current / previous) ** (Decimal(1) / weeks) - 1
        except InvalidOperation:
            return None


def growth_weeks(
    snapshots: tuple[Snapshot, ...],
    target: Decimal,
    *,
    digest: str | None,
    tier: str | None = None,
) -> list[Week]:
    """Week-by-week MRR, ARR and growth against the target; one tier's if `tier` is given.

    `digest` is the config in force now; snapshots made under another are marked.
    """
    weeks: list[Week] = []
    previous: tuple[Snapshot, Decimal] | None = None
    for snapshot in snapshots:
        if tier is None:
            mrr, arr = snapshot.mrr, snapshot.arr
        else:
            match = next((t for t in snapshot.tiers if t.name == tier), None)
            if match is None:
                continue
            mrr, arr = match.mrr, match.arr
        growth = None
        if previous is not None and previous[0].currency == snapshot.currency:
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
                source=snapshot.source,
                converted=(
                    snapshot.reconstruction.converted_subscriptions
                    if snapshot.reconstruction is not None
                    else None
                ),
            )
        )
        previous = (snapshot, mrr)
    return weeks


def format_rate(rate: Decimal | None) -> str | None:
    if rate is None:
        return None
    return f"{rate.quantize(RATE_DIGITS, rounding=ROUND_HALF_UP):f}"


@dataclass(frozen=True, slots=True)
class History:
    weeks: list[Week]
    tiers: dict[str, list[Week]] | None  # with --by-tier: each tier's weeks
    target: Decimal
    skipped: tuple[Skipped, ...] = ()  # files in the folder that are not snapshots
    damaged: tuple[Skipped, ...] = ()  # snapshots whose customer file is gone or altered
    # What invoices cannot tell, when a week shown was rebuilt from them.
    limits: tuple[str, ...] = ()
    unknown_discounts: int = 0  # the most any rebuilt week shown left out


def load_history(
    folder: Path, config: Config | None, *, last: int | None, by_tier: bool, strict: bool
) -> History:
    """The folder's weeks (the last `last`), measured against the config's target.

    Without a config, the newest snapshot's tiers are listed; `strict` makes a file
    that is not a snapshot an error rather than a warning.
    """
    stored = read_snapshots(folder)
    if strict and stored.skipped:
        skipped = stored.skipped[0]
        raise StorageError(
            f"{skipped.path} is not a readable snapshot: {skipped.reason}",
            "move it out of the snapshot folder, or drop --strict to skip it",
        )
    if strict and stored.damaged:
        damaged = stored.damaged[0]
        raise StorageError(
            f"{damaged.path}: {damaged.reason}",
            "restore the file from a backup, or take the week again with "
            "`ffkpi snapshot --force --as-of DATE`",
        )
    shown = growth_history(stored.snapshots, config, last=last, by_tier=by_tier)
    return dataclasses.replace(shown, skipped=stored.skipped, damaged=stored.damaged)


def growth_history(
    snapshots: tuple[Snapshot, ...], config: Config | None, *, last: int | None, by_tier: bool
) -> History:
    """Weeks (the last `last`) measured against the config's target, taken or rebuilt."""
    target = (config.growth if config is not None else Growth()).weekly_target
    latest = snapshots[-1] if snapshots else None
    digest = config.digest if config is not None else latest.config_digest if latest else None
    start = -(last or 0)
    weeks = growth_weeks(snapshots, target, digest=digest)[start:]
    tiers = None
    if by_tier:
        names = [t.name for t in (config.tiers if config else latest.tiers if latest else ())]
        tiers = {
            name: growth_weeks(snapshots, target, digest=digest, tier=name)[start:]
            for name in names
        }
    shown = [s for s in snapshots if s.week in {week.week for week in weeks}]
    rebuilt = [s.reconstruction for s in shown if s.source == "reconstructed"]
    limits: tuple[str, ...] = ()
    if rebuilt:
        once = config is not None and config.policy.discounts == "all"
        limits = LIMITS + ((ONCE_LIMIT,) if once else ())
    unknown = max((r.unknown_discounts for r in rebuilt if r is not None), default=0)
    return History(weeks, tiers, target, limits=limits, unknown_discounts=unknown)
