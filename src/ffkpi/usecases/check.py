"""`ffkpi check`: does the config agree with the account? Findings, each ok/warning/error.

The caller reads the config, the key and the data (through the callables it passes);
this module judges them.
"""

import difflib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from ffkpi.config import Config
from ffkpi.engine.model import Dataset
from ffkpi.engine.money import format_money
from ffkpi.engine.mrr import Report, compute_report
from ffkpi.errors import ConfigError, ExitCode, StripeAuthError
from ffkpi.history.reconcile import Reconciliation, reconcile

Level = Literal["ok", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str
    message: str


def _suggest(word: str, candidates: Mapping[str, str]) -> str:
    """' (did you mean ...?)' for near misses among product ids and names."""
    pool = list(candidates) + list(candidates.values())
    scored = sorted(
        ((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in set(pool)), reverse=True
    )
    if not scored or scored[0][0] < 0.6:
        return ""
    best = scored[0][0]
    close = [c for ratio, c in scored[:3] if ratio >= best - 0.02]
    named = [f"{c} ({candidates[c]})" if c in candidates else repr(c) for c in close]
    return f" (did you mean {', '.join(named)}?)"


def check_products(config: Config, data: Dataset) -> list[Finding]:
    """Each configured product exists: by id, or by a name exactly one product has."""
    known = dict(data.product_names)
    for sub in data.subscriptions:
        for item in sub.items:
            known.setdefault(item.price.product_id, item.price.product_id)
    by_name: dict[str, list[str]] = {}
    for product_id, name in known.items():
        by_name.setdefault(name, []).append(product_id)
    findings = []
    for tier in config.tiers:
        for ref in tier.products:
            label = ref.name or ref.id or ""
            if ref.id:
                if ref.id in known:
                    findings.append(
                        Finding("ok", "products", f"{tier.name}: {ref.id} is {known[ref.id]}")
                    )
                else:
                    findings.append(
                        Finding(
                            "error",
                            "products",
                            f"{tier.name}: no product {ref.id} in the account"
                            + _suggest(ref.id, known),
                        )
                    )
                continue
            matches = sorted(by_name.get(label, ()))
            if len(matches) == 1:
                findings.append(
                    Finding("ok", "products", f"{tier.name}: {label!r} is {matches[0]}")
                )
            elif matches:
                findings.append(
                    Finding(
                        "error",
                        "products",
                        f"{tier.name}: {len(matches)} products are named {label!r} "
                        f"({', '.join(matches)}); list the right one by id",
                    )
                )
            else:
                findings.append(
                    Finding(
                        "error",
                        "products",
                        f"{tier.name}: no product named {label!r}" + _suggest(label, known),
                    )
                )
    return findings


def product_notes(config: Config, data: Dataset) -> list[str]:
    """What the read did not find of the config's products, one line each with `check`'s
    suggestion: the total leaves them out, so every output says so."""
    return [
        f"tier {finding.message}: its MRR is left out of the total; fix the config, then run "
        "ffkpi check"
        for finding in check_products(config, data)
        if finding.level == "error"
    ]


def missing_rates(config: Config, data: Dataset) -> dict[str, int]:
    """Currencies of counted subscriptions with no [fx] rate, with how many use each."""
    statuses = set(config.policy.statuses)
    counts = Counter(
        sub.currency
        for sub in data.subscriptions
        if sub.status in statuses and config.rate(sub.currency) is None
    )
    return dict(sorted(counts.items()))


def check_currencies(missing: Mapping[str, int], config: Config) -> list[Finding]:
    if not missing:
        return [Finding("ok", "currencies", "every subscription's currency has a rate")]
    return [
        Finding(
            "error",
            "currencies",
            f"{count} subscriptions are billed in {currency.upper()} and [fx] has no rate "
            f'for it (add {currency} = "<rate>": 1 {currency.upper()} in '
            f"{config.currency.upper()})",
        )
        for currency, count in missing.items()
    ]


def check_report(report: Report, config: Config) -> list[Finding]:
    """What the report leaves out: unlisted products, and subscriptions counted as 0."""
    cur = report.currency
    findings = [
        Finding(
            "warning",
            "unlisted",
            f"{row.name} ({row.id}): {row.subscriptions} subscriptions, MRR "
            f"{format_money(row.mrr, cur, grouping=True)} {cur.upper()} in no tier, so "
            "outside the total",
        )
        for row in report.unlisted
    ]
    if not report.unlisted:
        findings.append(Finding("ok", "unlisted", "every product with subscriptions is in a tier"))
    excluded = report.excluded
    for status, count in excluded.statuses.items():
        findings.append(Finding("ok", "skipped", f"{count} subscriptions {status}: count 0"))
    for reason, count in excluded.counts():
        if count:
            level: Level = "warning" if reason.warn else "ok"
            findings.append(Finding(level, "skipped", f"{count} {reason.finding}"))
    return findings


def with_placeholder_rates(config: Config, missing: Mapping[str, int]) -> Config:
    """The config with rate 1 for missing currencies: only to list what else is wrong."""
    if not missing:
        return config
    fx = {**config.fx, **{currency: Decimal(1) for currency in missing}}
    return config.model_copy(update={"fx": fx})


def run_checks(
    config: Callable[[], tuple[Config, Path | None]],
    data: Callable[[Config, list[Finding]], Dataset | None],
    as_of: Callable[[Dataset], date],
) -> list[Finding]:
    """Every finding: the config, then what `data` finds about the key (and the data it
    reads, None when the key cannot read it all), then the data against the config."""
    findings: list[Finding] = []
    try:
        cfg, path = config()
        where = str(path) if path else "the demo config (config.example.toml)"
        findings.append(Finding("ok", "config", f"{where} is valid"))
        dataset = data(cfg, findings)
    except ConfigError as err:
        return [*findings, Finding("error", "config", err.message)]
    except StripeAuthError as err:
        return [*findings, Finding("error", "key", err.message)]
    if dataset is None:
        return findings
    findings += check_products(cfg, dataset)
    missing = missing_rates(cfg, dataset)
    findings += check_currencies(missing, cfg)
    placeholder = with_placeholder_rates(cfg, missing)
    day = as_of(dataset)
    report = compute_report(dataset, placeholder, day, customers=False)
    findings += check_report(report, cfg)
    if dataset.rebuilt:
        findings += check_history(reconcile(dataset, placeholder, day))
    return findings


def check_history(reconciliation: Reconciliation) -> list[Finding]:
    """Today's MRR rebuilt from invoices against the MRR of the read, with the causes
    of any difference (history-rules.md)."""
    cur = reconciliation.currency

    def money(value: Decimal) -> str:
        return format_money(value, cur, grouping=True)

    rebuilt, live = money(reconciliation.rebuilt), money(reconciliation.live)
    if rebuilt == live:
        return [
            Finding(
                "ok",
                "history",
                f"today's MRR rebuilt from invoices equals the live MRR ({live} {cur.upper()})",
            )
        ]
    findings = [
        Finding(
            "warning",
            "history",
            f"today's MRR rebuilt from invoices is {rebuilt}, the live MRR {live} {cur.upper()} "
            f"(a difference of {money(reconciliation.difference)})",
        )
    ]
    findings += [
        Finding(
            "warning",
            "history",
            f"{cause.subscriptions} subscription{'' if cause.subscriptions == 1 else 's'} "
            f"{cause.what}, {money(cause.difference)}",
        )
        for cause in reconciliation.causes
    ]
    return findings


def reconcile_note(reconciliation: Reconciliation) -> str | None:
    """Where the read's MRR differs from the same instant rebuilt from invoices: the
    read's week is the read, earlier weeks are rebuilt, and why they can differ."""
    if reconciliation.difference == 0:
        return None
    cur = reconciliation.currency
    causes = "; ".join(
        f"{c.subscriptions} subscription{'' if c.subscriptions == 1 else 's'} {c.what}, "
        f"{format_money(c.difference, cur, grouping=True)}"
        for c in reconciliation.causes
    )
    return (
        f"this week's MRR is the read's, {format_money(reconciliation.live, cur, grouping=True)}; "
        f"rebuilt from invoices it would be "
        f"{format_money(reconciliation.rebuilt, cur, grouping=True)} ({causes}): the earlier "
        "weeks are rebuilt and cannot see such changes"
    )


def worst(*codes: ExitCode) -> ExitCode:
    """The exit code that says most: a refused key or token, a service down, the rest."""
    order = (ExitCode.STRIPE_AUTH, ExitCode.STRIPE_UNAVAILABLE, ExitCode.INVALID)
    return next((code for code in order if code in codes), ExitCode.OK)


def exit_code(findings: list[Finding]) -> ExitCode:
    """4 when the key is at fault, else 3 when anything is, else 0."""
    errors = {f.topic for f in findings if f.level == "error"}
    if "key" in errors:
        return ExitCode.STRIPE_AUTH
    return ExitCode.INVALID if errors else ExitCode.OK
