"""`ffkpi weekly`: the week's job, for cron."""

from typing import Annotated

import typer

from ffkpi import __version__, clock, render
from ffkpi.cli.commands import LockTimeout
from ffkpi.cli.connection import read_stripe
from ffkpi.cli.options import (
    CommandTimeoutOption,
    ConfigOption,
    DirOption,
    InputOption,
    PostToOption,
    StripeOptions,
    grouped,
)
from ffkpi.cli.record import show_failed
from ffkpi.cli.runs import invoices_for
from ffkpi.errors import UsageError
from ffkpi.review.document import Review
from ffkpi.sources.files import read_input
from ffkpi.sources.stream_writer import write_stream_to
from ffkpi.storage.config_file import find_config, load_config
from ffkpi.storage.reads import copy_into
from ffkpi.storage.snapshots import snapshot_folder
from ffkpi.stripe.bundle import Recorder
from ffkpi.usecases import kpis
from ffkpi.usecases.weekly import Pages, Read, Weekly


@grouped
def weekly(
    live: StripeOptions,
    input_file: InputOption = None,
    config_path: ConfigOption = None,
    directory: DirOption = None,
    post_to: PostToOption = None,
    repost: Annotated[
        bool, typer.Option("--repost", help="Post the week's review again if it was posted.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what the run would do; do nothing.")
    ] = False,
    timeout: CommandTimeoutOption = kpis.COMMAND_TIMEOUT,
    lock_timeout: LockTimeout = 600,
) -> None:
    """Run the week's job, from cron: read Stripe once, keep the read, take the snapshot,
    record the other KPIs, render the review and post it to Slack.

    Every step logs one line on stderr with its UTC time. The first step that fails
    stops the run with its exit code and names the step; a KPI command that fails is
    named, its KPI reads "not recorded", and the run goes on and exits 7. Run again in
    the same week, it redoes nothing already done (--repost posts again). With --input,
    the file must have been read in the running week. The folder's lock is held
    throughout.

    Example:

        ffkpi weekly --api-key-file ~/.config/ffkpi/key

        ffkpi weekly --dry-run
    """
    path = find_config(config_path)
    if path is None:
        raise UsageError(
            "no config file found", "pass --config PATH, or set FFKPI_CONFIG, for the weekly run"
        )
    config = load_config(path)
    for message in config.warnings():
        render.warning(f"{path}: {message}")

    def read() -> Read:
        if input_file is not None:
            data = read_input(input_file)
            modified = data.read_at if data.read_at_is_file_time else None
            return Read(data, copy_into(input_file), str(input_file), modified)
        recorder = Recorder()
        canceled = "canceled" in config.policy.statuses
        data = read_stripe(
            live,
            invoices_for=invoices_for(config),
            canceled=canceled,
            recorder=recorder,
            names=True,
        )
        return Read(data, lambda out: write_stream_to(out, recorder.bundle), "Stripe")

    run = Weekly(
        snapshot_folder(directory, config, path),
        config,
        __version__,
        clock.now,
        render.note,
        _pages,
        webhook=post_to,
        repost=repost,
        dry_run=dry_run,
        timeout=timeout,
        lock_timeout=lock_timeout,
        base=path.parent,
    )
    show_failed(run.run(read))


def _pages(document: Review) -> Pages:
    return Pages(
        render.review_html(document),
        render.review_html(document, top_only=True),
        render.review_text(document, "slack"),
    )
