"""The review of a week from where its data lives: the snapshot folder, or a read (a
file, the demo, the account read now) whose weeks are rebuilt in memory; the other KPIs
recorded beside the snapshots; the data notes every format shows at the top; and the
rule that a post is of the running week (docs/review-rules.md)."""

import dataclasses
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from ffkpi.config import Config
from ffkpi.engine.calendar import week_name
from ffkpi.engine.model import Dataset
from ffkpi.errors import UsageError
from ffkpi.history.growth import growth_history
from ffkpi.history.rebuild import data_day, refuse_after_read
from ffkpi.review.document import Review, build_review
from ffkpi.review.figures import HORIZONS
from ffkpi.sources.demo import demo_kpis
from ffkpi.sources.files import file_time_note
from ffkpi.storage.config_file import find_config, load_config
from ffkpi.storage.kpis import Recorded, read_all
from ffkpi.storage.snapshots import snapshot_folder
from ffkpi.usecases.check import product_notes, reconcile_note
from ffkpi.usecases.past import load_history, rebuilt_days, rebuilt_weeks

Values = Mapping[str, Mapping[str, Recorded]]


def weeks_read(chart_weeks: int) -> int:
    """The weeks a review rebuilds: those the chart shows, and those growth compounds over."""
    return max(chart_weeks, *HORIZONS)


def live_since(today: date, chart_weeks: int) -> date:
    """Where `review --live` reads invoices from by default: the weeks read, and one before."""
    return today - timedelta(weeks=weeks_read(chart_weeks) + 1)


def recorded_values(folder: Path, config: Config, *, demo: bool) -> tuple[Config, Values]:
    """The other KPIs' values recorded beside the snapshots. The demo never mixes them
    into its made-up account: it shows its own made-up values (marked as such), for the
    KPIs the config defines, or for the handbook's six when it defines none."""
    if not demo:
        return config, read_all(folder) if folder.is_dir() else {}
    kpis, values = demo_kpis()
    if not config.kpis:
        return config.model_copy(update={"kpis": kpis}), values
    return config, {
        week: {key: v for key, v in entries.items() if key in config.kpis}
        for week, entries in values.items()
    }


def review_of_config(
    config_option: Path | None,
    directory: Path | None,
    *,
    week: str | None,
    chart_weeks: int,
    running: str,
) -> Review:
    """The review from the snapshot folder of the config found (--config, $FFKPI_CONFIG,
    ./ffkpi.toml, the user's)."""
    path = find_config(config_option)
    if path is None:
        raise UsageError("no config file found", "pass --config PATH, or --demo")
    config = load_config(path)
    folder = snapshot_folder(directory, config, path)
    return review_of_folder(folder, config, week=week, chart_weeks=chart_weeks, running=running)


def refuse_conflicts(
    *,
    week: str | None,
    as_of: date | None,
    live: bool,
    input_file: Path | None,
    demo: bool,
    image_to_stdout: bool = False,
) -> None:
    """The options of `review` that cannot go together, each one line, before anything
    is read."""
    if image_to_stdout:
        raise UsageError("--format png writes an image", "pass --output FILE.png")
    if week is not None and as_of is not None:
        raise UsageError("--week and --as-of were both given", "pass one of them")
    if live and (input_file is not None or demo):
        raise UsageError("--live reads the account itself", "drop --input or --demo, or --live")


def review_of_folder(
    folder: Path,
    config: Config,
    *,
    week: str | None,
    chart_weeks: int,
    running: str,
) -> Review:
    """The review of `week` (default: the newest) from the folder's snapshots."""
    config, recorded = recorded_values(folder, config, demo=False)
    with load_history(folder, config, last=None, by_tier=True, strict=False) as loaded:
        review = build_review(loaded.history, recorded, config, week, loaded.names, chart_weeks)
    if week is None and review.week != running:
        note = (
            f"the newest week in {folder} is {review.week}, as of {review.as_of}: the running "
            f"week, {running}, has no snapshot yet"
        )
        review = dataclasses.replace(review, notes=(note, *review.notes))
    return review


def review_of_read(
    data: Dataset,
    config: Config,
    folder: Path,
    *,
    week: str | None,
    since: date | None,
    until: date | None,
    chart_weeks: int,
    running: str,
    demo: bool,
) -> Review:
    """The review of `week` (default: the read's own) from weeks rebuilt from the read's
    invoices; the read's own week is the read itself, equal to `ffkpi mrr`."""
    if until is not None:
        refuse_after_read(data, until, "--as-of")
    read = data_day(data)
    days = rebuilt_days(data, since, until, read or date.min)
    with rebuilt_weeks(data, config, days[-weeks_read(chart_weeks) - 1 :], reconciled=True) as (
        series,
        reconciliation,
    ):
        history = growth_history(series, config, last=None, by_tier=True)
    notes = product_notes(config, data)
    dated = file_time_note(data)
    if dated is not None:
        notes.append(dated)
    asked = week is not None or until is not None or demo  # the demo is of its own week
    if read is not None and week_name(read) != running and not asked:
        notes.append(
            f"the data was read on {read}, in {week_name(read)}: not the running week, {running}"
        )
    if reconciliation is not None:  # the read's week is the read; the others rebuilt
        note = reconcile_note(reconciliation)
        if note is not None:
            notes.append(note)
    config, recorded = recorded_values(folder, config, demo=demo)
    chosen = week or (week_name(until) if until is not None else None)
    return build_review(
        history, recorded, config, chosen, data.customer_names, chart_weeks, notes=notes
    )


def refuse_stale_post(review: Review, *, named: bool, running: str) -> None:
    """A post is of the running week; another week is posted only when named with --week."""
    if review.week != running and not named:
        raise UsageError(
            f"the newest week found is {review.week} (as of {review.as_of}), not the running "
            f"week {running}: a post is of the running week",
            f"take this week's snapshot first (ffkpi weekly), or pass --week {review.week} to "
            "post that week anyway",
        )
