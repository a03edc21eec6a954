"""SQL storage (SQLAlchemy async): a SQLite file or PostgreSQL, chosen by URL.

Task and tree reads are SQL text from `Reads`, run at the driver level; the hot-path writes (new
trees, tree batches) go through a `Writer` with statements and rows from `RowCodec`; user edits,
deletes and the seams beside the tasks (leases, signals, workers) use SQLAlchemy Core
(`taskflow.storage.sql_control`). Engines are created, and driver failures translated, in
`taskflow.storage.sql_engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskflow.exceptions import (
    DefinitionError,
    InvalidTransition,
    LeaseLost,
    StorageError,
)
from taskflow.models import Task, TaskStatus, TaskTree
from taskflow.storage.base import Storage
from taskflow.storage.codec import EVENTS, FIRES, SIGNALS, TASKS, TREES, RowCodec
from taskflow.storage.migrate import current_revision, ensure_schema, upgrade
from taskflow.storage.pg_direct import DirectStatements
from taskflow.storage.reads import Reads, Statement
from taskflow.storage.records import TaskEdit, TaskQuery, TreeBatch, TreeQuery
from taskflow.storage.schema import events, tasks, trees
from taskflow.storage.sql_api_keys import SqlApiKeyStore
from taskflow.storage.sql_control import (
    SqlEventLog,
    SqlLeaseStore,
    SqlSignalBox,
    SqlWorkerRegistry,
)
from taskflow.storage.sql_engine import SqlLeaseRenewer, create_engine, translate_errors
from taskflow.storage.sql_schedules import SqlScheduleStore
from taskflow.storage.writers import (
    EngineWriter,
    IntegrityViolation,
    SqliteFileWriter,
    Step,
    StepMismatch,
    Writer,
)


def _direct(engine: AsyncEngine, options: dict[str, Any]) -> DirectStatements | None:
    """Connections of its own for the batch statements on PostgreSQL — unless the URL or the
    options carry connection settings only SQLAlchemy knows how to apply."""
    url = engine.url
    if engine.dialect.name != "postgresql" or url.query or "connect_args" in options:
        return None
    return DirectStatements(url.set(drivername="postgresql").render_as_string(False))


class SqlStorage(Storage):
    """Tasks and trees in a SQL database through SQLAlchemy's async engine.

    The schema is created at the latest revision on first use of an empty database; a database
    at an older revision must be upgraded first (`upgrade`, or ``taskflow db upgrade``).
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_options)
        dialect = self.engine.dialect.name
        self.codec = RowCodec(dialect)
        self.reads = Reads(self.codec)
        self.where = self.engine.url.render_as_string(hide_password=True)
        database = self.engine.url.database
        self._writer: Writer
        if dialect == "sqlite" and database and database != ":memory:" and "mode=memory" not in url:
            with contextlib.suppress(OSError):  # sqlite reports the failure clearly itself
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = SqliteFileWriter(database)
        else:
            self._writer = EngineWriter(self.engine, _direct(self.engine, engine_options))
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None
        self.events = SqlEventLog(self._read)
        self.signals = SqlSignalBox(self._read, self._sa_write)
        self.leases = SqlLeaseStore(self._read, self._sa_write, dialect)
        self.workers = SqlWorkerRegistry(self._read, self._sa_write)
        self.schedules = SqlScheduleStore(self.codec, self.reads, self._read, self._write)
        self.api_keys = SqlApiKeyStore(self._read, self._sa_write)

    def __repr__(self) -> str:
        return f"SqlStorage({self.where!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.codec.dialect

    async def _ensure_schema(self) -> None:
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if not self._ready:
                async with translate_errors(self.where):
                    await ensure_schema(self.engine)
                self._ready = True

    async def upgrade(self, revision: str = "head") -> str | None:
        """Apply the schema migrations up to ``revision``; return the revision reached."""
        async with translate_errors(self.where):
            reached = await upgrade(self.engine, revision)
        self._ready = False
        return reached

    async def current_revision(self) -> str | None:
        """The schema revision the database is at (``None`` when empty)."""
        async with translate_errors(self.where), self.engine.connect() as conn:
            return await conn.run_sync(current_revision)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        await self._ensure_schema()
        async with translate_errors(self.where), self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _sa_write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction through SQLAlchemy (``BEGIN IMMEDIATE`` on SQLite)."""
        await self._ensure_schema()
        async with translate_errors(self.where), self.engine.connect() as plain:
            conn = await plain.execution_options(taskflow_write=True)
            async with conn.begin():
                yield conn

    async def _write(self, steps: Sequence[Step]) -> None:
        await self._ensure_schema()
        async with translate_errors(self.where):
            await self._writer.write(steps)

    async def close(self) -> None:
        """Close the writer and dispose of the connection pool."""
        await self._writer.close()
        await self.engine.dispose()

    def lease_renewer(self) -> SqlLeaseRenewer:
        """Leases on an engine of their own, created in the loop that first uses them."""
        return SqlLeaseRenewer(self.url, self.dialect)

    # -- primitives ---------------------------------------------------------------------------

    async def insert(
        self, new_tasks: Sequence[Task], tree: TaskTree | None = None, *, reopen: str | None = None
    ) -> None:
        """Insert the tree record and all tasks in one transaction."""
        codec = self.codec
        steps = []
        if tree is not None:
            steps.append(Step(codec.insert_tree_sql, codec.many([codec.tree_row(tree)]), many=True))
        if reopen is not None:
            steps.append(Step(codec.reopen_sql, (reopen,)))
        if new_tasks:
            try:
                rows = [codec.task_row(task) for task in new_tasks]
            except ValueError as exc:  # NaN or infinity in inputs
                raise DefinitionError(f"a value cannot be stored as JSON: {exc}") from exc
            steps.extend(
                Step(codec.insert_task_sql, part, many=True, nulls=True)
                for part in codec.chunked(rows)
            )
        if not steps:
            return
        try:
            await self._write(steps)
        except IntegrityViolation as exc:
            raise DefinitionError(f"the database refused the new tasks: {exc}") from exc

    async def select(self, query: TaskQuery) -> list[Task]:
        """The matching tasks in tree order (trees newest first when listing across trees)."""
        sql, columns, params = self.reads.select_tasks(query)
        async with self._read() as conn:
            result = await conn.exec_driver_sql(sql, tuple(params))
            return [self.reads.task(row, columns) for row in result]

    async def select_trees(self, query: TreeQuery) -> list[TaskTree]:
        """Tree records, newest first."""
        sql, params = self.reads.select_trees(query)
        async with self._read() as conn:
            return [self.reads.tree(row) for row in await conn.exec_driver_sql(sql, tuple(params))]

    async def task_counts(self) -> dict[tuple[str, str | None], int]:
        """``GROUP BY status, executor`` in the database."""
        stmt = sa.select(tasks.c.status, tasks.c.executor, sa.func.count()).group_by(
            tasks.c.status, tasks.c.executor
        )
        async with self._read() as conn:
            return {(row[0], row[1]): int(row[2]) for row in await conn.execute(stmt)}

    async def tree_counts(self) -> dict[str, int]:
        """``GROUP BY status`` in the database."""
        stmt = sa.select(trees.c.status, sa.func.count()).group_by(trees.c.status)
        async with self._read() as conn:
            return {row[0]: int(row[1]) for row in await conn.execute(stmt)}

    async def status_counts(self, tree_ids: Collection[str]) -> dict[str, dict[str, int]]:
        """``GROUP BY tree_id, status`` in the database."""
        ids = list(tree_ids)
        counts: dict[str, dict[str, int]] = {tree_id: {} for tree_id in ids}
        if not ids:
            return counts
        stmt = (
            sa.select(tasks.c.tree_id, tasks.c.status, sa.func.count())
            .where(tasks.c.tree_id.in_(ids))
            .group_by(tasks.c.tree_id, tasks.c.status)
        )
        async with self._read() as conn:
            for tree_id, status, count in await conn.execute(stmt):
                counts[tree_id][status] = int(count)
        return counts

    def _batch_steps(self, batch: TreeBatch) -> list[Step]:
        codec = self.codec
        if codec.postgres and not batch.signals and not batch.released_attempts:
            return [self._whole_batch(batch)]
        steps = [Step(codec.fence_sql, codec.fence_row(batch), expect=1)]
        if batch.tasks:
            rows = [codec.state_row(state) for state in batch.tasks]
            steps.append(
                Step(
                    codec.update_state_sql,
                    codec.many(rows),
                    many=True,
                    expect=len(rows),
                    nulls=True,
                )
            )
        if batch.events:
            rows = [codec.event_row(event) for event in batch.events]
            steps.append(Step(codec.insert_event_sql, codec.many(rows), many=True))
        now = codec.time(batch.tree.updated_at)
        for use in batch.signals:  # rare: a few per batch at most
            steps.append(Step(codec.use_signal_sql, (now, use.attempt, use.signal_id)))
        for task_id, attempt in batch.released_attempts:
            steps.append(Step(codec.release_signals_sql, (task_id, attempt)))
        return steps

    def _whole_batch(self, batch: TreeBatch) -> Step:
        """PostgreSQL: the batch as one statement, sent alone (one round trip, no BEGIN)."""
        codec = self.codec
        params: list[Any] = list(codec.fence_row(batch))
        if batch.tasks:
            params.extend(codec.many([codec.state_row(state) for state in batch.tasks]))
        if batch.events:
            params.extend(codec.many([codec.event_row(event) for event in batch.events]))
        if batch.tasks:
            params.append(len(batch.tasks))
        sql = codec.batch_sql(bool(batch.tasks), bool(batch.events))
        return Step(sql, tuple(params), expect=1, whole=True)

    def commit_now(self, batch: TreeBatch) -> bool:
        """On a SQLite file, write a batch here and now when the writer is idle."""
        if not self._ready or not isinstance(self._writer, SqliteFileWriter):
            return False
        return self._writer.write_now(self._batch_steps(batch))

    async def commit(self, batch: TreeBatch) -> None:
        """One transaction: the lease fence first, then states, events and signal uses."""
        try:
            await self._write(self._batch_steps(batch))
        except StepMismatch as exc:
            if exc.index == 0:
                holder = await self._holder(batch.tree_id)
                raise LeaseLost(batch.tree_id, holder) from None
            conflict = await self._conflict(batch)
            if conflict is not None:
                raise conflict from None
        except IntegrityViolation as exc:
            raise StorageError(f"tree {batch.tree_id}: {exc}") from exc

    async def _holder(self, tree_id: str) -> str | None:
        async with self._read() as conn:
            return (
                await conn.execute(sa.select(trees.c.lease_owner).where(trees.c.id == tree_id))
            ).scalar()

    async def _conflict(self, batch: TreeBatch) -> InvalidTransition | None:
        """Why the task states did not apply — or ``None`` if this very batch is what the
        database holds: a try whose answer was lost (the connection died after the commit)
        had written it, and the retry found its own states."""
        expected = {state.id: state for state in batch.tasks}
        found = await self.select(TaskQuery(ids=list(expected), with_results=False))
        if len(found) == len(expected) and all(
            (task.status, task.attempt, task.updated_at)
            == (expected[task.id].status, expected[task.id].attempt, expected[task.id].updated_at)
            for task in found
        ):
            return None
        for task in found:
            state = expected[task.id]
            if task.status is not state.expected:
                return InvalidTransition(
                    task.id, task.status.value, state.status.value, "changed outside its manager"
                )
        missing = sorted(set(expected) - {task.id for task in found})
        return InvalidTransition(missing[0] if missing else batch.tree_id, None, "?", "missing")

    async def edit(self, task_id: str, expected: TaskStatus, edit: TaskEdit, now: datetime) -> bool:
        """One compare-and-set ``UPDATE`` through SQLAlchemy."""
        values = edit.values()
        if "dependencies" in values:
            values["dependencies"] = [d.to_dict() for d in values["dependencies"]]
        stmt = (
            tasks.update()
            .where(tasks.c.id == task_id, tasks.c.status == expected.value)
            .values(**values, updated_at=now)
        )
        async with self._sa_write() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def prune(self, finished_before: datetime, *, limit: int) -> int:
        """One transaction: up to ``limit`` old finished trees, with their tasks, events and
        signals."""
        m = self.codec.mark
        find = (
            f"SELECT id FROM {TREES} WHERE status IN ('completed', 'failed', 'cancelled') "
            f"AND finished_at < {m(1)} ORDER BY finished_at LIMIT {m(2)}"
        )
        async with self._read() as conn:
            result = await conn.exec_driver_sql(find, (self.codec.time(finished_before), limit))
            ids = [str(row[0]) for row in result]
        if not ids:
            return 0
        steps = []
        for table, column in ((TASKS, "tree_id"), (EVENTS, "tree_id"), (SIGNALS, "tree_id")):
            sql = Statement(self.codec)
            sql.among(column, ids)
            steps.append(Step(f"DELETE FROM {table}{sql.conditions()}", tuple(sql.params)))
        sql = Statement(self.codec)
        sql.among("id", ids)
        finished = "status IN ('completed', 'failed', 'cancelled')"
        steps.append(
            Step(f"DELETE FROM {TREES}{sql.conditions()} AND {finished}", tuple(sql.params))
        )
        await self._write(steps)
        return len(ids)

    async def prune_fires(self, recorded_before: datetime, *, limit: int) -> int:
        """Old fire records whose tree is gone (not buffered ones), ``limit`` per
        transaction."""
        m = self.codec.mark
        old = (
            f"SELECT schedule_id, nominal FROM {FIRES} WHERE recorded_at < {m(1)} "
            f"AND status <> 'buffered' AND (tree_id IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM {TREES} t WHERE t.id = tree_id)) LIMIT {m(2)}"
        )
        delete = f"DELETE FROM {FIRES} WHERE (schedule_id, nominal) IN ({old})"
        params = (self.codec.time(recorded_before), limit)
        total = 0
        while True:
            async with self._read() as conn:
                count = len(list(await conn.exec_driver_sql(old, params)))
            if count:
                await self._write([Step(delete, params)])
            total += count
            if count < limit:
                return total

    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete by id; a root takes its tree record and events with it."""
        ids = list(task_ids)
        async with self._sa_write() as conn:
            roots = list(
                (
                    await conn.execute(
                        sa.select(tasks.c.id).where(
                            tasks.c.id.in_(ids), tasks.c.parent_id.is_(None)
                        )
                    )
                ).scalars()
            )
            count = (await conn.execute(tasks.delete().where(tasks.c.id.in_(ids)))).rowcount
            if roots:
                await conn.execute(events.delete().where(events.c.tree_id.in_(roots)))
                await conn.execute(trees.delete().where(trees.c.id.in_(roots)))
            return int(count)
