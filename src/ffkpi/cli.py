"""The ffkpi command line: parse options, call the library, render. The only typer module."""

import functools
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from ffkpi import __version__, render
from ffkpi.check import (
    Finding,
    check_currencies,
    check_products,
    check_report,
    missing_rates,
    with_placeholder_rates,
)
from ffkpi.config import (
    ENV_API_BASE,
    Config,
    Growth,
    find_config,
    load_config,
    parse_config,
    read_api_key,
)
from ffkpi.errors import (
    ConfigError,
    ExitCode,
    FfkpiError,
    StorageError,
    StripeAuthError,
    UsageError,
)
from ffkpi.model import STATUSES, Dataset
from ffkpi.mrr import Report, compute_report
from ffkpi.onboarding import config_text, group, suggest_tiers
from ffkpi.snapshots import growth_weeks, read_snapshots, week_of, write_snapshot
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, example_config_text, load_demo
from ffkpi.sources.files import read_input, write_bundle
from ffkpi.storage import write_atomically
from ffkpi.stripe.account import DEFAULT_CONCURRENCY, AccountReader
from ffkpi.stripe.bundle import Recorder
from ffkpi.stripe.http import (
    PERMISSIONS,
    RetryPolicy,
    StripeHttp,
    is_test_key,
    missing_permissions,
    scrub,
)

app = typer.Typer(
    name="ffkpi",
    help="MRR and ARR per pricing tier and product, straight from Stripe.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

DEFAULT_SNAPSHOTS = Path("snapshots")
VERBOSE = threading.Event()  # set by --verbose for this run
RETRY_FOR = RetryPolicy().max_total
P = ParamSpec("P")
R = TypeVar("R")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The one place an FfkpiError becomes `ffkpi: error: ...` and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except FfkpiError as err:
            render.error(scrub(err.message))  # no key ever reaches the screen
            if VERBOSE.is_set() and err.detail:
                render.note(f"detail: {scrub(err.detail)}")
            raise typer.Exit(int(err.exit_code)) from None

    return wrapper


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


InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input", "-i", dir_okay=False, help="Read subscriptions from a Stripe JSON file."
    ),
]
DemoOption = Annotated[bool, typer.Option("--demo", help="Use the bundled demo account.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        dir_okay=False,
        help="Config file (default: $FFKPI_CONFIG, ./ffkpi.toml, then the user config dir).",
    ),
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        metavar="YYYY-MM-DD",
        help="Evaluate trials, coupons and cancellations at the end of this day (UTC). "
        "Default: today.",
    ),
]
ApiKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--api-key-file",
        dir_okay=False,
        help="Read the Stripe API key from this file's first line (default: $STRIPE_API_KEY).",
    ),
]
ApiBaseOption = Annotated[str | None, typer.Option("--api-base", envvar=ENV_API_BASE, hidden=True)]
MaxRpsOption = Annotated[
    float | None,
    typer.Option(
        "--max-rps",
        min=0.1,
        help="Stripe requests per second at most (default 20, or 10 with a test-mode key).",
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=1, max=64, help="Stripe requests in flight at most.")
]
RetryForOption = Annotated[
    float,
    typer.Option(
        "--retry-for",
        min=0,
        metavar="SECONDS",
        help="How long to keep retrying a failing Stripe request before giving up (exit 5).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress display while reading Stripe.")
]


@dataclass(frozen=True)
class LiveOptions:
    api_key_file: Path | None = None
    api_base: str | None = None
    max_rps: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    quiet: bool = False
    retry_for: float = RETRY_FOR


def stripe_http(live: LiveOptions) -> StripeHttp:
    """A Stripe client for the key given, with the notices that go with it."""
    key, warnings = read_api_key(live.api_key_file)
    for message in warnings:
        render.warning(message)
    test_mode = is_test_key(key)
    if test_mode:
        render.note("test mode: this key reads Stripe's test data, not live revenue")
    return StripeHttp(
        key,
        api_base=live.api_base,
        max_rps=live.max_rps or (10 if test_mode else 20),
        retry=RetryPolicy(max_total=live.retry_for),
    )


