"""What every command shares: options, the manager, output, and the exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from taskflow.engine import EngineSettings
from taskflow.exceptions import TaskflowError
from taskflow.runtime import TaskManager, create_session

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1  # the tree ran and did not complete
EXIT_BAD_INPUT = 2  # nothing ran: a bad file, an unknown id, an unreachable database ...
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (twice): the tree is left resumable
EXIT_TERMINATED = 143  # stopped by SIGTERM: the tree is left resumable

# In a pipe, tables are not squeezed to 80 columns: lines are for grep and scripts. No emoji
# codes: rich would print "tree.yaml:100:" with a 💯 for the line number.
stdout = Console(
    highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 250
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class Failed(click.ClickException):
    """A command that ran and reports failure (exit 1) with a message."""

    exit_code = EXIT_FAILED


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """The CLI's process edge into asyncio."""
    return asyncio.run(coroutine)


def db_option(function: F) -> F:
    """``--db URL`` (or ``TASKFLOW_DATABASE_URL``; default: the SQLite file)."""
    return click.option(
        "--db",
        "db_url",
        envvar="TASKFLOW_DATABASE_URL",
        metavar="URL",
        help="Database URL (default: $TASKFLOW_HOME/taskflow.db; env TASKFLOW_DATABASE_URL).",
    )(function)


def imports_option(function: F) -> F:
    """``--import MODULE``: import modules that register executors."""
    return click.option(
        "--import",
        "imports",
        multiple=True,
        metavar="MODULE",
        help="Import this module first (it registers executors). Repeatable.",
    )(function)


def json_option(function: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def import_modules(names: tuple[str, ...]) -> None:
    """Import executor modules named on the command line."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise click.BadParameter(
                f"cannot import {name!r}: {exc}", param_hint="--import"
            ) from exc


@contextlib.asynccontextmanager
async def open_manager(db_url: str | None, **settings: Any) -> AsyncIterator[TaskManager]:
    """A TaskManager on the database, closed (trees left resumable) on the way out."""
    options = {k: v for k, v in settings.items() if v is not None}
    manager = TaskManager(create_session(db_url), settings=EngineSettings(**options))
    try:
        yield manager
    finally:
        await manager.close()


def print_json(data: Any) -> None:
    """JSON on stdout, one document."""
    click.echo(json.dumps(data, indent=2, default=str))


def configure_logging(verbosity: int) -> None:
    """-q: errors only; default: warnings; -v: info; -vv: debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def report_error(exc: BaseException, verbosity: int) -> int:
    """The one place where an error becomes a paragraph on stderr and an exit code."""
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        stderr.print("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, TaskflowError):
        if verbosity > 0:
            stderr.print_exception()
        stderr.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        return EXIT_BAD_INPUT
    raise exc
