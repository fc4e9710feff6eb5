"""The config: TOML text -> frozen Pydantic models, with errors that name file, key and fix.

Pure: finding and reading the file is storage.config_file's."""

import hashlib
import re
import tomllib
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ffkpi.engine.model import Status
from ffkpi.engine.money import ISO_4217
from ffkpi.errors import ConfigError

MAX_RATE = Decimal("1e9")


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha() or not value.isascii():
        raise ValueError(f'{value!r} is not a three-letter currency code such as "usd"')
    if value.lower() not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (a typo?)")
    return value.lower()


Currency = Annotated[str, AfterValidator(_currency)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(_Model):
    statuses: tuple[Status, ...] = ("active", "past_due")
    discounts: Literal["forever", "all", "none"] = "forever"
    scheduled_cancellations: Literal["exclude", "count"] = "exclude"
    paused_collection: Literal["exclude", "count"] = "exclude"
    metered: Literal["exclude", "last_invoice"] = "exclude"


class ProductRef(_Model):
    id: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _id_or_name(self) -> Self:
        if not self.id and not self.name:
            raise ValueError('a product needs an id ("prod_...") or its exact name')
        return self


class TierConfig(_Model):
    name: str = Field(min_length=1)
    rule: Literal["net", "list_price"]
    products: tuple[ProductRef, ...] = Field(min_length=1)


class Growth(_Model):
    weekly_target: Decimal = Field(default=Decimal("0.10"), ge=0, le=10)  # up to 1000 %


BUILT_IN_KPIS = ("mrr", "arr")  # from snapshots or rebuilt weeks, never recorded
# One CARR goal (review-rules.md): carr_goal's figure for the quarter judges both.
CARR_GOAL = "carr_goal"
CARR_JUDGED = ("carr_closed", "carr_projected")
KpiKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
QuarterName = Annotated[str, Field(pattern=r"^\d{4}-Q[1-4]$")]
_QUARTER = re.compile(r"\d{4}-Q[1-4]", re.ASCII)
Amount = Annotated[Decimal, Field(allow_inf_nan=False, ge=Decimal("-1e15"), le=Decimal("1e15"))]


class DealColumns(_Model):
    """Where a deals export keeps each field (a HubSpot export's names by default)."""

    id: str = "Record ID"
    pipeline: str = "Pipeline"
    stage: str = "Deal Stage"
    close_date: str = "Close Date"
    amount: str = "Amount"


class StageConfig(_Model):
    probability: Annotated[Decimal, Field(ge=0, le=1)]
    closed: bool = False


class DealsCsv(_Model):
    """CARR from a CRM's deals export (docs/kpi-sources.md): which figure, the file
    (relative to the config), its pipelines, its columns and each stage's probability."""

    measure: Literal["closed", "projected"]
    path: str = Field(min_length=1)
    pipelines: tuple[str, ...] = Field(default=("default",), min_length=1)
    columns: DealColumns = DealColumns()
    stages: dict[str, StageConfig] = Field(min_length=1)


Repository = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")]
HubspotName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


class GithubSource(_Model):
    """Engineering throughput: pull requests merged across the repositories (owner/name)."""

    repositories: tuple[Repository, ...] = Field(min_length=1, max_length=20)


class HubspotContacts(_Model):
    """MQLs: contacts whose date property (of becoming an MQL) falls in the window."""

    date_property: HubspotName = "hs_lifecyclestage_marketingqualifiedlead_date"


class HubspotDeals(_Model):
    """CARR from HubSpot's deals: which figure, the pipelines (ids) and the amount."""

    measure: Literal["closed", "projected"]
    pipelines: tuple[HubspotName, ...] = Field(default=("default",), min_length=1)
    amount_property: HubspotName = "amount"


SOURCES = ("command", "github", "hubspot_contacts", "hubspot_deals", "deals_csv")


class KpiConfig(_Model):
    """One of the KPIs the Tuesday review shows beside MRR (docs/review-rules.md):
    what it is, how it is judged, and how its value is found each week."""

    name: str = Field(min_length=1, max_length=80)
    unit: Literal["count", "money", "percent"] = "count"
    # week: a flow within the ISO week; point: a level at the week's end;
    # quarter_to_date: the quarter's running total; quarter: one figure for the quarter.
    period: Literal["week", "point", "quarter_to_date", "quarter"] = "week"
    better: Literal["up", "down"] = "up"
    goal: Amount | dict[QuarterName, Amount] | None = None  # one goal, or one per quarter
    definition: str = ""
    source: str = ""
    command: str | None = Field(default=None, min_length=1)  # run by the shell; prints it
    # the built-in sources (docs/kpi-sources.md), each instead of a command
    github: GithubSource | None = None
    hubspot_contacts: HubspotContacts | None = None
    hubspot_deals: HubspotDeals | None = None
    deals_csv: DealsCsv | None = None

    @model_validator(mode="after")
    def _one_way_to_its_value(self) -> Self:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"a KPI has one way to its value, not {' and '.join(given)}: keep one")
        return self

    @property
    def runs(self) -> bool:
        """Whether `record --run` finds its value (a command, or a built-in source)."""
        return any(getattr(self, name) is not None for name in SOURCES)

    @field_validator("goal", mode="before")
    @classmethod
    def _goal_per_quarter(cls, goal: object) -> object:
        """A table of goals is keyed by quarter: say which key is not one, plainly."""
        if isinstance(goal, dict):
            for quarter in goal:
                if not isinstance(quarter, str) or not _QUARTER.fullmatch(quarter):
                    raise ValueError(
                        f'{quarter!r} is not a quarter: write each as "2026-Q4" = 450000'
                    )
        return goal

    def goal_for(self, quarter: str) -> Decimal | None:
        """The goal in force in `quarter` (`2026-Q4`), if any."""
        if isinstance(self.goal, dict):
            return self.goal.get(quarter)
        return self.goal


