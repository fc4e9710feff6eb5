"""`ffkpi weekly`: the one command cron runs on Tuesday morning (docs/review-rules.md,
"The week's data").

Under the folder's lock throughout, for the running week: read Stripe once (or take a
file read this week), keep that read beside the snapshot, write the snapshot, run the
other KPIs' commands for the same week, render the review (HTML always, PNG where a
chromium is), and post it to Slack where a webhook is set. Each step logs one line with
its UTC time. The first step that fails stops the run with its own exit code and says
which step it was; a KPI command that fails is not a failed step (the KPI reads "not
recorded", the run goes on and exits 7). Run again in the same week it redoes nothing
already done: a week with its snapshot is not read again, a KPI recorded is not run
again, an identical page is not rewritten, and a post is repeated only when asked.
"""

import hashlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

import tomli_w

from ffkpi import screenshot, webhook
from ffkpi.config import Config
from ffkpi.engine.calendar import format_instant, week_name
from ffkpi.engine.model import Dataset
from ffkpi.engine.money import format_money
from ffkpi.errors import FfkpiError, RendererError, StorageError, UsageError
from ffkpi.history.rebuild import data_day
from ffkpi.review.document import Review
from ffkpi.storage.customer_files import customer_file
from ffkpi.storage.files import (
    atomic_file,
    cannot_write,
    folder_lock,
    read_own,
    write_atomically,
)
from ffkpi.storage.kpis import read_week
from ffkpi.storage.kpis import record as write_values
from ffkpi.storage.reads import keep_read, kept_read
from ffkpi.storage.snapshots import Snapshot, read_snapshot, write_snapshot
from ffkpi.usecases.check import product_notes
from ffkpi.usecases.kpis import Failed, command_values
from ffkpi.usecases.reviewing import review_of_folder
from ffkpi.usecases.week_files import counted_week

T = TypeVar("T")
REVIEWS = "reviews"  # beside the snapshots: each week's page, image and post receipt
CHART_WEEKS = 52


@dataclass(frozen=True, slots=True)
class Read:
    """What the read step brings: the data, a writer of its JSON to keep, and the file
    time it is dated by where the data does not say when it was read."""

    data: Dataset
    keep: Callable[[BinaryIO], None]
    origin: str  # "Stripe" or the file's path, for the log
    modified: int | None = None


@dataclass(frozen=True, slots=True)
class Pages:
    """The review as the run writes and posts it."""

    html: str  # the whole page
    top: str  # its top, for the PNG
    slack: str  # the post


