"""`ffkpi init`: from an account's data to a config file with its comments.

Pure: the data, the user's answers (through an Asker) and the example config in; the
decisions (reporting currency, rates still needed, tiers from product names) and TOML
text out.
"""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Protocol

import tomli_w

from ffkpi.config import Config, Policy, build_config, parse_config
from ffkpi.engine.model import Dataset
from ffkpi.engine.money import format_percent
from ffkpi.errors import UsageError

OTHER = "Other"
RULES = ("net", "list_price")


class Asker(Protocol):
    """The user's answers, on a terminal; each answer is valid when it returns."""

    def rate(self, currency: str, reporting: str) -> Decimal: ...

    def tier(self, product_id: str, name: str, suggested: str) -> str: ...

    def rule(self, tier: str) -> str: ...

    def target(self, default: Decimal) -> Decimal: ...


HANDBOOK_TARGET = Decimal("0.10")  # the handbook's 10 % a week
MAX_TARGET = Decimal(10)  # 1000 % a week, the config's own bound


def yearly(target: Decimal) -> Decimal:
    """What a weekly growth target compounds to in a year: (1 + target)^52."""
    with localcontext(prec=28):
        return (1 + target) ** 52


def target_note(target: Decimal) -> str:
    """The weekly target, and what it means over a year."""
    return (
        f"a weekly growth target of {format_percent(target)} compounds to "
        f"{yearly(target):,.1f}x MRR in a year"
    )


def growth_target(given: Decimal | None, ask: "Asker | None") -> Decimal:
    """The weekly growth target: given, asked on a terminal, else the handbook's."""
    if given is not None:
        return given
    return ask.target(HANDBOOK_TARGET) if ask is not None else HANDBOOK_TARGET


@dataclass(frozen=True, slots=True)
class Setup:
    """What the config will say before its tiers: currency and rates, and the products."""

    currency: str
    rates: Mapping[str, Decimal]
    names: Mapping[str, str]  # recurring products in use, id -> name, sorted by name

    def listing(self, policy: Policy | None = None) -> Config:
        """Every product in one net tier under `policy` (the written config's, default
        Stripe's): each product's MRR as that config counts it, to show before asking
        about tiers."""
        products = [{"id": p} for p in sorted(self.names)]
        tiers = [{"name": "All", "rule": "net", "products": products}]
        document = {"currency": self.currency, "fx": dict(self.rates), "tiers": tiers}
        if policy is not None:
            document["policy"] = policy.model_dump()
        return build_config(document, "--currency and --fx")


DISCOUNTS = {
    "forever": "net of forever coupons",
    "all": "net of the coupons still running",
    "none": "at list price",
}
METERED = {
    "exclude": "metered items left out",
    "last_invoice": "metered items at their newest finalized invoice",
}


def listing_note(policy: Policy) -> str:
    """How the listing counted, so that no figure in it reads as the list price."""
    return (
        f"MRR as the config written counts it in a tier with rule net: "
        f"{DISCOUNTS[policy.discounts]}, {METERED[policy.metered]}."
    )


def prepare(
    data: Dataset, currency: str | None, rates: Mapping[str, Decimal], ask: Asker | None
) -> Setup:
    """The reporting currency (default: the one most counted subscriptions use) and a rate
    for every other currency they use: given, asked for, or an error without a terminal."""
    used = {item.price.product_id for sub in data.subscriptions for item in sub.items}
    names = dict(sorted(((p, data.product_names.get(p, p)) for p in used), key=lambda e: e[1]))
    counted = Counter(s.currency for s in data.subscriptions if s.status in ("active", "past_due"))
    reporting = (currency or (counted.most_common(1)[0][0] if counted else "usd")).lower()
    rates = dict(rates)
    Setup(reporting, rates, names).listing()  # a currency or rate the config would refuse
    for code in sorted(set(counted) - {reporting} - set(rates)):
        if ask is None:
            raise UsageError(
                f"subscriptions are billed in {code.upper()} and there is no rate for it",
                f"pass --fx {code}=RATE (1 {code.upper()} in {reporting.upper()})",
            )
        rates[code] = ask.rate(code, reporting)
    return Setup(reporting, rates, names)


