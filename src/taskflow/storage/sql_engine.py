"""Engines for the SQL storage: created from a URL, their driver failures translated.

`create_engine` makes the async engine `SqlStorage` runs on (a SQLite file configured for WAL,
with a busy timeout and explicit ``BEGIN``; a missing driver or a bad URL reported as a
`ConfigurationError`); `translate_errors` turns driver and network failures into
`StorageError`; `SqlLeaseRenewer` is the lease store with an engine of its own that the lease
keeper's thread uses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskflow.exceptions import ConfigurationError, StorageError
from taskflow.storage.sql_control import SqlLeaseStore
from taskflow.storage.writers import SQLITE_BUSY_TIMEOUT_SECONDS


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


class LoopBoundEngine(AsyncEngine):
    """An async engine whose pooled connections start afresh on another event loop.

    A pooled driver connection belongs to the loop it was opened on; a storage used again from
    a second ``asyncio.run`` (a script, a notebook, a test) would get one of them and fail with
    "attached to a different loop". On the first connection from a new loop the pool is
    replaced; the old connections are dropped without being closed, since their loop is gone
    (Python closes their sockets when it collects them). SQLite's connections need none of
    this: they answer on whichever loop awaits them.
    """

    _bound_loop: asyncio.AbstractEventLoop | None = None

    def _rebind(self) -> None:
        if self.dialect.name == "sqlite":
            return  # aiosqlite's connections answer on whichever loop awaits them
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is not self._bound_loop:
            if self._bound_loop is not None:
                self.sync_engine.dispose(close=False)
            self._bound_loop = loop

    def connect(self) -> AsyncConnection:
        """A connection (see `AsyncEngine.connect`), from a pool of this loop's."""
        self._rebind()
        return super().connect()

    async def dispose(self, close: bool = True) -> None:
        """Close the pool's connections (those of this loop: another loop's are dropped)."""
        self._rebind()
        await super().dispose(close=close)


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` (SQLite configured for WAL), with clear driver errors."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    try:
        engine = create_async_engine(url, **options)
    except ModuleNotFoundError as exc:
        hint = (
            "; install it with: pip install 'taskflow[postgres]'" if "asyncpg" in str(exc) else ""
        )
        raise ConfigurationError(
            f"the driver for {url.split(':', 1)[0]} is not installed ({exc}){hint}"
        ) from exc
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigurationError(f"invalid database URL {url!r}: {exc}") from exc
    engine = LoopBoundEngine(engine.sync_engine)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


@contextlib.asynccontextmanager
async def translate_errors(where: str) -> AsyncIterator[None]:
    """Turn driver and network failures into `StorageError` naming the database."""
    try:
        yield
    except DBAPIError as exc:
        raise StorageError(f"database error on {where}: {exc.orig}") from exc
    except (OSError, TimeoutError) as exc:
        raise StorageError(f"cannot reach the database {where}: {exc}") from exc


class SqlLeaseRenewer(SqlLeaseStore):
    """A `SqlLeaseStore` with its own engine (no pool), for the lease keeper's thread."""

    def __init__(self, url: str, dialect: str) -> None:
        self._url = url
        self._engine: AsyncEngine | None = None
        super().__init__(self._connect, self._connect_write, dialect)

    def _get_engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self._url, poolclass=sa.pool.NullPool)
        return self._engine

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with translate_errors(self._url), self._get_engine().connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _connect_write(self) -> AsyncIterator[AsyncConnection]:
        async with translate_errors(self._url), self._get_engine().connect() as plain:
            conn = await plain.execution_options(taskflow_write=True)
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        """Dispose of the engine."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
