"""The SQLAlchemy (async) repository: a SQLite file or PostgreSQL, chosen by URL.

Reads go through SQLAlchemy Core; writes go through a `Writer` (see `taskflow.storage.writers`)
with statements encoded once by `RowCodec`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskflow.events import TaskEvent
from taskflow.exceptions import ConfigurationError, StorageError
from taskflow.models import Dependency, Task, TaskStatus
from taskflow.storage.base import Change, TaskQuery, TaskRepository
from taskflow.storage.codec import RowCodec
from taskflow.storage.migrate import current_revision, ensure_schema, upgrade
from taskflow.storage.schema import tasks
from taskflow.storage.sql_control import SqlEventLog, SqlLeaseStore, SqlSignalBox
from taskflow.storage.writers import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    EngineWriter,
    SqliteFileWriter,
    Statement,
    Writer,
    status_text,
)

_COLUMNS = [c.name for c in tasks.columns if not c.name.startswith("lease_")]
_SELECTED = tuple(tasks.c[name] for name in _COLUMNS)


def _row_to_task(row: Sequence[Any]) -> Task:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["status"] = TaskStatus(values["status"])
    values["dependencies"] = tuple(
        Dependency(d["id"], d["required"]) for d in values["dependencies"]
    )
    values["attempts"] = tuple(values["attempts"] or ())
    return Task(**values)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, NORMAL sync (durable against process crashes), a busy timeout, explicit BEGIN."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("taskflow_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _create_engine(url: str, options: dict[str, Any]) -> AsyncEngine:
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    try:
        return create_async_engine(url, **options)
    except ModuleNotFoundError as exc:
        hint = (
            "; install it with: pip install 'taskflow[postgres]'" if "asyncpg" in str(exc) else ""
        )
        raise ConfigurationError(
            f"the driver for {url.split(':', 1)[0]} is not installed ({exc}){hint}"
        ) from exc
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigurationError(f"invalid database URL {url!r}: {exc}") from exc


@contextlib.asynccontextmanager
async def translate_errors(where: str) -> AsyncIterator[None]:
    """Turn driver and network failures into `StorageError` naming the database."""
    try:
        yield
    except DBAPIError as exc:
        raise StorageError(f"database error on {where}: {exc.orig}") from exc
    except (OSError, TimeoutError) as exc:
        raise StorageError(f"cannot reach the database {where}: {exc}") from exc


class SqlRepository(TaskRepository):
    """Tasks in a SQL database through SQLAlchemy's async engine.

    The schema is created at the latest revision on first use of an empty database; a database
    at an older revision must be upgraded first (`upgrade`, or ``taskflow db upgrade``).
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = _create_engine(url, engine_options)
        dialect = self.engine.dialect.name
        self._codec = RowCodec(dialect, [c.name for c in tasks.columns])
        database = self.engine.url.database
        self._writer: Writer
        if dialect == "sqlite":
            _configure_sqlite(self.engine)
        if dialect == "sqlite" and database and database != ":memory:" and "mode=memory" not in url:
            with contextlib.suppress(OSError):  # sqlite reports the failure clearly itself
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = SqliteFileWriter(database)
        else:
            self._writer = EngineWriter(self.engine)
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None
        self.events = SqlEventLog(self._read)
        self.signals = SqlSignalBox(self._read, self._sa_write)
        self.leases = SqlLeaseStore(self._read, self._sa_write)

    @property
    def _where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SqlRepository({self._where!r})"

    async def _ensure_schema(self) -> None:
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if not self._ready:
                async with translate_errors(self._where):
                    await ensure_schema(self.engine)
                self._ready = True

    async def upgrade(self, revision: str = "head") -> str | None:
        """Apply the schema migrations up to ``revision``; return the revision reached."""
        async with translate_errors(self._where):
            reached = await upgrade(self.engine, revision)
        self._ready = False
        return reached

    async def current_revision(self) -> str | None:
        """The schema revision the database is at (``None`` when empty)."""
        async with translate_errors(self._where), self.engine.connect() as conn:
            return await conn.run_sync(current_revision)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        await self._ensure_schema()
        async with translate_errors(self._where), self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _sa_write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction through SQLAlchemy (``BEGIN IMMEDIATE`` on SQLite)."""
        await self._ensure_schema()
        async with translate_errors(self._where), self.engine.connect() as plain:
            conn = await plain.execution_options(taskflow_write=True)
            async with conn.begin():
                yield conn

    async def _write(self, statements: Sequence[Statement]) -> list[str]:
        await self._ensure_schema()
        async with translate_errors(self._where):
            return await self._writer.write(statements)

    async def close(self) -> None:
        """Close the writer and dispose of the connection pool."""
        await self._writer.close()
        await self.engine.dispose()

    # -- primitives ---------------------------------------------------------------------------

    async def insert(self, new_tasks: Sequence[Task]) -> None:
        """Insert all tasks in one transaction."""
        if new_tasks:
            rows = [self._codec.insert_row(task) for task in new_tasks]
            await self._write([Statement(self._codec.insert_sql, rows)])

    async def select(self, query: TaskQuery) -> list[Task]:
        """The matching tasks in tree order (trees newest first when listing across trees)."""
        stmt = sa.select(*_SELECTED)
        if query.ids is not None:
            stmt = stmt.where(tasks.c.id.in_(list(query.ids)))
        if query.tree_id is not None:
            stmt = stmt.where(tasks.c.tree_id == query.tree_id)
        if query.parent_id is not None:
            stmt = stmt.where(tasks.c.parent_id == query.parent_id)
        if query.user_id is not None:
            stmt = stmt.where(tasks.c.user_id == query.user_id)
        if query.statuses is not None:
            stmt = stmt.where(tasks.c.status.in_([s.value for s in query.statuses]))
        if query.roots_only:
            stmt = stmt.where(tasks.c.parent_id.is_(None))
        if query.cancel_requested:
            stmt = stmt.where(tasks.c.cancel_requested.is_not(None))
        if query.tree_id is None and query.parent_id is None:
            stmt = stmt.order_by(tasks.c.created_at.desc(), tasks.c.tree_id, tasks.c.position)
        else:
            stmt = stmt.order_by(tasks.c.position)
        stmt = stmt.limit(query.limit).offset(query.offset or None)
        async with self._read() as conn:
            result = await conn.execute(stmt)
            return [_row_to_task(row) for row in result]

    async def apply(self, changes: Sequence[Change], events: Sequence[TaskEvent] = ()) -> list[str]:
        """One transaction: one ``UPDATE ... WHERE id = ? AND status = ?`` per shape of change,
        and one ``INSERT`` of the events."""
        if not changes and not events:
            return []
        groups: dict[tuple[bool, tuple[str, ...]], list[Change]] = {}
        for change in changes:
            groups.setdefault(
                (change.expected is not None, tuple(sorted(change.values))), []
            ).append(change)
        codec = self._codec
        statements = []
        for (checked, fields), group in groups.items():
            rows = [codec.update_row(fields, c.values, c.task_id, c.expected) for c in group]
            targets = (
                {c.task_id: status_text(c.values.get("status", c.expected)) for c in group}
                if checked
                else None
            )
            statements.append(Statement(codec.update_sql(fields, checked), rows, targets=targets))
        if events:
            codec_rows = [codec.event_row(event) for event in events]
            statements.append(Statement(codec.event_sql, codec_rows))
        return await self._write(statements)

    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete by id."""
        ids = list(task_ids)
        existing = await self.select(TaskQuery(ids=ids))
        if existing:
            mark = "?" if self._codec.dialect == "sqlite" else "$1"
            await self._write(
                [
                    Statement(
                        f"DELETE FROM taskflow_tasks WHERE id = {mark}", [(t.id,) for t in existing]
                    )
                ]
            )
        return len(existing)
