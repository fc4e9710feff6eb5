"""From a command's option groups to what a run works on: the config, the data, the
as-of date."""

import calendar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ffkpi import clock, render
from ffkpi.cli.connection import key_findings, read_stripe
from ffkpi.cli.options import DataOptions, PastOptions, ReportOptions, StripeOptions
from ffkpi.config import Config
from ffkpi.engine.model import Dataset
from ffkpi.errors import UsageError
from ffkpi.history.rebuild import data_day, refuse_after_read
from ffkpi.sources.demo import demo_config, load_demo
from ffkpi.sources.files import file_time_note, read_input
from ffkpi.storage.config_file import find_config, load_config
from ffkpi.stripe.http import StripeHttp
from ffkpi.usecases.check import Finding


@dataclass(frozen=True, slots=True)
class Run:
    config: Config
    config_path: Path | None  # None: the demo's own config
    data: Dataset
    as_of: date


def load_run(source: ReportOptions, live: StripeOptions, *, names: bool = False) -> Run:
    """Everything a report needs, checked before any of it is used."""
    one_source(source.input_file, source.demo)
    config, path = run_config(source)
    data = load_data(source, live, config, names=names)
    return Run(config, path, data, as_of(source, data))


def one_source(input_file: Path | None, demo: bool) -> None:
    if input_file is not None and demo:
        raise UsageError("--input and --demo were both given", "pass one of them")


def run_config(source: DataOptions) -> tuple[Config, Path | None]:
    """The config in force and the file it came from (None: the demo's own)."""
    path = find_config(source.config)
    if path is not None:
        config = load_config(path)
        for message in config.warnings():
            render.warning(f"{path}: {message}")
        return config, path
    if source.demo:
        return demo_config(), None
    raise UsageError(
        "no config file found",
        "pass --config PATH, set FFKPI_CONFIG, or copy config.example.toml to ./ffkpi.toml",
    )


def as_of(source: ReportOptions, data: Dataset) -> date:
    """--as-of, never after the day the data was read; by default that day, so no figure
    depends on the day the command runs."""
    if source.as_of is not None:
        refuse_after_read(data, source.as_of.date())
        return source.as_of.date()
    note_file_time(data)
    return data_day(data) or clock.today()


def note_file_time(data: Dataset) -> None:
    """Say that the data is dated by its file's modification time, where it is."""
    note = file_time_note(data)
    if note is not None:
        render.note(note)


def invoices_for(config: Config | None) -> frozenset[str] | None:
    """Statuses whose metered items need their invoices read: only for last_invoice."""
    if config is None or config.policy.metered != "last_invoice":
        return None  # Stripe's policy: metered items left out
    return frozenset(config.policy.statuses)


def load_data(
    source: ReportOptions,
    live: StripeOptions,
    config: Config | None,
    http: StripeHttp | None = None,
    *,
    history: bool = False,
    names: bool = False,
) -> Dataset:
    """The data of a run; with `history`, the billed history of the current periods as
    well where the source has it (live: the invoices they need)."""
    if source.demo:
        return load_demo(history=None if history else False)
    if source.input_file is not None:
        return read_input(source.input_file, history=None if history else False)
    # Billed history names subscriptions of every status: read them all then.
    canceled = history or (config is not None and "canceled" in config.policy.statuses)
    return read_stripe(
        live,
        invoices_for=invoices_for(config),
        canceled=canceled,
        http=http,
        history_from=int(clock.now().timestamp()) if history else None,
        names=names,
    )


def load_past(
    past: PastOptions,
    live: StripeOptions,
    config: Config,
    *,
    names: bool = False,
    quiet_file_time: bool = False,
) -> Dataset:
    """The data with its billed history from `past.since` on (live: read from Stripe,
    with customers' names if asked); `quiet_file_time`: the output itself says when the
    file was read."""
    if past.demo:
        return load_demo(history=True)
    if past.input_file is not None:
        data = read_input(past.input_file, history=True)
        if not quiet_file_time:
            note_file_time(data)
        return data
    if past.since is None:
        raise UsageError(
            "reading past weeks from Stripe needs --since",
            "pass the first week to rebuild: --since YYYY-MM-DD",
        )
    return read_stripe(
        live,
        invoices_for=invoices_for(config),
        canceled=True,  # subscriptions that ended since were counted in their weeks
        history_from=calendar.timegm(past.since.timetuple()),
        names=names,
    )


def check_data(
    source: ReportOptions, live: StripeOptions, config: Config, findings: list[Finding]
) -> Dataset | None:
    """What `ffkpi check` checks: the file or the demo, or the account's data if the
    key (whose findings come first) can read all of it."""
    if source.input_file is not None or source.demo:
        return load_data(source, live, config, history=True)
    http = key_findings(live, findings)
    return None if http is None else load_data(ReportOptions(), live, config, http, history=True)
