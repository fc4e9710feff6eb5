"""The one clock of a run: the instant a command runs, in UTC.

No figure depends on it: every figure is dated by its read (docs/review-rules.md). The
clock only says which week is running, when a file was written, and when a step of the
weekly run happened. Tests set it here, so every command sees the same day.
"""

from datetime import UTC, date, datetime


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return now().date()
