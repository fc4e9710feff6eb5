"""The config file: TOML -> frozen Pydantic models, with errors that name file, key and fix."""

import hashlib
import os
import re
import sys
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ffkpi.engine.model import Status
from ffkpi.engine.money import ISO_4217
from ffkpi.errors import ConfigError, StripeAuthError
from ffkpi.storage import read_limited

ENV_CONFIG = "FFKPI_CONFIG"
ENV_API_KEY = "STRIPE_API_KEY"
ENV_API_BASE = "STRIPE_API_BASE"
LOCAL_CONFIG = Path("ffkpi.toml")
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


class Config(_Model):
    currency: Currency = "usd"
    policy: Policy = Policy()
    # 1 unit of a currency in the reporting one: positive, at most a billion
    fx: dict[Currency, Annotated[Decimal, Field(gt=0, le=MAX_RATE)]] = {}
    growth: Growth = Growth()
    snapshots_dir: str | None = None  # relative to the config file
    tiers: tuple[TierConfig, ...] = Field(min_length=1)

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
        """Identifies what the config means, whatever its layout and comments."""
        canonical = self.model_dump_json(exclude={"snapshots_dir"})
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

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


def user_config_path() -> Path:
    """Where a user's own config lives: ffkpi/config.toml under the platform's config dir."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "ffkpi" / "config.toml"


def find_config(explicit: Path | None) -> Path | None:
    """--config, then $FFKPI_CONFIG, then ./ffkpi.toml, then the user's config dir."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env)
    for candidate in (LOCAL_CONFIG, user_config_path()):
        if candidate.is_file():
            return candidate
    return None


MAX_CONFIG = 1024 * 1024
MAX_KEY_FILE = 64 * 1024


def load_config(path: Path) -> Config:
    try:
        text = read_limited(path, MAX_CONFIG).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist",
            "check the path, or copy config.example.toml there",
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read config file {path}: {_why(err)}", "make it a readable UTF-8 text file"
        ) from None
    return parse_config(text, str(path))


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
        for number in range(start, end):
            if re.match(rf"(\[)?{re.escape(part)}\s*(=|\])", lines[number]):
                found = start = number
                if lines[number].startswith("["):
                    end = block_end(number)
                break
        else:
            break
    return None if found is None else found + 1


def read_api_key(key_file: Path | None) -> tuple[str, list[str]]:
    """The Stripe key from --api-key-file (first line) or $STRIPE_API_KEY, and warnings."""
    warnings = []
    if key_file is not None:
        try:
            text = read_limited(key_file, MAX_KEY_FILE).decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise StripeAuthError(
                f"cannot read the API key file {key_file}: {_why(err)}",
                "check the path and its permissions",
            ) from None
        if sys.platform != "win32" and key_file.stat().st_mode & 0o077:
            warnings.append(
                f"{key_file} is readable by others; restrict it with chmod 600 {key_file}"
            )
        key = text.splitlines()[0].strip(" \t\r\n") if text.strip() else ""
        if not key:
            raise StripeAuthError(
                f"the API key file {key_file} is empty", "put the key on its first line"
            )
        return _well_formed(key, f"the first line of {key_file}"), warnings
    key = os.environ.get(ENV_API_KEY, "").strip(" \t\r\n")
    if not key:
        raise StripeAuthError(
            "no Stripe API key",
            f"set {ENV_API_KEY}, or pass --api-key-file PATH with the key on its first line",
        )
    return _well_formed(key, ENV_API_KEY), warnings


def _why(err: OSError | UnicodeDecodeError) -> str:
    if isinstance(err, IsADirectoryError):
        return "it is a folder"
    if isinstance(err, UnicodeDecodeError):
        return f"it is not UTF-8 text (byte 0x{err.object[err.start]:02x} at {err.start})"
    return err.strerror or str(err)


def _well_formed(key: str, where: str) -> str:
    """The key, if it is one: Stripe's keys are letters, digits and underscores.

    A key with a line break (a wrapped paste), a space, a control character or a byte
    order mark would be sent as it is and fail as "Stripe is unreachable" after minutes
    of retries, printing its tail on the way; say so at once instead, without it.
    """
    bad = next((ch for ch in key if not (ch.isascii() and (ch.isalnum() or ch == "_"))), None)
    if bad is None:
        return key
    kind = {"\n": "a line break", "\r": "a line break", "\ufeff": "a byte order mark"}.get(
        bad, "a space" if bad.isspace() else f"the character U+{ord(bad):04X}"
    )
    raise StripeAuthError(
        f"the key is malformed: {where} holds {kind} at character {key.index(bad) + 1}",
        "copy the key again from the Stripe Dashboard (Developers > API keys), on one line",
    )
