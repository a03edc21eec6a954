"""The ``taskflow`` command line.

`main` is the one place where a `TaskflowError` becomes a message on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from taskflow import __version__
from taskflow.exceptions import TaskflowError
from taskflow.runtime import create_session, default_database_url
from taskflow.storage.sql import SqlRepository

T = TypeVar("T")
EXIT_BAD_INPUT = 2


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """The CLI's process edge into asyncio."""
    return asyncio.run(coroutine)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taskflow")
def cli() -> None:
    """Run trees of tasks through pluggable executors."""


@cli.group()
def db() -> None:
    """Manage the database schema."""


def _sql_repository(url: str | None) -> SqlRepository:
    repository = create_session(url or default_database_url())
    if not isinstance(repository, SqlRepository):
        raise click.UsageError("schema commands need a SQL database URL, not memory://")
    return repository


@db.command()
@click.option(
    "--db", "url", envvar="TASKFLOW_DATABASE_URL", help="Database URL (default: the SQLite file)."
)
@click.option("--revision", default="head", show_default=True, help="Upgrade up to this revision.")
def upgrade(url: str | None, revision: str) -> None:
    """Apply the schema migrations."""

    async def go() -> str | None:
        repository = _sql_repository(url)
        try:
            return await repository.upgrade(revision)
        finally:
            await repository.close()

    click.echo(f"database at revision {run_async(go())}")


@db.command()
@click.option(
    "--db", "url", envvar="TASKFLOW_DATABASE_URL", help="Database URL (default: the SQLite file)."
)
def current(url: str | None) -> None:
    """Print the schema revision of the database."""

    async def go() -> str | None:
        repository = _sql_repository(url)
        try:
            return await repository.current_revision()
        finally:
            await repository.close()

    click.echo(run_async(go()) or "none (empty database)")


def main() -> None:
    """Entry point: run the CLI; a taskflow error is one line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TaskflowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
