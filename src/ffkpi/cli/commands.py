"""The ffkpi commands: each reads its options, makes one library call, renders once."""

import os
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException  # typer's own click
from typer.core import TyperGroup

from ffkpi import __version__, onboarding, render
from ffkpi.check import Finding, exit_code, run_checks
from ffkpi.cli.options import (
    DemoOption,
    DirOption,
    ForceOption,
    Format,
    FormatOption,
    InputOption,
    ReportOptions,
    StripeOptions,
    TextFormat,
    day_option,
    finite,
    grouped,
)
from ffkpi.cli.runs import (
    Prompts,
    as_of,
    load_data,
    load_run,
    one_source,
    parse_rates,
    read_stripe,
    run_config,
    stripe_findings,
)
from ffkpi.config import Config
from ffkpi.engine.calendar import week_name
from ffkpi.engine.model import STATUSES, Dataset
from ffkpi.engine.mrr import compute_report
from ffkpi.errors import ExitCode, FfkpiError, UsageError
from ffkpi.history.rebuild import history_start
from ffkpi.sources.demo import demo_config, example_config_text
from ffkpi.sources.files import write_bundle
from ffkpi.storage.files import write_atomically
from ffkpi.storage.snapshots import snapshot_folder, write_snapshot
from ffkpi.stripe.bundle import Recorder

LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        min=0,
        max=86_400,
        callback=finite,
        metavar="SECONDS",
        help="How long to wait for another run writing to the folder (then exit 6).",
    ),
]
VERBOSE = threading.Event()  # set by --verbose for this run


