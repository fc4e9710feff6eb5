"""`ffkpi init`: suggest tiers from product names, and write a config with its comments.

Pure: names in, suggestions and TOML text out.
"""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import tomli_w

OTHER = "Other"


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
