"""Schema management: create a fresh database at the newest revision, upgrade older ones."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from taskflow.exceptions import StorageError
from taskflow.storage.codec import HEAD_REVISION, VERSION_TABLE
from taskflow.storage.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock that schema creation and migrations hold, so that several
#: processes opening an empty database at once do not race (``'taskflow'`` as an integer).
SCHEMA_LOCK = 0x7461736B666C6F77


def _lock_schema(conn: Connection) -> None:
    """Serialise schema work: an advisory lock on PostgreSQL (SQLite's ``BEGIN IMMEDIATE``
    already holds the database's write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (``None`` for a database taskflow never touched)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _create_or_check(conn: Connection) -> None:
    _lock_schema(conn)
    revision = current_revision(conn)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        metadata.create_all(conn)
        conn.execute(
            sa.text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        conn.execute(
            sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": HEAD_REVISION}
        )
        return
    raise StorageError(
        f"the database is at schema revision {revision!r}, this taskflow needs {HEAD_REVISION!r}: "
        "run `taskflow db upgrade` (or `await repository.storage.upgrade()`)"
    )


async def ensure_schema(engine: AsyncEngine) -> None:
    """Create the schema at the newest revision on an empty database, or check its revision."""
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(taskflow_write=True)
            async with conn.begin():
                await conn.run_sync(_create_or_check)
    except sa.exc.OperationalError as exc:
        raise StorageError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}"
        ) from exc


def _alembic_config(conn: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _upgrade(conn: Connection, revision: str) -> None:
    from alembic import command

    _lock_schema(conn)
    command.upgrade(_alembic_config(conn), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; return the revision the database is then at."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(taskflow_write=True)
        async with conn.begin():
            await conn.run_sync(_upgrade, revision)
            return await conn.run_sync(current_revision)
