"""The config file and the key file: found where the README says, read within bounds.

I/O: the environment and the files. The config's model is ffkpi.config's."""

import os
import sys
from pathlib import Path

from ffkpi.config import Config, parse_config
from ffkpi.errors import ConfigError, StripeAuthError
from ffkpi.storage.files import read_limited

ENV_CONFIG = "FFKPI_CONFIG"
ENV_API_KEY = "STRIPE_API_KEY"
ENV_API_BASE = "STRIPE_API_BASE"
LOCAL_CONFIG = Path("ffkpi.toml")


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
