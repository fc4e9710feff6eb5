"""The one calendar: ISO weeks and their names, as-of days, ranges of them, calendar
quarters, and the instant a day ends. No other module does week or quarter arithmetic.

A week is an ISO week, named `2026-W47`; its figures are those of its as-of day, the
end of which (UTC) is the instant a report describes (docs/mrr-rules.md). The weeks of
one history share one weekday, so growth compounds over whole weeks. A quarter is a
calendar quarter, named `2026-Q4`.

Pure: today is always passed in.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ffkpi.errors import UsageError

DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
DEFAULT_WEEKS = 52  # a history rebuilt in memory without --since
# ASCII digits only: a week in fullwidth or Arabic-Indic digits would parse, then be stored
# under a name no week has.
_WEEK_NAME = re.compile(r"(\d{4})-W(\d{2})", re.ASCII)
_QUARTER_NAME = re.compile(r"(\d{4})-Q([1-4])", re.ASCII)


def end_of_day(day: date) -> int:
    """The instant (Unix seconds, UTC) `day` ends: the moment a report as of it describes."""
    return calendar.timegm((day + DAY).timetuple())


def day_of(instant: int) -> date:
    """The UTC day an instant (Unix seconds) falls on."""
    return datetime.fromtimestamp(instant, UTC).date()


def format_instant(instant: int) -> str:
    """An instant (Unix seconds) as people read it: `2026-11-17 12:00 UTC`."""
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%d %H:%M UTC")


def week_name(day: date) -> str:
    """The ISO week `day` falls in, as `2026-W47`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday(week: str) -> date:
    """The first day of an ISO week named as `week_name` names it."""
    return parse_week(week)


def parse_week(text: str) -> date:
    """The Monday of the ISO week `text` names (`2026-W47`), or a usage error."""
    match = _WEEK_NAME.fullmatch(text)
    if match is not None:
        try:
            return date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            pass
    raise UsageError(f"--week {text!r} is not a week", "write it as history does: 2026-W47")


def week_before(week: str) -> str:
    """The name of the ISO week before `week`."""
    return week_name(monday(week) - WEEK)


def weeks_between(earlier: str, later: str) -> int:
    """Whole weeks from one named week to another."""
    return (monday(later) - monday(earlier)).days // 7


def day_in_week(week: str, weekday: int) -> date:
    """The day of `week` that falls on `weekday` (0 Monday ... 6 Sunday)."""
    return monday(week) + timedelta(days=weekday)


def weeks_back(since: date, until: date) -> list[date]:
    """Every 7th day back from `until` to `since`, oldest first: one weekday, so growth
    compounds over whole weeks. A `since` after `until` is a usage error."""
    if since > until:
        raise UsageError(
            f"--since {since} is after the last week, {until}",
            "pass an earlier --since, or a later --until",
        )
    days = []
    day = until
    while day >= since:
        days.append(day)
        day -= WEEK
    return days[::-1]


def year_back(until: date) -> date:
    """The default start of a history shown in memory: DEFAULT_WEEKS before `until`."""
    return until - DEFAULT_WEEKS * WEEK


def last_complete_week(read: date, weekday: int) -> date:
    """The `weekday` of the ISO week before the one `read` falls in: the newest week
    whose as-of day is wholly before the week still running."""
    running = read - timedelta(days=read.weekday())
    return running - WEEK + timedelta(days=weekday)


def first_of_running_week(read: date) -> date:
    """The Monday of the ISO week `read` falls in."""
    return read - timedelta(days=read.weekday())


@dataclass(frozen=True, slots=True)
class Quarter:
    """A calendar quarter: `2026-Q4` is 1 October to 31 December 2026."""

    year: int
    number: int  # 1 to 4

    @property
    def name(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - DAY

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def share_gone(self, day: date) -> Decimal:
        """The share of the quarter gone at the end of `day`: (day - first + 1) / days,
        0 before it begins and 1 after it ends (2026-11-17 in 2026-Q4: 48/92)."""
        gone = min(max((day - self.first_day).days + 1, 0), self.days)
        return Decimal(gone) / Decimal(self.days)

    def before(self) -> "Quarter":
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )


def quarter_of(day: date) -> Quarter:
    """The calendar quarter `day` falls in."""
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def parse_quarter(text: str) -> Quarter:
    """The quarter `text` names (`2026-Q4`), or a usage error."""
    match = _QUARTER_NAME.fullmatch(text)
    if match is None:
        raise UsageError(f"{text!r} is not a quarter", "write it as 2026-Q4")
    return Quarter(int(match[1]), int(match[2]))


@dataclass(frozen=True, slots=True)
class Window:
    """The days a KPI's value covers in the week of `as_of` (docs/review-rules.md):
    `since` and `until` inclusive."""

    week: str
    as_of: date
    since: date
    until: date
    quarter: Quarter


def kpi_window(period: str, as_of: date) -> Window:
    """A `week` flow: the seven whole days before the as-of day (consecutive weeks tile,
    and a 06:00 run counts complete days only); `quarter_to_date`: the quarter's first
    day to the as-of day; `point` and `quarter`: the as-of day."""
    quarter = quarter_of(as_of)
    since = {"week": as_of - WEEK, "quarter_to_date": quarter.first_day}.get(period, as_of)
    until = as_of - DAY if period == "week" else as_of
    return Window(week_name(as_of), as_of, since, until, quarter)
