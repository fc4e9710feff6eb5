"""The other KPIs by the rules of docs/kpi-sources.md, from values any source gives:
deals with their pipeline stage (CARR closed and projected) and merge instants of pull
requests (engineering throughput). Pure: the window comes in as days.

A stage's probability and whether it is closed come from the source's own pipeline
definition, never from the stage's label: won is closed with probability 1, lost is
closed with probability 0, open is the rest, weighted by its probability.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ffkpi.engine.calendar import Quarter, end_of_day

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Stage:
    """A pipeline stage as the CRM defines it."""

    probability: Decimal  # 0 to 1
    closed: bool

    @property
    def won(self) -> bool:
        return self.closed and self.probability == ONE

    @property
    def lost(self) -> bool:
        return self.closed and self.probability == ZERO


@dataclass(frozen=True, slots=True)
class Deal:
    id: str
    pipeline: str
    stage: str
    close_date: date | None  # a deal without one counts in no quarter
    amount: Decimal | None  # the contract's ARR; a deal without one counts nothing


Stages = Mapping[tuple[str, str], Stage]  # by (pipeline, stage id)


class UnknownStage(ValueError):
    """A deal in a stage its pipeline does not define."""

    def __init__(self, deal: Deal) -> None:
        super().__init__(f"deal {deal.id} is in stage {deal.stage!r} of pipeline {deal.pipeline!r}")
        self.deal = deal


def _counted(
    deals: Iterable[Deal], stages: Stages, pipelines: Iterable[str]
) -> Iterable[tuple[Deal, Stage, Decimal, date]]:
    """The deals of the pipelines with an amount and a close date, with their stage."""
    chosen = set(pipelines)
    for deal in deals:
        if deal.pipeline not in chosen or deal.amount is None or deal.close_date is None:
            continue
        stage = stages.get((deal.pipeline, deal.stage))
        if stage is None:
            raise UnknownStage(deal)
        yield deal, stage, deal.amount, deal.close_date


def carr_closed(
    deals: Iterable[Deal], stages: Stages, pipelines: Iterable[str], quarter: Quarter, day: date
) -> Decimal:
    """The amounts of won deals whose close date is in [the quarter's first day, day]."""
    return sum(
        (
            amount
            for _, stage, amount, closed in _counted(deals, stages, pipelines)
            if stage.won and quarter.first_day <= closed <= day
        ),
        ZERO,
    )


def carr_projected(
    deals: Iterable[Deal], stages: Stages, pipelines: Iterable[str], quarter: Quarter, day: date
) -> Decimal:
    """CARR closed, and each open deal whose close date is in the quarter (an overdue one
    still open included) weighted by its stage's probability."""
    counted = list(_counted(deals, stages, pipelines))
    closed = carr_closed((d for d, *_ in counted), stages, pipelines, quarter, day)
    weighted = sum(
        (
            amount * stage.probability
            for _, stage, amount, close in counted
            if not stage.closed and quarter.first_day <= close <= quarter.last_day
        ),
        ZERO,
    )
    return closed + weighted


def within_days(instants: Iterable[int], since: date, until: date) -> int:
    """How many of the instants (Unix seconds, one a pull request merged or a contact made
    an MQL) fall within the whole UTC days [since, until]."""
    start, end = end_of_day(since) - 86_400, end_of_day(until)
    return sum(1 for instant in instants if start <= instant < end)
