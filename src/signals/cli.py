"""The `signals` command line: thin commands over the library.

Each command group lives here as a few lines that parse arguments, call one library function and
report; errors a user can cause become a one-line message and exit code 2 (never a stack trace).
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Build the unified dataset.")
app.add_typer(data_app, name="data")

console = Console(stderr=True)


class UserError(Exception):
    """An error the user can fix (bad file, missing column...): printed as one line, exit code 2."""


def fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


def main() -> None:
    """Entry point: run the app, turning ``UserError`` into a clean message."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except UserError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
