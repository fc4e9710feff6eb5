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
    SOME_FAILED = 7  # record --run: some KPI commands gave no value, the others recorded
    RENDERER = 8  # review --format png: no headless chromium, or it failed
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class FfkpiError(Exception):
    """A failure the user can fix: what went wrong, and how to fix it."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, what: str, fix: str, detail: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.detail = detail  # shown with --verbose: request ids, objects, fields

    def __reduce__(self) -> tuple[type["FfkpiError"], tuple[str, str, str | None]]:
        # Whole across processes: a rebuild's worker raises it to the run that started it.
        return type(self), (self.what, self.fix, self.detail)

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


class MissingPermissionError(StripeAuthError):
    """A restricted key that lacks one Read permission ffkpi needs."""


class StripeUnavailableError(FfkpiError):
    exit_code = ExitCode.STRIPE_UNAVAILABLE


class SourceAuthError(FfkpiError):
    """GitHub or HubSpot refused the token, or it lacks a scope or a repository."""

    exit_code = ExitCode.STRIPE_AUTH


class SourceUnavailableError(FfkpiError):
    """GitHub or HubSpot did not answer, kept failing, or kept ffkpi waiting."""

    exit_code = ExitCode.STRIPE_UNAVAILABLE


class StorageError(FfkpiError):
    exit_code = ExitCode.STORAGE


class WebhookError(FfkpiError):
    """The Slack webhook refused or could not be reached."""

    exit_code = ExitCode.STRIPE_UNAVAILABLE


class Interrupted(FfkpiError):
    """Ctrl-C, where a run has something to say about what it left on disk."""

    exit_code = ExitCode.INTERRUPTED


class RendererError(FfkpiError):
    exit_code = ExitCode.RENDERER