class Config(_Model):
    currency: Currency = "usd"
    policy: Policy = Policy()
    # 1 unit of a currency in the reporting one: positive, at most a billion
    fx: dict[Currency, Annotated[Decimal, Field(gt=0, le=MAX_RATE)]] = {}
    growth: Growth = Growth()
    snapshots_dir: str | None = None  # relative to the config file
    tiers: tuple[TierConfig, ...] = Field(min_length=1)
    kpis: dict[KpiKey, KpiConfig] = {}  # the review's other KPIs, in the file's order

    @model_validator(mode="after")
    def _kpis_are_not_built_in(self) -> Self:
        for key in BUILT_IN_KPIS:
            if key in self.kpis:
                raise ValueError(
                    f"kpis.{key} is built in: it comes from the snapshots, never recorded; "
                    f"remove the [kpis.{key}] table"
                )
        return self

    @model_validator(mode="after")
    def _one_carr_goal(self) -> Self:
        if CARR_GOAL not in self.kpis:
            return self
        for key in CARR_JUDGED:
            if key in self.kpis and self.kpis[key].goal is not None:
                raise ValueError(
                    f"kpis.{key} has a goal of its own, but kpis.{CARR_GOAL} is the goal of "
                    f"{' and '.join(CARR_JUDGED)}: remove the goal from [kpis.{key}]"
                )
        return self

    @model_validator(mode="after")
    def _each_product_once(self) -> Self:
        seen: dict[str, str] = {}
        for tier in self.tiers:
            for ref in tier.products:
                key = f"id {ref.id!r}" if ref.id else f"name {ref.name!r}"
                if key in seen:
                    raise ValueError(
                        f"product {key} is in tier {seen[key]!r} and in tier {tier.name!r}; "
                        "a product belongs to one tier"
                    )
                seen[key] = tier.name
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("two tiers share a name; give each tier its own")
        return self

    @property
    def digest(self) -> str:
        """Identifies the config's MRR definition (tiers, their products and rules, policy,
        fx, currency), whatever its layout and comments: the growth target, the other
        KPIs and where snapshots go change no MRR figure (review-rules.md)."""
        return _digest(self.model_dump_json(exclude={"snapshots_dir", "kpis", "growth"}))

    @property
    def earlier_digest(self) -> str:
        """The digest of snapshots written while the growth target was part of it (ffkpi
        0.1.0): a snapshot that carries it was made under today's MRR definition."""
        return _digest(self.model_dump_json(exclude={"snapshots_dir", "kpis"}))

    def warnings(self) -> list[str]:
        """What is valid but almost surely not meant."""
        if not self.policy.statuses:
            return ["policy.statuses is empty, so no subscription counts: every MRR is 0"]
        return []

    def rate(self, currency: str) -> Decimal | None:
        """Reporting-currency units per unit of `currency`; None when no rate is set."""
        if currency == self.currency:
            return Decimal(1)
        return self.fx.get(currency)