@dataclass(frozen=True, slots=True)
class Weekly:
    """One weekly run: where, what, and how it logs."""

    folder: Path
    config: Config
    version: str
    now: Callable[[], datetime]
    log: Callable[[str], None]  # one line on stderr, with its UTC time
    pages: Callable[[Review], Pages]  # the renderers
    webhook: str | None = None
    repost: bool = False
    dry_run: bool = False
    timeout: float = 60.0
    lock_timeout: float = 600.0
    base: Path = Path()  # the config's folder: a deals export's path is relative to it

    def run(self, read: Callable[[], Read]) -> list[Failed]:
        """The run of the running week; the KPI commands that gave no value."""
        week = week_name(self.now().date())
        if self.dry_run:
            self._plan(week)
            return []
        _make(self.folder)
        with folder_lock(self.folder, self.lock_timeout):
            as_of = self._step("read and snapshot", lambda: self._snapshot(week, read))
            failed = self._step("kpis", lambda: self._kpis(week, as_of))
            page = self._step("review", lambda: self._review(week))
            self._step("post", lambda: self._post(week, page))
        return failed

    def _say(self, step: str, text: str) -> None:
        stamp = self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.log(f"{stamp} weekly {step}: {text}")

    def _step(self, step: str, work: Callable[[], T]) -> T:
        """Run a step; a failure is logged naming the step, then ends the run."""
        try:
            return work()
        except FfkpiError as err:
            self._say(step, f"failed, exit {int(err.exit_code)}: {err.what}; nothing after it ran")
            raise

    def _waiting(self, recorded: Mapping[str, object]) -> list[str]:
        """The KPIs with a command or a source not yet recorded for the week."""
        return [k for k, kpi in self.config.kpis.items() if kpi.runs and k not in recorded]

    def _receipt(self, week: str) -> Path:
        return self.folder / REVIEWS / f"{week}.posted.toml"

    # The steps.

    def _snapshot(self, week: str, read: Callable[[], Read]) -> date:
        """The week's snapshot, from one read kept beside it; the as-of day of the week."""
        path = self.folder / f"{week}.toml"
        if path.exists():
            taken = read_snapshot(path)
            if not isinstance(taken, Snapshot):
                raise StorageError(
                    f"{path} is not a readable snapshot: {taken.reason}",
                    "move it out of the folder, then run again",
                )
            self._say("read", f"skipped: {week} has its snapshot, as of {taken.as_of}")
            return taken.as_of
        got = read()
        day = data_day(got.data)
        if day is None or week_name(day) != week:
            raise UsageError(
                f"{got.origin} was read on {day}, in {week_name(day) if day else 'no week'}, "
                f"not in the running week {week}: the weekly run posts only this week's data",
                "read Stripe now (drop --input), or give it a file fetched this week",
            )
        kept = keep_read(self.folder, week, got.keep, modified=got.modified)
        count = len(got.data.subscriptions)
        when = format_instant(got.data.read_at) if got.data.read_at is not None else str(day)
        self._say("read", f"{count:,} subscriptions from {got.origin}, read {when}; kept in {kept}")
        with counted_week(got.data, self.config, day) as (report, rows):
            notes = product_notes(self.config, got.data)
            for note in notes:
                self._say("snapshot", f"warning: {note}")
            saved = write_snapshot(
                self.folder,
                report,
                customer_file(report, got.data.customer_names, rows),
                config_digest=self.config.digest,
                created_at=self.now(),
                version=self.version,
                lock_timeout=self.lock_timeout,
                notes=notes,
            )
        mrr = format_money(report.mrr, report.currency, grouping=True)
        self._say("snapshot", f"{saved.path}: MRR {mrr} {report.currency.upper()}, as of {day}")
        return day

    def _kpis(self, week: str, as_of: date) -> list[Failed]:
        """The KPI commands not yet recorded this week, run for its window."""
        recorded = read_week(self.folder, week)
        waiting = self._waiting(recorded)
        if not waiting:
            self._say("kpis", f"nothing to run ({len(recorded)} recorded already)")
            return []
        values, failed, _ = command_values(
            self.config,
            waiting,
            [as_of],
            self.now(),
            self.timeout,
            base=self.base,
            running=self.now().date(),
        )
        if values:
            write_values(self.folder, values, lock_timeout=self.lock_timeout)
        got = sorted(values.get(week, {}))
        self._say("kpis", f"recorded {', '.join(got) or 'none'}; {len(recorded)} recorded already")
        for failure in failed:
            self._say("kpis", f"{failure.key}: {failure.why}; it reads not recorded")
        return failed

    def _review(self, week: str) -> str:
        """The week's page, and its top as a PNG where a chromium is; the Slack text."""
        document = review_of_folder(
            self.folder, self.config, week=week, chart_weeks=CHART_WEEKS, running=week
        )
        pages = self.pages(document)
        folder = self.folder / REVIEWS
        _make(folder)
        page = folder / f"{week}.html"
        changed = _write_if_changed(page, pages.html.encode())
        shown = f"{page} ({'written' if changed else 'unchanged'})"
        try:
            screenshot.find_chromium()
        except RendererError:
            self._say("review", f"{shown}; no PNG: no chromium ({screenshot.INSTALL})")
        else:
            image = folder / f"{week}.png"
            if changed or not image.exists():
                write_atomically(image, screenshot.png_of(pages.top))
            shown += f" and {image}"
            self._say("review", shown)
        return pages.slack

    def _post(self, week: str, text: str) -> None:
        """The Slack post, once a week unless asked again; a receipt says when it went."""
        if not self.webhook:
            self._say("post", f"no webhook set ({webhook.ENV_WEBHOOK}), so not posted")
            return
        receipt = self._receipt(week)
        before = _posted_at(receipt)
        if before is not None and not self.repost:
            self._say("post", f"already posted at {before}; pass --repost to post again")
            return
        webhook.post(self.webhook, text)
        at = self.now().astimezone(UTC).replace(microsecond=0)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with atomic_file(receipt) as out:
            out.write(tomli_w.dumps({"week": week, "posted_at": at, "sha256": digest}).encode())
        self._say("post", f"posted the review of {week} to Slack")

    def _plan(self, week: str) -> None:
        """What a run would do now, step by step; nothing read, written or posted."""
        path = self.folder / f"{week}.toml"
        if path.exists():
            self._say("read", f"would skip: {week} has its snapshot")
        else:
            self._say("read", f"would read Stripe, keep the read in {kept_read(self.folder, week)}")
            self._say("snapshot", f"would write {path}")
        recorded = read_week(self.folder, week) if self.folder.is_dir() else {}
        self._say("kpis", f"would run {', '.join(self._waiting(recorded)) or 'nothing'}")
        self._say("review", f"would write {self.folder / REVIEWS / f'{week}.html'}")
        posted = _posted_at(self._receipt(week))
        if not self.webhook:
            self._say("post", "would not post: no webhook set")
        elif posted is not None and not self.repost:
            self._say("post", f"would not post: already posted at {posted}")
        else:
            self._say("post", "would post the review to Slack")


def _make(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise cannot_write(folder, err, what="the folder ", hint=", or pass --dir") from None


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if read_own(path, len(data) + 1) == data:
            return False
    except OSError:
        pass
    write_atomically(path, data)
    return True


def _posted_at(receipt: Path) -> str | None:
    """When the week's review was posted, if its receipt says so."""
    try:
        stamp = tomllib.loads(read_own(receipt, 4096).decode("utf-8")).get("posted_at")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return stamp.strftime("%Y-%m-%d %H:%M UTC") if isinstance(stamp, datetime) else None
