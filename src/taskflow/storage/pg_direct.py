"""`DirectStatements`: the engine's batch statements on PostgreSQL, straight through asyncpg.

A tree's batch is one statement that is a transaction by itself (`Step.whole`). Going through
SQLAlchemy's pool and connection wrappers for it costs more than the statement takes on the
server, so these statements have connections of their own: a small pool of plain asyncpg
connections, opened as needed up to `MAX_CONNECTIONS` and kept idle for reuse. They are set
to always use the generic plan of a prepared statement (``plan_cache_mode``): the batch
statement's plan never changes, and planning it anew each time would cost as much as running
it. That plan looks rows up by primary key, never by scanning a table (`SERVER_SETTINGS`).
A connection that fails in any way other than a refused write is closed, never reused, and
the idle ones with it (what broke one — a restart, a failover — most likely broke all).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from taskflow.exceptions import StorageError

MAX_CONNECTIONS = 10
#: The batch statements touch a few rows by primary key, whatever the table's statistics say
#: (a tree of 10,000 tasks inserted a moment ago is "small" until the next ANALYZE, and a
#: hash join over a sequential scan of it would make every batch cost the whole table).
SERVER_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "application_name": "taskflow",
}


class DirectStatements:
    """Runs single statements on a pool of asyncpg connections of its own.

    Args:
        dsn: A ``postgresql://`` URL asyncpg understands.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._idle: list[Any] = []
        self._slots = asyncio.BoundedSemaphore(MAX_CONNECTIONS)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _bind(self) -> None:
        """Connections belong to one event loop: a storage used from another loop later (a
        second ``asyncio.run``) starts afresh there."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            for conn in self._idle:
                with contextlib.suppress(RuntimeError):  # its loop is closed: nothing to do
                    conn.terminate()
            self._idle, self._loop = [], loop
            self._slots = asyncio.BoundedSemaphore(MAX_CONNECTIONS)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        import asyncpg

        self._bind()
        async with self._slots:
            if self._closed:
                raise StorageError("the storage is closed")
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(self.dsn, server_settings=SERVER_SETTINGS)
            healthy = False
            try:
                yield conn
                healthy = True
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError):
                healthy = True  # the server refused the write: the connection is fine
                raise
            finally:
                if healthy and not self._closed:
                    self._idle.append(conn)
                else:
                    conn.terminate()  # broken, or its answer may still come: never reused
                    idle, self._idle = self._idle, []
                    for other in idle:  # a server restart ended them too, most likely
                        other.terminate()

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one statement, run outside any transaction (it is one)."""
        async with self._connection() as conn:
            rows: list[Any] = await conn.fetch(sql, *params)
            return rows

    async def close(self) -> None:
        """Close the idle connections (those in use are closed when they come back)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
