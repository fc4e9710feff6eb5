"""`ffkpi check`: does the config agree with the account? Findings, each ok/warning/error.

Pure: the caller reads the config, the key and the data; this module judges them.
"""

import difflib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ffkpi.config import Config
from ffkpi.model import Dataset
from ffkpi.money import format_money
from ffkpi.mrr import Report

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
    counted: list[tuple[int, Level, str]] = [
        (excluded.scheduled_cancellation, "ok", "subscriptions scheduled to cancel: count 0"),
        (excluded.paused_collection, "ok", "subscriptions with collection paused: count 0"),
        (excluded.zero_mrr, "ok", "subscriptions at 0 after discounts and trials"),
        (excluded.trialing_items, "ok", "items in a trial of their own: count 0"),
        (
            excluded.metered_items,
            "warning",
            'metered items left out (policy metered = "exclude"; "last_invoice" counts them)',
        ),
        (
            excluded.metered_items_without_invoice,
            "warning",
            "metered items with no finalized invoice yet: count 0",
        ),
    ]
    for count, level, text in counted:
        if count:
            findings.append(Finding(level, "skipped", f"{count} {text}"))
    return findings


def with_placeholder_rates(config: Config, missing: Mapping[str, int]) -> Config:
    """The config with rate 1 for missing currencies: only to list what else is wrong."""
    if not missing:
        return config
    fx = {**config.fx, **{currency: Decimal(1) for currency in missing}}
    return config.model_copy(update={"fx": fx})