class Commands(TyperGroup):
    """Every command runs inside the one place that turns an FfkpiError into
    `ffkpi: error: <what> (<how to fix>)` and its exit code, and Ctrl-C into one line;
    the option parser's own errors become one such line too (exit 2)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except ClickException as err:
            if not standalone_mode:
                raise
            if type(err).__name__ == "NoArgsIsHelpError":  # plain `ffkpi`: the help
                err.show()
                sys.exit(err.exit_code)
            render.error(_usage_message(err))
            sys.exit(ExitCode.USAGE)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else ExitCode.OK)

    def invoke(self, ctx: Any) -> Any:  # a click Context, from the group typer builds
        try:
            return super().invoke(ctx)
        except FfkpiError as err:
            render.error(err.message)
            if VERBOSE.is_set() and err.detail:
                render.note(f"detail: {err.detail}")
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            render.error("interrupted; nothing was written")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # The reader stopped reading (`| head -1`): what it wanted, it has. Later
            # writes, and Python's own flush at exit, go nowhere instead of failing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.OK)) from None


app = typer.Typer(
    name="ffkpi",
    cls=Commands,
    help="MRR and ARR per pricing tier and product, straight from Stripe.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        render.write(f"ffkpi {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Add detail to errors (request ids, fields)."),
    ] = False,
) -> None:
    """MRR and ARR per pricing tier and product, straight from Stripe."""
    if verbose:
        VERBOSE.set()
    else:
        VERBOSE.clear()


@app.command()
@grouped
def mrr(source: ReportOptions, live: StripeOptions, fmt: FormatOption = Format.table) -> None:
    """Show MRR per tier and product, with the total MRR and ARR.

    Without --input or --demo it reads the account of $STRIPE_API_KEY.

    Example:

        ffkpi mrr --demo

        ffkpi mrr --input subscriptions.json --as-of 2026-11-22 --format json

        STRIPE_API_KEY=rk_live_... ffkpi mrr --format json
    """
    run = load_run(source, live)
    render.show_report(compute_report(run.data, run.config, run.as_of), fmt, lead="mrr")


@app.command()
@grouped
def arr(source: ReportOptions, live: StripeOptions, fmt: FormatOption = Format.table) -> None:
    """Show the same report as `mrr`, led by ARR.

    Example:

        ffkpi arr --demo
    """
    run = load_run(source, live)
    render.show_report(compute_report(run.data, run.config, run.as_of), fmt, lead="arr")


@app.command()
@grouped
def snapshot(
    source: ReportOptions,
    live: StripeOptions,
    directory: DirOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the week's snapshot if it has one.")
    ] = False,
    fmt: Annotated[
        TextFormat, typer.Option("--format", "-f", help="text: the path; json: the report too.")
    ] = TextFormat.text,
    lock_timeout: LockTimeout = 600,
) -> None:
    """Write this week's snapshot of the report, for the growth history (run it from cron).

    The file is <dir>/<ISO year>-W<ISO week>.toml. A week that already has one is left
    untouched and the command still exits 0, so cron retries are safe.

    Example:

        ffkpi snapshot --input subscriptions.json --dir snapshots
    """
    run = load_run(source, live)
    report = compute_report(run.data, run.config, run.as_of)
    saved = write_snapshot(
        snapshot_folder(directory, run.config, run.config_path),
        report,
        config_digest=run.config.digest,
        created_at=datetime.now(UTC),
        version=__version__,
        force=force,
        lock_timeout=lock_timeout,
    )
    if saved.kept:
        render.note(
            f"{week_name(report.as_of)} already has a snapshot, left untouched "
            "(pass --force to replace it)"
        )
    render.show_snapshot(report, saved, as_json=fmt is TextFormat.json)


@app.command()
@grouped
def fetch(
    live: StripeOptions,
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="The bundle file to write.")
    ],
    force: ForceOption = False,
    since: Annotated[
        datetime | None,
        day_option(
            "--since",
            "Also save the invoices and pending invoice items past weeks from this day on "
            "are rebuilt from.",
        ),
    ] = None,
) -> None:
    """Save everything ffkpi reads from Stripe as one bundle file, to run offline later.

    `ffkpi mrr --input FILE` on the bundle gives the same figures as the live run; it is
    also the file to attach to a bug report. Written atomically (a failed fetch leaves
    no file) and readable by you alone: it holds customer names and emails.

    Example:

        ffkpi fetch --output stripe-2026-11-24.json

        ffkpi fetch --since 2024-11-25 --output stripe-history.json
    """
    refuse_existing(output, force)
    history_from = None if since is None else history_start(since.date(), datetime.now(UTC).date())
    recorder = Recorder()
    read_stripe(
        live,
        invoices_for=frozenset(STATUSES),
        canceled=True,
        recorder=recorder,
        history_from=history_from,
    )
    write_bundle(output, recorder.bundle)
    render.note(f"{len(recorder.bundle.subscriptions):,} subscriptions written to {output}")
    render.write(f"{output}\n")


@app.command()
@grouped
def check(
    source: ReportOptions,
    live: StripeOptions,
    fmt: Annotated[
        TextFormat, typer.Option("--format", "-f", help="text for people, json for scripts.")
    ] = TextFormat.text,
) -> None:
    """Check that the config, the key and the Stripe account agree, before trusting a number.

    Lists findings, each ok, warning or error: the config; the key and, for a restricted
    key, each permission ffkpi needs; each configured product; products no tier lists;
    currencies without a rate; subscriptions that count 0 and why. Exits 3 when any
    finding is an error (4 when it is the key's).

    Example:

        ffkpi check

        ffkpi check --demo --config ffkpi.toml --format json
    """
    one_source(source.input_file, source.demo)

    def data(config: Config, findings: list[Finding]) -> Dataset | None:
        if source.input_file is not None or source.demo:
            return load_data(source, live, config, history=True)
        return stripe_findings(live, config, findings)

    findings = run_checks(lambda: run_config(source), data, as_of(source))
    render.show_findings(findings, as_json=fmt is TextFormat.json)
    if exit_code(findings) is not ExitCode.OK:
        raise typer.Exit(int(exit_code(findings)))


@app.command()
@grouped
def init(
    live: StripeOptions,
    input_file: InputOption = None,
    demo: DemoOption = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="The config file to write.")
    ] = Path("ffkpi.toml"),
    force: ForceOption = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Write the suggestion without asking.")
    ] = False,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Reporting currency (default: the most used).")
    ] = None,
    fx: Annotated[
        list[str] | None,
        typer.Option("--fx", metavar="CUR=RATE", help="An exchange rate, e.g. eur=1.08."),
    ] = None,
) -> None:
    """Write a config from the account's products, grouped into tiers.

    Lists every recurring product with its active subscriptions and MRR and suggests
    tiers from the product names. On a terminal it asks for each product's tier and
    each tier's rule; with --yes, or without a terminal, it writes the suggestion.

    Example:

        ffkpi init

        ffkpi init --demo --yes --output demo.toml
    """
    source = ReportOptions(input_file=input_file, demo=demo)
    one_source(input_file, demo)
    refuse_existing(output, force)
    example = demo_config()  # the config written starts from it: list as it will count
    data = load_data(source, live, example)
    ask = None if yes or not sys.stdin.isatty() else Prompts()
    rates = {**(example.fx if demo else {}), **parse_rates(fx or [])}
    setup = onboarding.prepare(data, currency, rates, ask)
    listing = compute_report(data, setup.listing(example.policy), as_of(source))
    render.product_listing(listing, onboarding.listing_note(example.policy))
    plans = onboarding.plan_tiers(setup.names, ask)
    origin = "the demo account" if demo else str(input_file or "the Stripe account")
    write_atomically(output, onboarding.config_file(example_config_text(), setup, plans, origin))
    render.note(
        f"wrote {len(plans)} tiers with {len(setup.names)} products; check them with ffkpi check"
    )
    render.write(f"{output}\n")


def _usage_message(err: ClickException) -> str:
    """The parser's complaint in one line, with where to read the command's options."""
    message = err.format_message().replace("Value error, ", "")
    context = getattr(err, "ctx", None)
    command = context.command_path if context is not None else "ffkpi"
    return f"{message} (see {command} --help)"


def refuse_existing(output: Path, force: bool) -> None:
    """A file is replaced only when asked to (-o ffkpi.toml must not destroy a config)."""
    if (output.exists() or output.is_symlink()) and not force:
        raise UsageError(f"{output} already exists", "pass --force to replace it, or --output")


def main() -> None:
    try:
        app()
    except SystemExit as done:
        if done.code == ExitCode.INTERRUPTED:
            # Requests still in flight would hold the exit until they time out.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(ExitCode.INTERRUPTED))
        raise
