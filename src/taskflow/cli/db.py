"""``taskflow db upgrade|current``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from taskflow.cli.common import db_option, run_async, stdout

if TYPE_CHECKING:
    from taskflow.storage.sql import SqlStorage


@click.group()
def db() -> None:
    """Manage the database schema."""


def _sql_storage(url: str | None) -> SqlStorage:
    from taskflow.runtime import create_storage, default_database_url
    from taskflow.storage.sql import SqlStorage

    storage = create_storage(url or default_database_url())
    if not isinstance(storage, SqlStorage):
        raise click.BadParameter(
            "schema commands need a SQL database URL, not memory://", param_hint="--db"
        )
    return storage


@db.command()
@db_option
@click.option("--revision", default="head", show_default=True, help="Upgrade up to this revision.")
def upgrade(db_url: str | None, revision: str) -> None:
    """Apply the schema migrations."""

    async def go() -> str | None:
        storage = _sql_storage(db_url)
        try:
            return await storage.upgrade(revision)
        finally:
            await storage.close()

    stdout.print(f"database at revision {run_async(go())}", markup=False)


@db.command()
@db_option
def current(db_url: str | None) -> None:
    """Print the schema revision of the database."""

    async def go() -> str | None:
        storage = _sql_storage(db_url)
        try:
            return await storage.current_revision()
        finally:
            await storage.close()

    stdout.print(run_async(go()) or "none (empty database)", markup=False)
