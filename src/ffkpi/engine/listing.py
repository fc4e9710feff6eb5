"""Which tier each product belongs to: the config's tiers resolved against the products
the data names (by id, or by a name that matches one product). Pure."""

from collections.abc import Mapping
from dataclasses import dataclass

from ffkpi.config import Config
from ffkpi.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Listing:
    """Which tier each product id belongs to, and the rows the config asks for."""

    tier_of: Mapping[str, int]
    rows: tuple[tuple[tuple[str | None, str], ...], ...]  # per tier: (product id, name)


def resolve(config: Config, names: Mapping[str, str]) -> Listing:
    """The config's tiers against the data's product names; a name matching two products,
    or a product in two tiers, is refused."""
    ids_by_name: dict[str, list[str]] = {}
    for known_id, known_name in names.items():
        ids_by_name.setdefault(known_name, []).append(known_id)
    tier_of: dict[str, int] = {}
    rows: list[tuple[tuple[str | None, str], ...]] = []
    for t, tier in enumerate(config.tiers):
        tier_rows: list[tuple[str | None, str]] = []
        for ref in tier.products:
            if ref.id:
                product_id: str | None = ref.id
                name = ref.name or names.get(ref.id, ref.id)
            else:
                assert ref.name is not None  # a ProductRef has an id or a name
                name = ref.name
                matches = sorted(ids_by_name.get(name, ()))
                if len(matches) > 1:
                    raise ConfigError(
                        f"tier {tier.name!r}: product name {name!r} matches "
                        f"{len(matches)} products ({', '.join(matches)})",
                        "list the product by id instead",
                    )
                product_id = matches[0] if matches else None
            if product_id is not None:
                if product_id in tier_of:
                    other = config.tiers[tier_of[product_id]].name
                    raise ConfigError(
                        f"product {product_id} ({name}) is listed in tier {other!r} and in "
                        f"tier {tier.name!r}",
                        "a product belongs to one tier; remove one of the entries",
                    )
                tier_of[product_id] = t
            tier_rows.append((product_id, name))
        rows.append(tuple(tier_rows))
    return Listing(tier_of, tuple(rows))
