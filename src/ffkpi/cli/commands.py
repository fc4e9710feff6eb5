"""The ffkpi commands: each reads its options, makes one library call, renders once."""

import os
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from ffkpi import __version__, clock, render
from ffkpi.cli.connection import read_stripe
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
from ffkpi.cli.prompts import Prompts, parse_rates
from ffkpi.cli.runs import as_of, check_data, load_data, load_run, one_source, run_config
from ffkpi.config import Config
from ffkpi.engine.calendar import week_name
from ffkpi.engine.model import STATUSES
from ffkpi.engine.mrr import compute_report
from ffkpi.errors import ExitCode, UsageError
from ffkpi.history.rebuild import history_start
from ffkpi.sources.demo import demo_config, example_config_text
from ffkpi.sources.files import write_bundle
from ffkpi.storage.customer_files import customer_file
from ffkpi.storage.files import write_atomically
from ffkpi.storage.snapshots import snapshot_folder, write_snapshot
from ffkpi.stripe.bundle import Recorder
from ffkpi.usecases import onboarding
from ffkpi.usecases.check import Finding, exit_code, product_notes, run_checks, worst
from ffkpi.usecases.kpis import run_days
from ffkpi.usecases.sources import check_sources
from ffkpi.usecases.week_files import counted_week

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
    report = compute_report(run.data, run.config, run.as_of, customers=False)
    render.show_report(report, fmt, lead="mrr")


@grouped
def arr(source: ReportOptions, live: StripeOptions, fmt: FormatOption = Format.table) -> None:
    """Show the same report as `mrr`, led by ARR.

    Example:

        ffkpi arr --demo
    """
    run = load_run(source, live)
    report = compute_report(run.data, run.config, run.as_of, customers=False)
    render.show_report(report, fmt, lead="arr")


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
    run = load_run(source, live, names=True)
    with counted_week(run.data, run.config, run.as_of) as (report, rows):
        notes = product_notes(run.config, run.data)
        for line in notes:
            render.warning(line)
        saved = write_snapshot(
            snapshot_folder(directory, run.config, run.config_path),
            report,
            customer_file(report, run.data.customer_names, rows),
            config_digest=run.config.digest,
            created_at=clock.now(),
            version=__version__,
            force=force,
            lock_timeout=lock_timeout,
            notes=notes,
        )
    week, running = week_name(report.as_of), week_name(clock.today())
    if source.as_of is None and week != running:
        render.note(f"the data was read on {report.as_of}: a snapshot of {week}, not of {running}")
    if saved.kept:
        render.note(f"{week} already has a snapshot, left untouched (pass --force to replace it)")
    render.show_snapshot(report, saved, as_json=fmt is TextFormat.json)


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

        ffkpi fetch --output stripe-2026-11-24.jsonl

        ffkpi fetch --since 2024-11-25 --output stripe-history.jsonl
    """
    refuse_existing(output, force)
    history_from = None if since is None else history_start(since.date(), clock.today())
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
    loaded: list[tuple[Config, Path | None]] = []

    def config() -> tuple[Config, Path | None]:
        loaded.append(run_config(source))
        return loaded[-1]

    findings = run_checks(
        config,
        lambda config, found: check_data(source, live, config, found),
        lambda data: as_of(source, data),
    )
    code = exit_code(findings)
    if loaded:
        found, source_code = _check_sources(*loaded[0])
        findings += found
        code = worst(code, source_code)
    render.show_findings(findings, as_json=fmt is TextFormat.json)
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))


def _check_sources(config: Config, path: Path | None) -> tuple[list[Finding], ExitCode]:
    """The KPIs' built-in sources, for the running week's as-of day of the folder."""
    if path is None or not any(k.runs and k.command is None for k in config.kpis.values()):
        return [], ExitCode.OK
    now = clock.now()
    folder = snapshot_folder(None, config, path)
    day = run_days(folder, now.date(), None, None, None)[0]
    return check_sources(config.kpis, day, base=path.parent, env=os.environ, now=now)


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
    target: Annotated[
        float | None,
        typer.Option(
            "--target",
            min=0,
            max=1000,
            callback=finite,
            metavar="PERCENT",
            help="The weekly MRR growth target, in % (default: the handbook's 10).",
        ),
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
    listing = compute_report(
        data, setup.listing(example.policy), as_of(source, data), customers=False
    )
    render.product_listing(listing, onboarding.listing_note(example.policy))
    plans = onboarding.plan_tiers(setup.names, ask)
    given = None if target is None else Decimal(str(target)) / 100
    weekly_target = onboarding.growth_target(given, ask)
    origin = "the demo account" if demo else str(input_file or "the Stripe account")
    written = onboarding.config_file(example_config_text(), setup, plans, origin, weekly_target)
    write_atomically(output, written)
    render.note(onboarding.target_note(weekly_target))
    render.note(
        f"wrote {len(plans)} tiers with {len(setup.names)} products; check them with ffkpi check"
    )
    render.write(f"{output}\n")


def refuse_existing(output: Path, force: bool) -> None:
    """A file is replaced only when asked to (-o ffkpi.toml must not destroy a config)."""
    if (output.exists() or output.is_symlink()) and not force:
        raise UsageError(f"{output} already exists", "pass --force to replace it, or --output")
