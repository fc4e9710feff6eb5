"""The live Stripe connection of a command: the key read, its notices, the progress line,
and the key's findings for `ffkpi check`."""

import sys

from ffkpi import clock, render
from ffkpi.cli.options import StripeOptions
from ffkpi.engine.model import Dataset
from ffkpi.storage.config_file import read_api_key
from ffkpi.stripe.account import AccountReader
from ffkpi.stripe.bundle import Recorder
from ffkpi.stripe.http import (
    STRIPE_API,
    RetryPolicy,
    StripeHttp,
    is_test_key,
    missing_permissions,
)
from ffkpi.stripe.lists import CHECKED, PERMISSIONS
from ffkpi.usecases.check import Finding


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
    names: bool = False,
) -> Dataset:
    http = http or connect(live)
    with render.fetch_progress(not live.quiet and sys.stderr.isatty()) as progress:
        reader = AccountReader(
            http,
            concurrency=live.concurrency,
            now=int(clock.now().timestamp()),  # the read's instant: the run's one clock
            on_progress=lambda c: progress(c.describe()),
        )
        return reader.read(
            invoices_for=invoices_for,
            canceled=canceled,
            recorder=recorder,
            history_from=history_from,
            names=names,
        )


def key_findings(live: StripeOptions, findings: list[Finding]) -> StripeHttp | None:
    """The key's findings; the connection if the key can read all ffkpi needs."""
    http = connect(live)
    # Invoices (and invoice items, under the same permission): today's MRR is rebuilt
    # from them, against the live MRR.
    needed = [endpoint.path for endpoint in CHECKED]
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
    return http
