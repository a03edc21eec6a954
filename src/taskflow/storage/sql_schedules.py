"""`ScheduleStore` on SQL: statements from `RowCodec`, the firing transaction as `Step`s.

The firing transaction is the storage's write path (`Writer`): the schedule's compare-and-set
on its version, the fire rows (whose primary key is (schedule, nominal time)), and the trees
with their tasks, in one transaction on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from taskflow.exceptions import ScheduleError
from taskflow.models.schedule import FireKind, FireRecord, FireStatus, ScheduleRecord
from taskflow.storage.codec import (
    FIRE_COLUMNS,
    FIRES,
    SCHEDULE_COLUMNS,
    SCHEDULES,
    TREES,
    RowCodec,
    encode_json,
)
from taskflow.storage.reads import Reads, Statement
from taskflow.storage.schedule_store import Firing, Runs, ScheduleQuery, ScheduleStore, taken
from taskflow.storage.writers import IntegrityViolation, Step, StepMismatch

Connect = Callable[[], contextlib.AbstractAsyncContextManager[Any]]
Write = Callable[[Sequence[Step]], Any]
_FINISHED = "('completed', 'failed', 'cancelled')"


class SqlScheduleStore(ScheduleStore):
    """Reads through ``read`` (raw driver rows), writes through the storage's writer."""

    def __init__(self, codec: RowCodec, reads: Reads, read: Connect, write: Write) -> None:
        self._codec = codec
        self._reads = reads
        self._read = read
        self._write = write
        m = codec.mark
        self._insert_schedule = codec.insert_sql(SCHEDULES, SCHEDULE_COLUMNS)
        self._insert_fire = codec.insert_sql(FIRES, FIRE_COLUMNS)
        self._advance = (
            f"UPDATE {SCHEDULES} SET watermark = {m(1)}, next_fire_at = {m(2)}, "
            f"missed = missed + {m(3)}, paused_at = {m(4)}, version = version + 1, "
            f"updated_at = {m(5)} WHERE id = {m(6)} AND version = {m(7)}"
        )
        self._touch = f"UPDATE {SCHEDULES} SET updated_at = updated_at WHERE id = {m(1)}"
        self._promote = (
            f"UPDATE {FIRES} SET status = {m(1)}, tree_id = {m(2)}, reason = {m(3)}, "
            f"recorded_at = {m(4)} WHERE schedule_id = {m(5)} AND nominal = {m(6)} "
            "AND status = 'buffered'"
        )

    @contextlib.asynccontextmanager
    async def _rows(self, sql: str, params: Sequence[Any]) -> AsyncIterator[Any]:
        async with self._read() as conn:
            yield await conn.exec_driver_sql(sql, tuple(params))

    async def add(self, schedule: ScheduleRecord) -> None:
        """Insert the schedule; a taken name is a `ScheduleError`."""
        rows = self._codec.many([self._schedule_row(schedule)])
        step = Step(self._insert_schedule, rows, many=True)
        try:
            await self._write([step])
        except IntegrityViolation as exc:
            raise ScheduleError(taken(schedule.name)) from exc

    async def select(self, query: ScheduleQuery) -> list[ScheduleRecord]:
        """Matching schedules, by name."""
        sql = Statement(self._codec)
        sql.among("id", query.ids)
        sql.prefix("id", query.id_prefix)
        sql.equal("name", query.name)
        sql.equal("user_id", query.user_id)
        if query.buffered:
            sql.where.append(
                f"EXISTS (SELECT 1 FROM {FIRES} f WHERE f.schedule_id = {SCHEDULES}.id "
                "AND f.status = 'buffered')"
            )
        if query.due_by is not None:
            sql.where.append(
                "paused_at IS NULL AND next_fire_at IS NOT NULL AND next_fire_at <= "
                + sql.mark(self._codec.time(query.due_by))
            )
        text = (
            f"SELECT {', '.join(SCHEDULE_COLUMNS)} FROM {SCHEDULES}{sql.conditions()} "
            f"ORDER BY name{sql.page(query.limit)}"
        )
        async with self._rows(text, sql.params) as rows:
            return [self._schedule(row) for row in rows]

    async def delete(self, schedule_id: str) -> bool:
        """Delete the schedule and its fire records, in one transaction."""
        existed = await self.select(ScheduleQuery(ids=[schedule_id]))
        m = self._codec.mark
        await self._write(
            [
                Step(f"DELETE FROM {FIRES} WHERE schedule_id = {m(1)}", (schedule_id,)),
                Step(f"DELETE FROM {SCHEDULES} WHERE id = {m(1)}", (schedule_id,)),
            ]
        )
        return bool(existed)

    async def fires(
        self, schedule_id: str, *, limit: int = 20, before: datetime | None = None
    ) -> list[FireRecord]:
        """Newest first."""
        sql = Statement(self._codec)
        sql.equal("schedule_id", schedule_id)
        if before is not None:
            sql.where.append(f"nominal < {sql.mark(self._codec.time(before))}")
        text = (
            f"SELECT {', '.join(FIRE_COLUMNS)} FROM {FIRES}{sql.conditions()} "
            f"ORDER BY nominal DESC{sql.page(limit)}"
        )
        async with self._rows(text, sql.params) as rows:
            return [self._fire(row) for row in rows]

    async def runs(self, schedule_id: str) -> Runs:
        """Unfinished trees of started fires (oldest first), and the buffered fire."""
        m = self._codec.mark
        unfinished_sql = (
            f"SELECT f.tree_id FROM {FIRES} f JOIN {TREES} t ON t.id = f.tree_id "
            f"WHERE f.schedule_id = {m(1)} AND f.status = 'started' "
            f"AND t.status NOT IN {_FINISHED} ORDER BY f.nominal"
        )
        buffered_sql = (
            f"SELECT {', '.join(FIRE_COLUMNS)} FROM {FIRES} WHERE schedule_id = {m(1)} "
            "AND status = 'buffered' ORDER BY nominal LIMIT 1"
        )
        async with self._rows(unfinished_sql, (schedule_id,)) as rows:
            unfinished = tuple(str(row[0]) for row in rows)
        async with self._rows(buffered_sql, (schedule_id,)) as rows:
            buffered = [self._fire(row) for row in rows]
        return Runs(unfinished, buffered[0] if buffered else None)

    async def commit(self, firing: Firing) -> bool:
        """One transaction; ``False`` (nothing written) when it lost a race."""
        try:
            await self._write(self._steps(firing))
        except (StepMismatch, IntegrityViolation):
            return False
        return True

    def _steps(self, firing: Firing) -> list[Step]:
        codec, time = self._codec, self._codec.time
        advance = firing.advance
        if advance is None:  # the schedule must still exist
            steps = [Step(self._touch, (firing.schedule_id,), expect=1)]
        else:
            row = (
                time(advance.watermark), time(advance.next_fire_at), advance.missed,
                time(advance.paused_at), time(advance.at), firing.schedule_id, advance.version,
            )  # fmt: skip
            steps = [Step(self._advance, row, expect=1)]
        promoted = firing.promoted
        if promoted is not None:
            promote = (
                str.__str__(promoted.status), promoted.tree_id, promoted.reason,
                time(promoted.recorded_at), promoted.schedule_id, time(promoted.nominal),
            )  # fmt: skip
            steps.append(Step(self._promote, promote, expect=1))
        if firing.fires:
            rows = [self._fire_row(fire) for fire in firing.fires]
            steps.append(Step(self._insert_fire, codec.many(rows), many=True))
        if firing.trees:
            tree_rows = [codec.tree_row(tree) for tree, _ in firing.trees]
            task_rows = [codec.task_row(task) for _, tasks in firing.trees for task in tasks]
            steps.append(Step(codec.insert_tree_sql, codec.many(tree_rows), many=True))
            steps.extend(
                Step(codec.insert_task_sql, part, many=True, nulls=True)
                for part in codec.chunked(task_rows)
            )
        return steps

    # -- rows ---------------------------------------------------------------------------------

    def _schedule_row(self, s: ScheduleRecord) -> tuple[Any, ...]:
        time = self._codec.time
        return (
            s.id, s.name, s.user_id, encode_json(dict(s.spec)), encode_json(s.definition),
            s.source, time(s.paused_at), time(s.watermark), time(s.next_fire_at), s.missed,
            s.version, time(s.created_at), time(s.updated_at),
        )  # fmt: skip

    def _fire_row(self, f: FireRecord) -> tuple[Any, ...]:
        time = self._codec.time
        return (
            f.schedule_id, time(f.nominal), time(f.run_at), str.__str__(f.kind),
            str.__str__(f.status), f.tree_id, f.reason, time(f.recorded_at),
        )  # fmt: skip

    def _schedule(self, row: Sequence[Any]) -> ScheduleRecord:
        (
            schedule_id, name, user_id, spec, definition, source, paused_at, watermark,
            next_fire_at, missed, version, created_at, updated_at,
        ) = row  # fmt: skip
        time, json = self._reads.time, self._reads.json
        return ScheduleRecord(
            id=schedule_id,
            name=name,
            user_id=user_id,
            spec=json(spec),
            definition=json(definition),
            source=source,
            paused_at=time(paused_at),
            watermark=time(watermark),
            next_fire_at=time(next_fire_at),
            missed=missed,
            version=version,
            created_at=time(created_at),  # type: ignore[arg-type]
            updated_at=time(updated_at),  # type: ignore[arg-type]
        )

    def _fire(self, row: Sequence[Any]) -> FireRecord:
        schedule_id, nominal, run_at, kind, status, tree_id, reason, recorded_at = row
        time = self._reads.time
        return FireRecord(
            schedule_id=schedule_id,
            nominal=time(nominal),  # type: ignore[arg-type]
            run_at=time(run_at),  # type: ignore[arg-type]
            kind=FireKind(kind),
            status=FireStatus(status),
            tree_id=tree_id,
            reason=reason,
            recorded_at=time(recorded_at),  # type: ignore[arg-type]
        )