def read_stripe(
    live: LiveOptions,
    *,
    invoices_for: frozenset[str] | None,
    canceled: bool = False,
    recorder: Recorder | None = None,
    http: StripeHttp | None = None,
) -> Dataset:
    http = http or stripe_http(live)
    show = not live.quiet and sys.stderr.isatty()
    with render.fetch_progress(show) as progress:
        reader = AccountReader(
            http, concurrency=live.concurrency, on_progress=lambda c: progress(c.describe())
        )
        return reader.read(invoices_for=invoices_for, canceled=canceled, recorder=recorder)


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table for people, json or csv for scripts.")
]


def _config(config_path: Path | None, demo: bool) -> tuple[Config, Path | None]:
    """The config in force and the file it came from (None: the demo's own)."""
    path = find_config(config_path)
    if path is not None:
        return load_config(path), path
    if demo:
        return demo_config(), None
    raise UsageError(
        "no config file found",
        "pass --config PATH, set FFKPI_CONFIG, or copy config.example.toml to ./ffkpi.toml",
    )


def _one_source(input_file: Path | None, demo: bool) -> None:
    if input_file is not None and demo:
        raise UsageError("--input and --demo were both given", "pass one of them")


def _invoices_for(config: Config) -> frozenset[str] | None:
    """Statuses whose metered items need their invoices read: only for last_invoice."""
    policy = config.policy
    return frozenset(policy.statuses) if policy.metered == "last_invoice" else None


def _data(
    input_file: Path | None,
    demo: bool,
    live: LiveOptions,
    invoices_for: frozenset[str] | None,
) -> Dataset:
    if demo:
        return load_demo()
    if input_file is not None:
        return read_input(input_file)
    return read_stripe(live, invoices_for=invoices_for)


def _as_of(as_of: datetime | None, demo: bool) -> date:
    if as_of is not None:
        return as_of.date()
    return DEMO_AS_OF if demo else datetime.now(UTC).date()


def build_report(
    input_file: Path | None,
    demo: bool,
    config_path: Path | None,
    as_of: datetime | None,
    live: LiveOptions,
) -> tuple[Report, Config, Path | None]:
    """Everything a report needs, checked before any of it is used."""
    _one_source(input_file, demo)
    config, path = _config(config_path, demo)
    data = _data(input_file, demo, live, _invoices_for(config))
    return compute_report(data, config, _as_of(as_of, demo)), config, path


def _emit(report: Report, fmt: Format, lead: render.Lead) -> None:
    if fmt is Format.json:
        render.write(render.report_json(report))
    elif fmt is Format.csv:
        render.write(render.report_csv(report))
    else:
        render.report_table(report, lead=lead)


@app.command()
@handles_errors
def mrr(
    input_file: InputOption = None,
    demo: DemoOption = False,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = Format.table,
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
) -> None:
    """Show MRR per tier and product, with the total MRR and ARR.

    Without --input or --demo it reads the account of $STRIPE_API_KEY.

    Example:

        ffkpi mrr --demo

        ffkpi mrr --input subscriptions.json --as-of 2026-11-22 --format json

        STRIPE_API_KEY=rk_live_... ffkpi mrr --format json
    """
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    _emit(build_report(input_file, demo, config, as_of, live)[0], fmt, "mrr")


@app.command()
@handles_errors
def arr(
    input_file: InputOption = None,
    demo: DemoOption = False,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = Format.table,
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
) -> None:
    """Show the same report as `mrr`, led by ARR.

    Example:

        ffkpi arr --demo
    """
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    _emit(build_report(input_file, demo, config, as_of, live)[0], fmt, "arr")


class TextFormat(StrEnum):
    text = "text"
    json = "json"


DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        file_okay=False,
        help="Snapshot folder (default: the config's snapshots_dir, else ./snapshots).",
    ),
]


def _snapshot_dir(directory: Path | None, config: Config | None, path: Path | None) -> Path:
    if directory is not None:
        return directory
    if config is not None and config.snapshots_dir:
        base = path.parent if path is not None else Path.cwd()
        return base / config.snapshots_dir
    return DEFAULT_SNAPSHOTS


@app.command()
@handles_errors
def snapshot(
    input_file: InputOption = None,
    demo: DemoOption = False,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    directory: DirOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the week's snapshot if it has one.")
    ] = False,
    fmt: Annotated[
        TextFormat, typer.Option("--format", "-f", help="text: the path; json: the report too.")
    ] = TextFormat.text,
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
) -> None:
    """Write this week's snapshot of the report, for the growth history (run it from cron).

    The file is <dir>/<ISO year>-W<ISO week>.toml. A week that already has one is left
    untouched and the command still exits 0, so cron retries are safe.

    Example:

        ffkpi snapshot --input subscriptions.json --dir snapshots
    """
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    report, cfg, path = build_report(input_file, demo, config, as_of, live)
    folder = _snapshot_dir(directory, cfg, path)
    result = write_snapshot(
        folder,
        report,
        config_digest=cfg.digest,
        created_at=datetime.now(UTC),
        version=__version__,
        force=force,
    )
    if not result.written:
        render.note(
            f"{week_of(report.as_of)} already has a snapshot, left untouched "
            "(pass --force to replace it)"
        )
    if fmt is TextFormat.json:
        document = render.report_dict(report)
        document["snapshot"] = {"path": str(result.path), "written": result.written}
        render.write(render.to_json(document))
    else:
        render.write(f"{result.path}\n")


