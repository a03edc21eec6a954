"""Migrations and models agree; fresh databases start at the head revision."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from taskflow import StorageError
from taskflow.models import utcnow
from taskflow.runtime import create_storage, normalise_url
from taskflow.storage import TaskQuery
from taskflow.storage.codec import HEAD_REVISION, VERSION_TABLE
from taskflow.storage.migrate import MIGRATIONS, current_revision
from taskflow.storage.schema import metadata, tasks
from taskflow.storage.sql import SqlStorage


def test_head_revision_constant_is_alembics_head() -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def _differences(conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
    )
    return list(compare_metadata(context, metadata))


def _storage(url: str) -> SqlStorage:
    storage = create_storage(url)
    assert isinstance(storage, SqlStorage)
    return storage


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    storage = _storage(database_url)
    assert await storage.upgrade() == HEAD_REVISION
    async with storage.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
    await storage.close()


async def test_fresh_database_is_created_at_head_and_matches_migrations(database_url: str) -> None:
    storage = _storage(database_url)
    await storage.events.last_seq("none")  # first use creates the schema
    async with storage.engine.connect() as conn:
        assert await conn.run_sync(current_revision) == HEAD_REVISION
        assert await conn.run_sync(_differences) == []
    await storage.close()


async def test_tasks_of_a_database_at_0005_have_no_cursor_once_upgraded(database_url: str) -> None:
    storage = _storage(database_url)
    now = utcnow()
    row = {
        "id": "t1", "tree_id": "t1", "key": "root", "name": "root", "executor": "noop",
        "inputs": {}, "params": {}, "dependencies": [], "priority": 2, "position": 0,
        "status": "in_progress", "progress": 0.5, "attempt": 1, "created_at": now,
        "updated_at": now, "waiting": {"key": "go", "since": now.isoformat(), "timeout": None},
    }  # fmt: skip
    as_0005 = sa.table(
        tasks.name, *(sa.column(c.name, c.type) for c in tasks.c if c.name != "cursor")
    )
    try:
        assert await storage.upgrade("0005_api_keys") == "0005_api_keys"
        async with storage.engine.begin() as conn:
            await conn.execute(as_0005.insert().values(**row))
        assert await storage.upgrade() == HEAD_REVISION
        [task] = await storage.select(TaskQuery(ids=["t1"]))
    finally:
        await storage.close()
    assert (task.status.value, task.progress, task.cursor) == ("in_progress", 0.5, None)
    assert task.waiting is not None and task.waiting["key"] == "go"


async def test_database_at_an_unknown_revision_is_refused(database_url: str) -> None:
    engine = sa.ext.asyncio.create_async_engine(normalise_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)")
        )
        await conn.execute(sa.text(f"INSERT INTO {VERSION_TABLE} VALUES ('0000_older')"))
    await engine.dispose()
    storage = _storage(database_url)
    with pytest.raises(StorageError, match=r"revision '0000_older'.*taskflow db upgrade"):
        await storage.events.last_seq("none")
    await storage.close()
