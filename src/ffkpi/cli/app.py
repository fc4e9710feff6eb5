"""The ffkpi command group: every command registered in one list, and the one place
that turns an FfkpiError, Ctrl-C or a closed pipe into its line and exit code."""

import os
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException  # typer's own click
from typer.core import TyperGroup

from ffkpi import __version__, render
from ffkpi.cli.commands import arr, check, fetch, init, mrr, snapshot
from ffkpi.cli.record import record
from ffkpi.cli.review import review
from ffkpi.cli.weekly import weekly
from ffkpi.cli.weeks import backfill, history, movements
from ffkpi.errors import ExitCode, FfkpiError
from ffkpi.usecases import parallel

# Every command, in the order `ffkpi --help` lists them.
COMMANDS = [
    mrr,
    arr,
    weekly,
    snapshot,
    record,
    review,
    history,
    movements,
    backfill,
    fetch,
    check,
    init,
]

VERBOSE = threading.Event()  # set by --verbose for this run


class Commands(TyperGroup):
    """Every command runs inside the one place that turns an FfkpiError into
    `ffkpi: error: <what> (<how to fix>)` and its exit code, and Ctrl-C into one line;
    the option parser's own errors become one such line too (exit 2)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except ClickException as err:
            if not standalone_mode:
                raise
            if type(err).__name__ == "NoArgsIsHelpError":  # plain `ffkpi`: the help
                err.show()
                sys.exit(err.exit_code)
            render.error(_usage_message(err))
            sys.exit(ExitCode.USAGE)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else ExitCode.OK)

    def invoke(self, ctx: Any) -> Any:  # a click Context, from the group typer builds
        try:
            return super().invoke(ctx)
        except FfkpiError as err:
            render.error(err.message)
            if VERBOSE.is_set() and err.detail:
                render.note(f"detail: {err.detail}")
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            render.error("interrupted; nothing was written")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # The reader stopped reading (`| head -1`): what it wanted, it has. Later
            # writes, and Python's own flush at exit, go nowhere instead of failing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.OK)) from None


app = typer.Typer(
    name="ffkpi",
    cls=Commands,
    help="MRR and ARR per pricing tier and product, straight from Stripe.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        render.write(f"ffkpi {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Add detail to errors (request ids, fields)."),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            max=256,
            envvar="FFKPI_JOBS",
            show_envvar=False,
            help="Processes that rebuild past weeks (default 0: every core; 1: this one).",
        ),
    ] = 0,
) -> None:
    """MRR and ARR per pricing tier and product, straight from Stripe."""
    parallel.set_jobs(jobs)
    if verbose:
        VERBOSE.set()
    else:
        VERBOSE.clear()


def _usage_message(err: ClickException) -> str:
    """The parser's complaint in one line, with where to read the command's options."""
    message = err.format_message().replace("Value error, ", "")
    context = getattr(err, "ctx", None)
    command = context.command_path if context is not None else "ffkpi"
    return f"{message} (see {command} --help)"


for command in COMMANDS:
    app.command()(command)


def main() -> None:
    try:
        app()
    except SystemExit as done:
        if done.code == ExitCode.INTERRUPTED:
            # Requests still in flight would hold the exit until they time out.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(ExitCode.INTERRUPTED))
        raise