@app.command()
@handles_errors
def history(
    config: ConfigOption = None,
    directory: DirOption = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", min=1, help="Show only the last N weeks.")
    ] = None,
    by_tier: Annotated[bool, typer.Option("--by-tier", help="Also show each tier.")] = False,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Draw MRR as a chart.")] = True,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 6) on a file that is not a snapshot.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Show MRR and ARR week over week, with growth against the weekly target.

    Example:

        ffkpi history --weeks 12 --by-tier
    """
    path = find_config(config)
    cfg = load_config(path) if path is not None else None
    folder = _snapshot_dir(directory, cfg, path)
    stored = read_snapshots(folder)
    for skipped in stored.skipped:
        if strict:
            raise StorageError(
                f"{skipped.path} is not a readable snapshot: {skipped.reason}",
                "move it out of the snapshot folder, or drop --strict to skip it",
            )
        render.warning(f"skipped {skipped.path}: {skipped.reason}")
    target = cfg.growth.weekly_target if cfg is not None else Growth().weekly_target
    latest = stored.snapshots[-1] if stored.snapshots else None
    digest = cfg.digest if cfg is not None else latest.config_digest if latest else None
    rows = growth_weeks(stored.snapshots, target, digest=digest)[-(weeks or 0) :]
    tiers = None
    if by_tier:
        names = [t.name for t in (cfg.tiers if cfg is not None else latest.tiers if latest else ())]
        tiers = {
            name: growth_weeks(stored.snapshots, target, digest=digest, tier=name)[-(weeks or 0) :]
            for name in names
        }
    if fmt is Format.json:
        render.write(render.history_json(rows, target, tiers))
    elif fmt is Format.csv:
        render.write(render.history_csv(rows, tiers))
    elif not rows:
        render.note(f"no snapshots in {folder} yet (run `ffkpi snapshot` once a week)")
    else:
        render.history_table(rows, target, by_tier=tiers, chart=chart)


@app.command()
@handles_errors
def fetch(
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="The bundle file to write.")
    ],
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
) -> None:
    """Save everything ffkpi reads from Stripe as one bundle file, to run offline later.

    `ffkpi mrr --input FILE` on the bundle gives the same figures as the live run; it is
    also the file to attach to a bug report. Written atomically: a failed fetch leaves
    no file.

    Example:

        ffkpi fetch --output stripe-2026-11-24.json
    """
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    recorder = Recorder()
    read_stripe(live, invoices_for=frozenset(STATUSES), canceled=True, recorder=recorder)
    write_bundle(output, recorder.bundle)
    render.note(f"{len(recorder.bundle.subscriptions):,} subscriptions written to {output}")
    render.write(f"{output}\n")


@app.command()
@handles_errors
def check(
    input_file: InputOption = None,
    demo: DemoOption = False,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    fmt: Annotated[
        TextFormat, typer.Option("--format", "-f", help="text for people, json for scripts.")
    ] = TextFormat.text,
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
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
    _one_source(input_file, demo)
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    findings: list[Finding] = []
    data: Dataset | None = None
    try:
        cfg, path = _config(config, demo)
        where = str(path) if path else "the demo config (config.example.toml)"
        findings.append(Finding("ok", "config", f"{where} is valid"))
        if input_file is not None or demo:
            data = _data(input_file, demo, live, _invoices_for(cfg))
        else:
            data = _check_stripe(live, cfg, findings)
    except ConfigError as err:
        findings.append(Finding("error", "config", err.message))
    except StripeAuthError as err:
        findings.append(Finding("error", "key", err.message))
    if data is not None:
        findings += check_products(cfg, data)
        missing = missing_rates(cfg, data)
        findings += check_currencies(missing, cfg)
        report = compute_report(data, with_placeholder_rates(cfg, missing), _as_of(as_of, demo))
        findings += check_report(report, cfg)
    if fmt is TextFormat.json:
        render.write(render.findings_json(findings))
    else:
        render.findings_table(findings)
    errors = {f.topic for f in findings if f.level == "error"}
    if errors:
        raise typer.Exit(int(ExitCode.STRIPE_AUTH if "key" in errors else ExitCode.INVALID))


def _check_stripe(live: LiveOptions, config: Config, findings: list[Finding]) -> Dataset | None:
    """The key's findings, then the account's data if the key can read all of it."""
    http = stripe_http(live)
    needed = ["/v1/subscriptions", "/v1/prices", "/v1/products", "/v1/coupons"]
    if _invoices_for(config) is not None:
        needed.append("/v1/invoices")
    mode = "test" if is_test_key(http.key) else "live"
    restricted = http.key.startswith("rk_")
    missing = missing_permissions(http, needed)
    kind = "restricted key" if restricted else "secret key"
    findings.append(Finding("ok", "key", f"the {kind} works ({mode} mode)"))
    for err in missing:
        findings.append(Finding("error", "key", err.message))
    if missing:
        return None
    if restricted:
        names = ", ".join(sorted({PERMISSIONS[p] for p in needed}))
        findings.append(Finding("ok", "key", f"it can read everything ffkpi needs: {names}"))
    return read_stripe(live, invoices_for=_invoices_for(config), http=http)


def _parse_rates(entries: list[str]) -> dict[str, Decimal]:
    rates = {}
    for entry in entries:
        code, _, rate = entry.partition("=")
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            value = Decimal(0)
        if len(code.strip()) != 3 or not value.is_finite() or value <= 0:
            raise UsageError(f"--fx {entry!r} is not CURRENCY=RATE", "write it like --fx eur=1.08")
        rates[code.strip().lower()] = value
    return rates


@app.command()
@handles_errors
def init(
    input_file: InputOption = None,
    demo: DemoOption = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="The config file to write.")
    ] = Path("ffkpi.toml"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
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
    api_key_file: ApiKeyFileOption = None,
    api_base: ApiBaseOption = None,
    max_rps: MaxRpsOption = None,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    retry_for: RetryForOption = RETRY_FOR,
    quiet: QuietOption = False,
) -> None:
    """Write a config from the account's products, grouped into tiers.

    Lists every recurring product with its active subscriptions and MRR and suggests
    tiers from the product names. On a terminal it asks for each product's tier and
    each tier's rule; with --yes, or without a terminal, it writes the suggestion.

    Example:

        ffkpi init

        ffkpi init --demo --yes --output demo.toml
    """
    _one_source(input_file, demo)
    if output.exists() and not force:
        raise UsageError(f"{output} already exists", "pass --force to replace it, or --output")
    live = LiveOptions(api_key_file, api_base, max_rps, concurrency, quiet, retry_for)
    example = demo_config() if demo else None
    data = _data(input_file, demo, live, invoices_for=None)  # Stripe's policy: metered out
    # Recurring products: those subscriptions use, named where the data names them.
    used = {item.price.product_id for sub in data.subscriptions for item in sub.items}
    names = dict(sorted(((p, data.product_names.get(p, p)) for p in used), key=lambda e: e[1]))
    counted = Counter(s.currency for s in data.subscriptions if s.status in ("active", "past_due"))
    reporting = (currency or (counted.most_common(1)[0][0] if counted else "usd")).lower()
    rates = {**(dict(example.fx) if example else {}), **_parse_rates(fx or [])}
    interactive = not yes and sys.stdin.isatty()
    for code in sorted(set(counted) - {reporting} - set(rates)):
        if not interactive:
            raise UsageError(
                f"subscriptions are billed in {code.upper()} and there is no rate for it",
                f"pass --fx {code}=RATE (1 {code.upper()} in {reporting.upper()})",
            )
        rates[code] = Decimal(typer.prompt(f"1 {code.upper()} is how many {reporting.upper()}?"))
    report = compute_report(data, _listing_config(rates, reporting, names), _as_of(None, demo))
    render.product_listing(report)
    suggestion = suggest_tiers(names)
    rules: dict[str, str] = {}
    if interactive:
        for product_id, name in names.items():
            suggestion[product_id] = str(
                typer.prompt(f"Tier for {name} ({product_id})", default=suggestion[product_id])
            ).strip()
        for plan in group(suggestion, names, {}):
            rules[plan.name] = _ask_rule(plan.name)
    plans = group(suggestion, names, rules)
    source = "the demo account" if demo else str(input_file or "the Stripe account")
    header = (
        f"ffkpi configuration, written by `ffkpi init` from {source}.\n"
        "Move products between tiers and pick each tier's rule as the company counts\n"
        "them; `ffkpi check` tells whether this file agrees with the account.\n\n"
        "Never put an API key here: ffkpi reads it from STRIPE_API_KEY or --api-key-file."
    )
    text = config_text(example_config_text(), reporting, rates, plans, header)
    parse_config(text, str(output))  # never write a config ffkpi would refuse
    write_atomically(output, text.encode())
    render.note(f"wrote {len(plans)} tiers with {len(names)} products; check them with ffkpi check")
    render.write(f"{output}\n")


def _ask_rule(tier: str) -> str:
    while True:
        answer = str(
            typer.prompt(
                f"Rule for tier {tier} (net: Stripe's MRR after discounts; "
                "list_price: subscriptions x list price)",
                default="net",
            )
        ).strip()
        if answer in ("net", "list_price"):
            return answer
        render.warning("answer net or list_price")


def _listing_config(rates: dict[str, Decimal], currency: str, names: dict[str, str]) -> Config:
    """Every product in one net tier, Stripe's policy: MRR per product as Stripe counts it."""
    products = [{"id": p} for p in sorted(names)]
    return Config.model_validate(
        {
            "currency": currency,
            "fx": rates,
            "tiers": [{"name": "All", "rule": "net", "products": products}],
        }
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        render.error("interrupted")
        raise SystemExit(int(ExitCode.UNEXPECTED)) from None
