"""From a command's option groups to what a run works on: the config, the data, the
as-of date; and the live Stripe connection with its notices and progress line."""

import calendar
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ffkpi import onboarding, render
from ffkpi.check import Finding
from ffkpi.cli.options import DataOptions, PastOptions, ReportOptions, StripeOptions
from ffkpi.config import MAX_RATE, Config
from ffkpi.engine.model import Dataset
from ffkpi.errors import UsageError
from ffkpi.sources.demo import DEMO_AS_OF, demo_config, load_demo
from ffkpi.sources.files import read_input
from ffkpi.storage.config_file import find_config, load_config, read_api_key
from ffkpi.stripe.account import AccountReader
from ffkpi.stripe.bundle import Recorder
from ffkpi.stripe.http import (
    PERMISSIONS,
    STRIPE_API,
    RetryPolicy,
    StripeHttp,
    is_test_key,
    missing_permissions,
)


@dataclass(frozen=True, slots=True)
class Run:
    config: Config
    config_path: Path | None  # None: the demo's own config
    data: Dataset
    as_of: date


def load_run(source: ReportOptions, live: StripeOptions) -> Run:
    """Everything a report needs, checked before any of it is used."""
    one_source(source.input_file, source.demo)
    config, path = run_config(source)
    return Run(config, path, load_data(source, live, config), as_of(source))


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


def as_of(source: ReportOptions) -> date:
    if source.as_of is not None:
        return source.as_of.date()
    return DEMO_AS_OF if source.demo else datetime.now(UTC).date()


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
        history_from=int(time.time()) if history else None,
    )


def load_past(past: PastOptions, live: StripeOptions, config: Config) -> Dataset:
    """The data with its billed history from `past.since` on (live: read from Stripe)."""
    if past.demo:
        return load_demo(history=True)
    if past.input_file is not None:
        return read_input(past.input_file, history=True)
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
    )


def connect(live: StripeOptions) -> StripeHttp:
    """A Stripe client for the key given, with the notices that go with it."""
    key, warnings = read_api_key(live.api_key_file)
    for message in warnings:
        render.warning(message)
    test_mode = is_test_key(key)
    http = StripeHttp(
        key,
        api_base=live.api_base,
        max_rps=live.max_rps or (10 if test_mode else 20),
        retry=RetryPolicy(max_total=live.retry_for),
    )
    if http.base != STRIPE_API:
        render.note(f"requests go to {http.base}, not to Stripe's API")
    if test_mode:
        render.note("test mode: this key reads Stripe's test data, not live revenue")
    return http


def read_stripe(
    live: StripeOptions,
    *,
    invoices_for: frozenset[str] | None,
    canceled: bool = False,
    recorder: Recorder | None = None,
    http: StripeHttp | None = None,
    history_from: int | None = None,
) -> Dataset:
    http = http or connect(live)
    with render.fetch_progress(not live.quiet and sys.stderr.isatty()) as progress:
        reader = AccountReader(
            http, concurrency=live.concurrency, on_progress=lambda c: progress(c.describe())
        )
        return reader.read(
            invoices_for=invoices_for,
            canceled=canceled,
            recorder=recorder,
            history_from=history_from,
        )


def stripe_findings(live: StripeOptions, config: Config, findings: list[Finding]) -> Dataset | None:
    """The key's findings, then the account's data if the key can read all of it."""
    http = connect(live)
    # Invoices (and invoice items, under the same permission): today's MRR is rebuilt
    # from them, against the live MRR.
    needed = ["/v1/subscriptions", "/v1/prices", "/v1/products", "/v1/coupons", "/v1/invoices"]
    mode = "test" if is_test_key(http.key) else "live"
    restricted = http.key.startswith("rk_")
    missing = missing_permissions(http, needed)
    kind = "restricted key" if restricted else "secret key"
    findings.append(Finding("ok", "key", f"the {kind} works ({mode} mode)"))
    findings += [Finding("error", "key", err.message) for err in missing]
    if missing:
        return None
    if restricted:
        names = ", ".join(sorted({PERMISSIONS[p] for p in needed}))
        findings.append(Finding("ok", "key", f"it can read everything ffkpi needs: {names}"))
    return load_data(ReportOptions(), live, config, http, history=True)


def parse_rates(entries: list[str]) -> dict[str, Decimal]:
    """--fx CUR=RATE entries; the codes themselves are checked with the config."""
    rates = {}
    for entry in entries:
        code, _, rate = entry.partition("=")
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            value = Decimal(0)
        if not code.strip() or not value.is_finite() or not 0 < value <= MAX_RATE:
            raise UsageError(
                f"--fx {entry!r} is not CURRENCY=RATE with a positive rate up to {MAX_RATE:,f}",
                "write it like --fx eur=1.08",
            )
        rates[code.strip().lower()] = value
    return rates


def _ask(question: str, default: str | None = None) -> str:
    """One answer from the terminal; the question goes to stderr, as every message does.

    (click's prompt writes a space to stdout after each question, which stdout, carrying
    only the file name, must not get.)
    """
    sys.stderr.write(f"{question} [{default}]: " if default else f"{question}: ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise UsageError("the input ended before every question was answered", "pass --yes")
    return line.strip() or default or ""


class Prompts:
    """init's questions on the terminal; a bad answer is asked again."""

    def rate(self, currency: str, reporting: str) -> Decimal:
        while True:
            answer = _ask(f"1 {currency.upper()} is how many {reporting.upper()}?")
            try:
                value = Decimal(answer)
            except InvalidOperation:
                value = Decimal(0)
            if value.is_finite() and value > 0:
                return value
            render.warning("answer a positive number, such as 1.08")

    def tier(self, product_id: str, name: str, suggested: str) -> str:
        return _ask(f"Tier for {name} ({product_id})", suggested)

    def rule(self, tier: str) -> str:
        question = (
            f"Rule for tier {tier} (net: Stripe's MRR after discounts; "
            "list_price: subscriptions x list price)"
        )
        while True:
            answer = _ask(question, "net")
            if answer in onboarding.RULES:
                return answer
            render.warning("answer net or list_price")