def _digest(canonical: str) -> str:
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_config(text: str, origin: str) -> Config:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"{origin} is not valid TOML: {err}", "fix the TOML syntax there"
        ) from None
    if "api_key" in data:
        raise ConfigError(
            f"{origin} holds an api_key; ffkpi never reads keys from its config",
            "remove it and set STRIPE_API_KEY or pass --api-key-file",
        )
    return build_config(data, origin, text)


def build_config(data: dict[str, Any], origin: str, text: str = "") -> Config:
    """The one place a Config is made: what fails validation is a ConfigError naming
    `origin` and, where `text` is its TOML, the line."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(*_explain(err, origin, text)) from None


def _explain(err: ValidationError, origin: str, text: str) -> tuple[str, str]:
    first = err.errors(include_url=False)[0]
    loc = first["loc"]
    key = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc)
    key = key.replace(".[", "[")
    where = f"{origin}: {key}" if key else origin
    line = _line_of(text, loc)
    if line:
        where += f" (line {line})"
    kind = first["type"]
    if kind == "extra_forbidden":
        return (
            f"{where}: unknown key",
            "remove it or check its spelling against config.example.toml",
        )
    if kind == "missing":
        return f"{where}: required key is missing", "add it; config.example.toml shows every key"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}", "see config.example.toml for the allowed values"


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of the key at loc: follows [[table]] indices and [table] headers,
    searching only inside the table found, so a key missing from one tier points at
    that tier's header, never into the next one. Stops at inline arrays."""
    lines = [line.strip() for line in text.splitlines()]

    def block_end(header: int) -> int:
        return next(
            (n for n in range(header + 1, len(lines)) if lines[n].startswith("[")), len(lines)
        )

    found: int | None = None
    start, end = 0, len(lines)
    for position, part in enumerate(loc):
        if not isinstance(part, str):
            continue
        index = loc[position + 1] if position + 1 < len(loc) else None
        headers = [n for n in range(start, end) if lines[n] == f"[[{part}]]"]
        if isinstance(index, int) and index < len(headers):
            found = start = headers[index]
            end = block_end(start)
            continue
        dotted = "[" + ".".join(str(p) for p in loc[: position + 1]) + "]"
        if dotted in lines:  # a table header such as [kpis.mqls]
            found = start = lines.index(dotted)
            end = block_end(start)
            continue
        for number in range(start, end):
            if re.match(rf"(\[)?{re.escape(part)}\s*(=|\])", lines[number]):
                found = start = number
                if lines[number].startswith("["):
                    end = block_end(number)
                break
        else:
            prefix = "[" + ".".join(str(p) for p in loc[: position + 1]) + "."
            if not any(line.startswith(prefix) for line in lines[start:end]):
                break  # no [kpis.mqls]-style header further down either
    return None if found is None else found + 1
