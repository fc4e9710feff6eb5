"""`ffkpi review`: the Tuesday KPI review of one week."""

import dataclasses
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ffkpi import clock, render, webhook
from ffkpi.cli.options import (
    DirOption,
    PastOptions,
    PostToOption,
    StripeOptions,
    day_option,
    grouped,
)
from ffkpi.cli.runs import load_past, one_source, run_config
from ffkpi.engine.calendar import week_name
from ffkpi.review.document import Review
from ffkpi.storage.snapshots import snapshot_folder
from ffkpi.usecases.reviewing import (
    live_since,
    refuse_conflicts,
    refuse_stale_post,
    review_of_config,
    review_of_read,
)


class ReviewFormat(StrEnum):
    html = "html"
    png = "png"
    json = "json"
    markdown = "markdown"
    slack = "slack"


@grouped
def review(
    past: PastOptions,
    live: StripeOptions,
    directory: DirOption = None,
    from_stripe: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Rebuild the weeks from the account's invoices, read from Stripe now "
            "(from --since; default: enough weeks for the chart and a year's growth).",
        ),
    ] = False,
    week: Annotated[
        str | None,
        typer.Option("--week", metavar="YYYY-Www", help="The week (default: the newest)."),
    ] = None,
    as_of: Annotated[
        datetime | None, day_option("--as-of", "The week whose as-of day this is.")
    ] = None,
    weeks: Annotated[
        int, typer.Option("--weeks", min=2, max=520, help="Weeks of MRR the chart shows.")
    ] = 52,
    fmt: Annotated[
        ReviewFormat,
        typer.Option(
            "--format",
            "-f",
            help="markdown for Notion, slack for Slack, html for a browser, png (the page's "
            "top, for a chat; needs chromium), json.",
        ),
    ] = ReviewFormat.markdown,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write it to this file.")
    ] = None,
    post_to: PostToOption = None,
) -> None:
    """Show the Tuesday KPI review of a week: MRR against the target, what moved it, and
    the other KPIs against their goals.

    From the snapshot folder; or with --input FILE, --demo or --live (the account read
    now), from weeks rebuilt from the invoices. The other KPIs are those `ffkpi record`
    keeps beside the snapshots.

    Example:

        ffkpi review --format markdown --output review.md

        ffkpi review --demo --format json
    """
    one_source(past.input_file, past.demo)
    day = as_of.date() if as_of else None
    refuse_conflicts(
        week=week,
        as_of=day,
        live=from_stripe,
        input_file=past.input_file,
        demo=past.demo,
        image_to_stdout=fmt == ReviewFormat.png and output is None,
    )
    running = week_name(clock.today())
    if past.input_file is None and not past.demo and not from_stripe:
        chosen = week or (week_name(day) if day else None)
        document = review_of_config(
            past.config, directory, week=chosen, chart_weeks=weeks, running=running
        )
    else:
        document = _review_of_read(past, live, directory, from_stripe, week, day, weeks, running)
    if post_to:
        refuse_stale_post(document, named=week is not None, running=running)
        webhook.post(post_to, render.review_text(document, "slack"))
        render.note(f"posted the review of {document.week} to Slack")
    else:
        render.save_review(document, fmt.value, output)


def _review_of_read(
    past: PastOptions,
    live: StripeOptions,
    directory: Path | None,
    from_stripe: bool,
    week: str | None,
    as_of: date | None,
    weeks: int,
    running: str,
) -> Review:
    """The review from weeks rebuilt from a file, the demo, or the account read now."""
    config, path = run_config(past)
    if from_stripe and past.since is None:
        first = live_since(clock.today(), weeks)
        past = dataclasses.replace(past, since=datetime(first.year, first.month, first.day))
    data = load_past(past, live, config, names=True, quiet_file_time=True)
    until = as_of or (past.until.date() if past.until else None)
    return review_of_read(
        data,
        config,
        snapshot_folder(directory, config, path),
        week=week,
        since=past.since.date() if past.since else None,
        until=until,
        chart_weeks=weeks,
        running=running,
        demo=past.demo,
    )
