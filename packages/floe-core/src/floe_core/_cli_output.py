"""What the ``floe`` command prints: its consoles, exit codes and the report of an error."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from floe_core.errors import ErrorCategory, IngestionError

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "echo_json",
    "err_console",
    "fail",
    "out_console",
    "unexpected",
]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def out_console() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def fail(error: IngestionError, *, as_json: bool = False) -> NoReturn:
    """Report an error raised before or instead of a load and exit with its code."""
    code = EXIT_CONFIG if error.category is ErrorCategory.CONFIGURATION else EXIT_FAILED
    if as_json:
        click.echo(json.dumps({"error": error.to_detail().model_dump(mode="json")}, indent=2))
    err_console().print(f"[bold red]error[/] \\[{error.code}] {escape(error.message)}")
    sys.exit(code)


def unexpected(exc: Exception) -> IngestionError:
    """Wrap a failure that escaped floe's taxonomy (a bug) so the CLI still reports it."""
    return IngestionError(f"unexpected {type(exc).__name__}: {exc}")
