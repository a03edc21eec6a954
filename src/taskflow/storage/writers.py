"""How the SQL storage writes on its hot path: a list of steps, one transaction, all or none.

Two writers share one contract (`Writer`):

* `SqliteFileWriter` — a SQLite file: a dedicated thread owns a stdlib ``sqlite3`` connection
  and runs each whole transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) in one hop, instead of
  one thread hop per statement.
* `EngineWriter` — any other database (PostgreSQL through asyncpg): the same steps through
  SQLAlchemy's async connection, at the driver level.

A step may say how many rows it must change (``expect``); when it changes another number, the
transaction is rolled back and `StepMismatch` names the step — that is how the lease fence and
the compare-and-set of task states refuse a write as a whole.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import operator
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from taskflow.exceptions import StorageError
from taskflow.storage.codec import CONFLICT_MARK
from taskflow.storage.pg_direct import DirectStatements

SQLITE_BUSY_TIMEOUT_SECONDS = 30
#: How many (statement, NULL pattern) pairs `spell_nulls` keeps rewritten before it starts over.
SPELLED_MAX = 256


class Step:
    """One statement of a transaction: ``execute`` (``rows`` is one parameter tuple) or
    ``executemany`` (``many``: a list of tuples), and the row count it must reach.

    ``nulls`` says that the rows hold many ``None`` values (a new task's run state, a task
    state's unset fields): a SQLite writer spells them in the statement (`spell_nulls`).

    A step that is ``whole`` is a transaction by itself: a single statement that checks its
    own conditions (PostgreSQL's data-modifying ``WITH``), sent with no ``BEGIN``/``COMMIT``
    around it — one round trip. It returns ``expect`` rows when it applied, fewer when its
    first condition (the fence) failed; a later condition that fails raises an error whose
    message holds `CONFLICT_MARK`, and nothing is written.
    """

    __slots__ = ("expect", "many", "nulls", "rows", "sql", "whole")

    def __init__(
        self,
        sql: str,
        rows: Any,
        *,
        many: bool = False,
        expect: int | None = None,
        whole: bool = False,
        nulls: bool = False,
    ) -> None:
        self.sql = sql
        self.rows = rows
        self.many = many
        self.expect = expect
        self.whole = whole
        self.nulls = nulls


_is_none = functools.partial(operator.is_, None)
_Spelled = tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]
_spelled: dict[tuple[str, tuple[bool, ...]], _Spelled | None] = {}
_UNSPELLED: Any = object()


def spell_nulls(
    sql: str, rows: Sequence[tuple[Any, ...]]
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """``executemany(sql, rows)`` as the same statement per pattern of ``None`` in the rows,
    each with its ``None`` parameters written ``NULL`` in the SQL and left out of its rows.

    Python's ``sqlite3`` binds a ``None`` slowly: it looks for an adapter for it every time
    (about 0.27 µs, against 0.01 µs for an integer), and a new task's row holds 17 of them.
    ``NULL`` in place of a ``?`` means what a bound ``None`` means — in ``VALUES``, in ``SET``
    and in a comparison — so the statements write exactly what ``sql`` would. A statement
    whose ``?`` count differs from the rows' length (a ``?`` in a literal) is left as it is.
    """
    groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        shape = tuple(map(_is_none, row))
        group = groups.get(shape)
        if group is None:
            group = groups[shape] = []
        group.append(row)
    spelled = []
    for shape, group in groups.items():
        key = (sql, shape)
        rewritten = _spelled.get(key, _UNSPELLED)
        if rewritten is _UNSPELLED:  # writer threads share the table: read it once
            if len(_spelled) >= SPELLED_MAX:
                _spelled.clear()
            rewritten = _spelled[key] = _spell(sql, shape)
        if rewritten is None:
            spelled.append((sql, group))
        else:
            spelled.append((rewritten[0], list(map(rewritten[1], group))))
    return spelled


def _spell(sql: str, shape: tuple[bool, ...]) -> _Spelled | None:
    parts = sql.split("?")
    keep = [index for index, none in enumerate(shape) if not none]
    if len(parts) != len(shape) + 1 or not any(shape) or len(keep) < 2:
        return None  # nothing to spell, or a single kept value (itemgetter gives no tuple)
    text = [parts[0]]
    for none, part in zip(shape, parts[1:], strict=True):
        text.append("NULL" if none else "?")
        text.append(part)
    return "".join(text), operator.itemgetter(*keep)


class StepMismatch(Exception):
    """A step changed ``rowcount`` rows instead of the number it expected (rolled back)."""

    def __init__(self, index: int, rowcount: int) -> None:
        super().__init__(f"step {index} changed {rowcount} rows")
        self.index = index
        self.rowcount = rowcount


class IntegrityViolation(StorageError):
    """The database refused a write for a constraint (a duplicate id or key, a bad value)."""


class Writer(abc.ABC):
    """Runs a list of steps as one transaction."""

    @abc.abstractmethod
    async def write(self, steps: Sequence[Step]) -> None:
        """Execute every step in one transaction, or none of them.

        Raises:
            StepMismatch: a step's row count was not the one it expected.
            IntegrityViolation: a constraint refused the write.
            StorageError: the database failed.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection."""


class SqliteFileWriter(Writer):
    """A thread that owns the write connection to one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = self._new_thread()
        self._conn: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._in_flight = 0

    @staticmethod
    def _new_thread() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskflow-sqlite-writer")

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

    def _transaction(self, steps: Sequence[Step], conn: sqlite3.Connection | None = None) -> None:
        conn = conn or self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for index, step in enumerate(steps):
                if step.nulls:
                    count = sum(
                        conn.executemany(sql, rows).rowcount
                        for sql, rows in spell_nulls(step.sql, step.rows)
                    )
                else:
                    run = conn.executemany if step.many else conn.execute
                    count = run(step.sql, step.rows).rowcount
                if step.expect is not None and count != step.expect:
                    raise StepMismatch(index, count)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def write_now(self, steps: Sequence[Step]) -> bool:
        """Run a small transaction here, on the caller's thread, if the writer thread is idle
        and the database is not locked by anyone else; ``False`` (nothing written) otherwise.

        A dependency hop then costs the transaction, not a thread hand-off and back. The
        connection used here never waits for a lock (``timeout=0``): a busy database falls
        back to the writer thread, which does wait.
        """
        if self._in_flight:
            return False
        if self._inline is None:
            self._inline = sqlite3.connect(
                self.path, isolation_level=None, timeout=0, check_same_thread=False
            )
            self._inline.execute("PRAGMA synchronous=NORMAL")
        try:
            self._transaction(steps, self._inline)
        except (sqlite3.Error, StepMismatch):
            return False  # rolled back: the thread path writes it again, or reports why
        return True

    async def write(self, steps: Sequence[Step]) -> None:
        """Run the transaction on the writer thread (one hop)."""
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        try:
            await loop.run_in_executor(self._thread, self._transaction, steps)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(f"SQLite refused the write on {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite error on {self.path}: {exc}") from exc
        finally:
            self._in_flight -= 1

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    async def close(self) -> None:
        """Close the connection on its own thread, then stop the thread."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
        self._thread = self._new_thread()


class EngineWriter(Writer):
    """Writes through SQLAlchemy's async engine, at the driver level.

    Args:
        engine: The storage's engine.
        direct: Where `Step.whole` statements go (PostgreSQL); without it, through the
            engine's own connections.
    """

    def __init__(self, engine: AsyncEngine, direct: DirectStatements | None = None) -> None:
        self.engine = engine
        self.direct = direct

    async def write(self, steps: Sequence[Step]) -> None:
        """One transaction on a pooled connection (a `Step.whole` one is sent alone, with
        no ``BEGIN``/``COMMIT``)."""
        if len(steps) == 1 and steps[0].whole:
            await self._whole(steps[0])
            return
        try:
            async with self.engine.connect() as plain:
                conn = await plain.execution_options(taskflow_write=True)
                async with conn.begin():
                    for index, step in enumerate(steps):
                        result = await conn.exec_driver_sql(step.sql, step.rows)
                        if step.expect is not None and result.rowcount != step.expect:
                            raise StepMismatch(index, result.rowcount)
        except sa.exc.IntegrityError as exc:
            raise IntegrityViolation(f"the database refused the write: {exc.orig}") from exc
        except sa.exc.DBAPIError as exc:
            raise StorageError(f"database error: {exc.orig}") from exc

    async def _whole(self, step: Step) -> None:
        """Straight to the driver (asyncpg: whole steps are made for PostgreSQL only),
        outside any transaction: the statement is one."""
        import asyncpg

        try:
            if self.direct is not None:
                rows = len(await self.direct.fetch(step.sql, step.rows))
            else:
                async with self.engine.connect() as plain:
                    conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
                    rows = len((await conn.exec_driver_sql(step.sql, step.rows)).all())
        except (asyncpg.IntegrityConstraintViolationError, sa.exc.IntegrityError) as exc:
            raise IntegrityViolation(f"the database refused the write: {exc}") from exc
        except StorageError:
            raise
        except Exception as exc:  # the server, the network or the driver: all retried alike
            if CONFLICT_MARK in str(exc):
                raise StepMismatch(1, -1) from None
            raise StorageError(f"database error: {exc}") from exc
        if step.expect is not None and rows != step.expect:
            raise StepMismatch(0, rows)

    async def close(self) -> None:
        """Close the direct connections (the engine is closed by the storage)."""
        if self.direct is not None:
            await self.direct.close()
