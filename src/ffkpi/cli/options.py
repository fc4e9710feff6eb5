"""Options, declared once: the source of a run, the live Stripe connection, formats.

A command takes an option group as one parameter (`source: ReportOptions`); `grouped` lays
the group's fields out as the command's options and gathers them back.
"""

import dataclasses
import functools
import inspect
import math
import typing
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ffkpi.storage.config_file import ENV_API_BASE
from ffkpi.stripe.account import DEFAULT_CONCURRENCY
from ffkpi.stripe.http import RetryPolicy
from ffkpi.webhook import ENV_WEBHOOK

R = TypeVar("R")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class TextFormat(StrEnum):
    text = "text"
    json = "json"


EARLIEST_AS_OF = datetime(2000, 1, 1)
LATEST_AS_OF = datetime(2999, 12, 31)


def finite(value: float | None) -> float | None:
    """Refuse nan and inf, which pass a range check (every comparison with nan fails)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds or requests")
    return value


def plausible_day(value: datetime | None) -> datetime | None:
    if value is not None and not EARLIEST_AS_OF <= value <= LATEST_AS_OF:
        raise typer.BadParameter(
            f"{value.date()} is outside {EARLIEST_AS_OF.date()} to {LATEST_AS_OF.date()}"
        )
    return value


def day_option(name: str, help: str) -> Any:
    """A YYYY-MM-DD option, within EARLIEST_AS_OF and LATEST_AS_OF."""
    return typer.Option(
        name, formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", callback=plausible_day, help=help
    )


InputOption = Annotated[
    Path | None,
    typer.Option("--input", "-i", help="Read subscriptions from a Stripe JSON file."),
]
DemoOption = Annotated[bool, typer.Option("--demo", help="Use the bundled demo account.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $FFKPI_CONFIG, ./ffkpi.toml, then the user config dir).",
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table for people, json or csv for scripts.")
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        file_okay=False,
        help="Snapshot folder (default: the config's snapshots_dir, else ./snapshots).",
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing file.")]
CommandTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        max=86_400,
        callback=finite,
        metavar="SECONDS",
        help="Per KPI command (at most a day).",
    ),
]
PostToOption = Annotated[
    str | None,
    typer.Option(
        "--post-to",
        envvar=ENV_WEBHOOK,
        show_envvar=False,
        metavar="WEBHOOK_URL",
        help=f"Post it to this Slack incoming webhook (or ${ENV_WEBHOOK}).",
    ),
]


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """Where a run's data and config come from."""

    input_file: InputOption = None
    demo: DemoOption = False
    config: ConfigOption = None


@dataclasses.dataclass(frozen=True)
class ReportOptions(DataOptions):
    """Where a run's data and config come from, and the instant it describes."""

    as_of: Annotated[
        datetime | None,
        day_option(
            "--as-of",
            "Evaluate trials, coupons and cancellations at the end of this day (UTC). "
            "Default: today.",
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class PastOptions(DataOptions):
    """Where past weeks are rebuilt from, and which."""

    since: Annotated[
        datetime | None,
        day_option("--since", "The first week to rebuild: its as-of day at the earliest."),
    ] = None
    until: Annotated[
        datetime | None, day_option("--until", "The last week to rebuild: its as-of day.")
    ] = None


@dataclasses.dataclass(frozen=True)
class StripeOptions:
    """How to reach Stripe when no file is given."""

    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            help="Read the Stripe API key from this file's first line (default: $STRIPE_API_KEY).",
        ),
    ] = None
    api_base: Annotated[
        str | None, typer.Option("--api-base", envvar=ENV_API_BASE, hidden=True)
    ] = None
    max_rps: Annotated[
        float | None,
        typer.Option(
            "--max-rps",
            min=0.1,
            max=10_000,
            callback=finite,
            help="Stripe requests per second at most (default 20, or 10 with a test-mode key).",
        ),
    ] = None
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Stripe requests in flight at most.")
    ] = DEFAULT_CONCURRENCY
    retry_for: Annotated[
        float,
        typer.Option(
            "--retry-for",
            min=0,
            max=86_400,
            callback=finite,
            metavar="SECONDS",
            help="How long to keep retrying a failing Stripe request before giving up (exit 5).",
        ),
    ] = RetryPolicy().max_total
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display while reading Stripe.")
    ] = False


def grouped(command: Callable[..., R]) -> Callable[..., R]:
    """Lay each option group parameter (a dataclass of options) out as its options.

    Typer sees the fields as the command's own parameters; the command receives the
    group, built from them.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, Any] = {}
    parameters = []
    for parameter in inspect.signature(command).parameters.values():
        kind = hints[parameter.name]
        if not dataclasses.is_dataclass(kind):
            parameters.append(
                parameter.replace(annotation=kind, kind=inspect.Parameter.KEYWORD_ONLY)
            )
            continue
        groups[parameter.name] = kind
        fields = typing.get_type_hints(kind, include_extras=True)
        parameters += [
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=fields[field.name],
            )
            for field in dataclasses.fields(kind)
        ]

    @functools.wraps(command)
    def gathered(**options: Any) -> R:
        for name, kind in groups.items():
            names = [field.name for field in dataclasses.fields(kind)]
            options[name] = kind(**{field: options.pop(field) for field in names})
        return command(**options)

    gathered.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    gathered.__annotations__ = {p.name: p.annotation for p in parameters}
    return gathered
