"""``taskflow db upgrade|current|prune``."""

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


@db.command()
@db_option
@click.option(
    "--finished-before",
    "age",
    required=True,
    metavar="DURATION",
    help="Delete trees that finished longer ago than this (30d, 12h, 3600).",
)
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True)
def prune(db_url: str | None, age: str, batch: int) -> None:
    """Delete finished trees (tasks, events, signals) and old schedule fire records.

    A batch of trees per transaction, oldest first: running trees keep going meanwhile.
    """
    from taskflow.models import utcnow
    from taskflow.runtime import create_storage
    from taskflow.runtime.maintenance import prune_finished
    from taskflow.schedules import parse_duration

    try:
        cutoff = utcnow() - parse_duration(age, field="--finished-before")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--finished-before") from exc

    async def go() -> tuple[int, int]:
        storage = create_storage(db_url)
        try:
            return await prune_finished(storage, cutoff, batch=batch)
        finally:
            await storage.close()

    trees, fires = run_async(go())
    stdout.print(
        f"deleted {trees} trees finished before {cutoff:%Y-%m-%d %H:%M:%S} UTC"
        + (f" and {fires} schedule fire records" if fires else ""),
        markup=False,
    )
