"""The ffkpi command line: options -> one library call -> one render call.

The only package that imports typer.
"""

from ffkpi.cli.app import app, main

__all__ = ["app", "main"]
