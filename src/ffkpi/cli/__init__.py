"""The ffkpi command line: options -> one library call -> one render call.

The only package that imports typer.
"""

from ffkpi.cli import weeks  # registers history, backfill and movements
from ffkpi.cli.commands import app, main

__all__ = ["app", "main", "weeks"]
