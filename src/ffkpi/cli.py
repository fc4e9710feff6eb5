"""The ffkpi command line: parse options, call the library, render. The only typer module."""

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from ffkpi import __version__, render
from ffkpi.config import Config, find_config, load_config
from ffkpi.errors import ExitCode, FfkpiError, UsageError
from ffkpi.model import Dataset
from ffkpi.mrr import Report, compute_report
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo
from ffkpi.sources.files import read_input

app = typer.Typer(
    name="ffkpi",
    help="MRR and ARR per pricing tier and product, straight from Stripe.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

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
            render.error(err.message)
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
) -> None:
    """MRR and ARR per pricing tier and product, straight from Stripe."""


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
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table for people, json or csv for scripts.")
]


def _load(input_file: Path | None, demo: bool, config_path: Path | None) -> tuple[Dataset, Config]:
    if input_file is not None and demo:
        raise UsageError("--input and --demo were both given", "pass one of them")
    path = find_config(config_path)
    if demo:
        return load_demo(), demo_config() if path is None else load_config(path)
    if path is None:
        raise UsageError(
            "no config file found",
            "pass --config PATH, set FFKPI_CONFIG, or copy config.example.toml to ./ffkpi.toml",
        )
    config = load_config(path)
    if input_file is None:
        raise UsageError("no subscriptions to read", "pass --input FILE, or --demo to try ffkpi")
    return read_input(input_file), config


def build_report(
    input_file: Path | None, demo: bool, config_path: Path | None, as_of: datetime | None
) -> Report:
    data, config = _load(input_file, demo, config_path)
    if as_of is not None:
        day = as_of.date()
    elif demo:
        day = DEMO_AS_OF
    else:
        day = datetime.now(UTC).date()
    return compute_report(data, config, day)


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
) -> None:
    """Show MRR per tier and product, with the total MRR and ARR.

    Example:

        ffkpi mrr --demo

        ffkpi mrr --input subscriptions.json --as-of 2026-11-22 --format json
    """
    _emit(build_report(input_file, demo, config, as_of), fmt, "mrr")


@app.command()
@handles_errors
def arr(
    input_file: InputOption = None,
    demo: DemoOption = False,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the same report as `mrr`, led by ARR.

    Example:

        ffkpi arr --demo
    """
    _emit(build_report(input_file, demo, config, as_of), fmt, "arr")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        render.error("interrupted")
        raise SystemExit(int(ExitCode.UNEXPECTED)) from None