def plan_tiers(names: Mapping[str, str], ask: Asker | None) -> list["TierPlan"]:
    """Tiers suggested from the names; on a terminal each product's tier and each
    tier's rule are asked, the suggestion as the default."""
    suggestion = suggest_tiers(names)
    if ask is None:
        return group(suggestion, names, {})
    for product_id, name in names.items():
        suggestion[product_id] = ask.tier(product_id, name, suggestion[product_id])
    rules = {plan.name: ask.rule(plan.name) for plan in group(suggestion, names, {})}
    return group(suggestion, names, rules)


@dataclass(frozen=True, slots=True)
class TierPlan:
    name: str
    rule: str
    products: tuple[tuple[str, str], ...]  # (id, name)


def suggest_tiers(names: Mapping[str, str]) -> dict[str, str]:
    """A tier for each product id, from its name.

    A tier is a segment (between " - ") that stands alone in two or more product names,
    such as "Starter" in "FlowFuse Cloud - Starter" and "Starter - Small Instance
    Add-On"; a product joins the first such tier its name mentions as a word, else
    "Other". Nothing is hard-coded: the names decide.
    """
    segments = Counter(
        segment
        for name in names.values()
        for segment in {part.strip() for part in name.split(" - ")}
        if segment
    )
    tiers = sorted(
        (s for s, count in segments.items() if count >= 2), key=lambda s: (-segments[s], s)
    )
    suggestion = {}
    for product_id, name in names.items():
        words = name.split(" - ")
        chosen = next((t for t in tiers if t in (w.strip() for w in words)), None)
        if chosen is None:
            chosen = next((t for t in tiers if re.search(rf"\b{re.escape(t)}\b", name)), OTHER)
        suggestion[product_id] = chosen
    return suggestion


def group(
    suggestion: Mapping[str, str], names: Mapping[str, str], rules: Mapping[str, str]
) -> list[TierPlan]:
    """Tiers in order of first appearance (Other last), products sorted by name."""
    order: list[str] = []
    for product_id in sorted(names, key=lambda p: names[p]):
        tier = suggestion[product_id]
        if tier not in order:
            order.append(tier)
    order.sort(key=lambda t: t == OTHER)
    return [
        TierPlan(
            name=tier,
            rule=rules.get(tier, "net"),
            products=tuple(
                sorted(
                    ((p, names[p]) for p in names if suggestion[p] == tier),
                    key=lambda entry: entry[1],
                )
            ),
        )
        for tier in order
    ]


def header(source: str) -> str:
    return (
        f"ffkpi configuration, written by `ffkpi init` from {source}.\n"
        "Move products between tiers and pick each tier's rule as the company counts\n"
        "them; `ffkpi check` tells whether this file agrees with the account.\n\n"
        "Never put an API key here: ffkpi reads it from STRIPE_API_KEY or --api-key-file."
    )


def config_text(
    example: str,
    currency: str,
    rates: Mapping[str, Decimal],
    tiers: Sequence[TierPlan],
    header: str,
) -> str:
    """config.example.toml's comments and policy, with this account's currency, rates and
    tiers, under `header` instead of the example's opening paragraph."""
    lines = example.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)  # the example's own introduction
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    in_fx = False
    for line in lines:
        if line.startswith("[[tiers]]"):
            break
        if line.startswith("currency = "):
            out.append(f'currency = "{currency}"')
            continue
        if line.strip() == "[fx]":
            in_fx = True
            out.append(line)
            out.extend(f'{code} = "{rate}"' for code, rate in sorted(rates.items()))
            continue
        if in_fx:
            if not line.strip():
                in_fx = False
                out.append(line)
            continue
        out.append(line)
    document = {
        "tiers": [
            {
                "name": tier.name,
                "rule": tier.rule,
                "products": [{"id": pid, "name": name} for pid, name in tier.products],
            }
            for tier in tiers
        ]
    }
    return "\n".join(out).rstrip("\n") + "\n" + tomli_w.dumps(document)


def config_file(
    example: str, setup: Setup, plans: Sequence[TierPlan], origin: str, target: Decimal
) -> bytes:
    """The config file init writes; never one ffkpi would refuse."""
    text = config_text(example, setup.currency, setup.rates, plans, header(origin))
    text = text.replace('weekly_target = "0.10"', f'weekly_target = "{target:f}"', 1)
    parse_config(text, "the config written by ffkpi init")
    return text.encode()
