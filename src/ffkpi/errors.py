"""Every error a user can cause, each carrying the exit code the README documents."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    INVALID = 3
    STRIPE_AUTH = 4
    STRIPE_UNAVAILABLE = 5
    STORAGE = 6


class FfkpiError(Exception):
    """A failure the user can fix: what went wrong, and how to fix it."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    @property
    def message(self) -> str:
        return f"{self.what} ({self.fix})"


class UsageError(FfkpiError):
    exit_code = ExitCode.USAGE


class ConfigError(FfkpiError):
    exit_code = ExitCode.INVALID


class InputError(FfkpiError):
    exit_code = ExitCode.INVALID


class StripeAuthError(FfkpiError):
    exit_code = ExitCode.STRIPE_AUTH


class StripeUnavailableError(FfkpiError):
    exit_code = ExitCode.STRIPE_UNAVAILABLE


class StorageError(FfkpiError):
    exit_code = ExitCode.STORAGE
