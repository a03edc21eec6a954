"""``taskflow db upgrade|current``."""

from __future__ import annotations

import click

from taskflow.cli.common import db_option, run_async, stdout
from taskflow.runtime import create_session, default_database_url
from taskflow.storage.sql import SqlRepository


@click.group()
def db() -> None:
    """Manage the database schema."""


def _sql_repository(url: str | None) -> SqlRepository:
    repository = create_session(url or default_database_url())
    if not isinstance(repository, SqlRepository):
        raise click.BadParameter(
            "schema commands need a SQL database URL, not memory://", param_hint="--db"
        )
    return repository


@db.command()
@db_option
@click.option("--revision", default="head", show_default=True, help="Upgrade up to this revision.")
def upgrade(db_url: str | None, revision: str) -> None:
    """Apply the schema migrations."""

    async def go() -> str | None:
        repository = _sql_repository(db_url)
        try:
            return await repository.upgrade(revision)
        finally:
            await repository.close()

    stdout.print(f"database at revision {run_async(go())}", markup=False)


@db.command()
@db_option
def current(db_url: str | None) -> None:
    """Print the schema revision of the database."""

    async def go() -> str | None:
        repository = _sql_repository(db_url)
        try:
            return await repository.current_revision()
        finally:
            await repository.close()

    stdout.print(run_async(go()) or "none (empty database)", markup=False)
