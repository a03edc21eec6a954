"""How the SQL repository writes: one transaction per call, encoded by `RowCodec`.

Two writers share one contract (`Writer`):

* `SqliteFileWriter` — a SQLite file: a dedicated thread owns a stdlib ``sqlite3`` connection
  and runs each whole transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) in one hop, instead of
  one thread hop per statement. This is what makes a dependency hop cost well under a
  millisecond.
* `EngineWriter` — any other database (PostgreSQL through asyncpg, in-memory SQLite): the
  same statements through SQLAlchemy's async connection, at the driver level.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from taskflow.exceptions import DefinitionError, StorageError
from taskflow.models import TaskStatus

SQLITE_BUSY_TIMEOUT_SECONDS = 30


class Statement:
    """One ``executemany``: SQL, its rows, and the ids/status each row aims for (for CAS)."""

    __slots__ = ("checked", "rows", "sql", "targets")

    def __init__(
        self, sql: str, rows: list[tuple[Any, ...]], *, targets: dict[str, str] | None = None
    ) -> None:
        self.sql = sql
        self.rows = rows
        self.targets = targets  # task id -> the status it must have afterwards; None: unchecked
        self.checked = targets is not None


def _conflict_sql(dialect: str, count: int) -> str:
    marks = ", ".join("?" if dialect == "sqlite" else f"${i + 1}" for i in range(count))
    return f"SELECT id, status FROM taskflow_tasks WHERE id IN ({marks})"


def _conflicts(found: dict[str, str], targets: dict[str, str]) -> list[str]:
    return [task_id for task_id, status in targets.items() if found.get(task_id) != status]


class Writer(abc.ABC):
    """Runs a list of statements as one transaction; returns the ids whose CAS failed."""

    @abc.abstractmethod
    async def write(self, statements: Sequence[Statement]) -> list[str]:
        """Execute all statements in one transaction, or none on error."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection."""


class SqliteFileWriter(Writer):
    """A thread that owns the write connection to one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="taskflow-sqlite-writer"
        )
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def _transaction(self, statements: Sequence[Statement]) -> list[str]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conflicts: list[str] = []
            for statement in statements:
                cursor = conn.executemany(statement.sql, statement.rows)
                if statement.targets is not None and cursor.rowcount != len(statement.rows):
                    ids = list(statement.targets)
                    found = dict(conn.execute(_conflict_sql("sqlite", len(ids)), ids).fetchall())
                    conflicts.extend(_conflicts(found, statement.targets))
            conn.execute("COMMIT")
            return conflicts
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def write(self, statements: Sequence[Statement]) -> list[str]:
        """Run the transaction on the writer thread (one hop)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._transaction, statements)
        except sqlite3.IntegrityError as exc:
            raise DefinitionError(f"the database refused the write: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite error on {self.path}: {exc}") from exc

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        """Close the connection on its own thread, then stop the thread."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="taskflow-sqlite-writer"
        )


class EngineWriter(Writer):
    """Writes through SQLAlchemy's async engine, at the driver level."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sane_rowcount = bool(engine.dialect.supports_sane_multi_rowcount)

    async def write(self, statements: Sequence[Statement]) -> list[str]:
        """One transaction on a pooled connection.

        A single-row statement runs as ``execute``, whose row count the driver reports; the
        rows of ``executemany`` statements whose count is unknown (asyncpg) are verified with
        one ``SELECT`` for the whole transaction.
        """
        try:
            async with self.engine.connect() as plain:
                conn = await plain.execution_options(taskflow_write=True)
                async with conn.begin():
                    unverified: dict[str, str] = {}
                    conflicts: list[str] = []
                    for statement in statements:
                        single = len(statement.rows) == 1
                        params = statement.rows[0] if single else statement.rows
                        result = await conn.exec_driver_sql(statement.sql, params)
                        if statement.targets is None:
                            continue
                        counted = single or self._sane_rowcount
                        if counted and result.rowcount == len(statement.rows):
                            continue
                        unverified.update(statement.targets)
                    if unverified:
                        conflicts = await self._conflicts(conn, unverified)
                    return conflicts
        except sa.exc.IntegrityError as exc:
            raise DefinitionError(f"the database refused the write: {exc.orig}") from exc
        except sa.exc.DBAPIError as exc:
            raise StorageError(f"database error: {exc.orig}") from exc

    async def _conflicts(self, conn: Any, targets: dict[str, str]) -> list[str]:
        ids = list(targets)
        rows = await conn.exec_driver_sql(_conflict_sql(self.dialect, len(ids)), tuple(ids))
        found = {str(task_id): str(status) for task_id, status in cast(Any, rows)}
        return _conflicts(found, targets)

    async def close(self) -> None:
        """The engine is closed by the repository."""


def status_text(status: TaskStatus | str) -> str:
    """A status as stored."""
    return status.value if isinstance(status, TaskStatus) else str(status)
