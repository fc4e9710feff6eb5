"""A series of weeks: what growth and movements are computed from, whether a week was
taken by cron (a snapshot file) or rebuilt from invoices in memory.

One small frozen value per week (its as-of day, currency, MRR and each tier's, each
customer's MRR per tier where known, where it came from and the config it was made
under), made alike by the snapshot reader (storage.snapshots) and from a rebuilt
report (`rebuilt_week` here). Pure.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from ffkpi.engine.calendar import week_name
from ffkpi.engine.model import NO_NAMES, Names
from ffkpi.engine.money import round_money
from ffkpi.engine.mrr import Report

# A week taken by `ffkpi snapshot`, rebuilt from invoices by `ffkpi backfill`, or
# counted again from its kept read under a changed MRR definition.
Origin = Literal["snapshot", "reconstructed", "recomputed"]


@dataclass(frozen=True, slots=True)
class Customers:
    """Each customer's MRR per tier (`tiers` names them), or, in a snapshot's customer
    file of schema 1, rounded to the cent for the total alone (`tiers` None)."""

    currency: str
    tiers: tuple[str, ...] | None
    mrr: Mapping[str, tuple[Decimal, ...]]
    totals: Mapping[str, Decimal] | None = None  # summed over the tiers, where known
    names: Names = NO_NAMES  # where the read named them
    ordered: bool = False  # `mrr` goes through its customers by id (a stored week's file)


@dataclass(frozen=True, slots=True)
class TierFigures:
    name: str
    mrr: Decimal
    arr: Decimal


@dataclass(frozen=True, slots=True)
class ProductFigures:
    """A product's MRR outside the tiers: recurring revenue the total leaves out."""

    name: str
    mrr: Decimal


@dataclass(frozen=True, slots=True)
class WeekFigures:
    """One week of a series."""

    week: str  # its ISO week, `2026-W47`
    as_of: date
    currency: str
    mrr: Decimal
    arr: Decimal
    tiers: tuple[TierFigures, ...]
    origin: Origin
    config_digest: str  # the config it was made under
    customers: Customers | None = None  # None: not known (no file, or a damaged one)
    converted: int | None = None  # rebuilt: subscriptions counted at today's [fx] rates
    unknown_discounts: int = 0  # rebuilt: discounts left out, their coupon gone
    unlisted: tuple[ProductFigures, ...] = ()  # outside the tiers, largest first
    notes: tuple[str, ...] = ()  # what the read behind it did not find (configured products)

    def tier(self, name: str) -> TierFigures | None:
        return next((tier for tier in self.tiers if tier.name == name), None)


def rebuilt_week(
    report: Report,
    config_digest: str,
    converted: int | None,
    unknown_discounts: int,
    origin: Origin = "reconstructed",
) -> WeekFigures:
    """A week counted in memory (rebuilt from invoices, or recomputed from its kept
    read) as a snapshot written for it reads back: its totals rounded as the file stores
    them, each customer's MRR at full precision."""
    cur = report.currency
    return WeekFigures(
        week=week_name(report.as_of),
        as_of=report.as_of,
        currency=cur,
        mrr=round_money(report.mrr, cur),
        arr=round_money(report.arr, cur),
        tiers=tuple(
            TierFigures(t.name, round_money(t.mrr, cur), round_money(t.arr, cur))
            for t in report.tiers
        ),
        origin=origin,
        config_digest=config_digest,
        customers=None
        if report.customer_tiers is None
        else Customers(
            report.currency,
            tuple(tier.name for tier in report.tiers),
            report.customer_tiers,
            report.customer_totals,
        ),
        converted=converted,
        unknown_discounts=unknown_discounts,
        unlisted=tuple(ProductFigures(p.name, round_money(p.mrr, cur)) for p in report.unlisted),
    )
