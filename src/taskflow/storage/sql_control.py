"""SQL event log, signals and leases for `SqlRepository` (SQLAlchemy Core, off the hot path)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from taskflow.events import EventType, TaskEvent
from taskflow.models import TERMINAL_STATUSES, utcnow
from taskflow.storage.control import EventLog, LeaseStore, Signal, SignalBox, TreeLease
from taskflow.storage.schema import events, signals, tasks

Connect = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]
_UNFINISHED = sa.not_(tasks.c.status.in_([s.value for s in TERMINAL_STATUSES]))


class SqlEventLog(EventLog):
    """Reads ``taskflow_events``."""

    def __init__(self, read: Connect) -> None:
        self._read = read

    async def read(self, tree_id: str, *, after: int = 0, limit: int = 1000) -> list[TaskEvent]:
        """Events after ``after``, in order."""
        stmt = (
            sa.select(events.c.seq, events.c.task_id, events.c.type, events.c.data, events.c.time)
            .where(events.c.tree_id == tree_id, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            TaskEvent(EventType(r.type), r.task_id, tree_id, r.data, r.time, r.seq) for r in rows
        ]

    async def last_seq(self, tree_id: str) -> int:
        """The highest seq (0 when none)."""
        stmt = sa.select(sa.func.max(events.c.seq)).where(events.c.tree_id == tree_id)
        async with self._read() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)


class SqlSignalBox(SignalBox):
    """Rows of ``taskflow_signals``; taking one is a compare-and-set on ``consumed_at``."""

    def __init__(self, read: Connect, write: Connect) -> None:
        self._read = read
        self._write = write

    async def put(self, task_id: str, key: str, data: Any) -> None:
        """Insert the signal."""
        async with self._write() as conn:
            await conn.execute(
                signals.insert().values(task_id=task_id, key=key, data=data, created_at=utcnow())
            )

    async def take(self, task_id: str, key: str) -> Signal | None:
        """Consume the oldest unconsumed signal for the pair."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    sa.select(signals.c.id, signals.c.data)
                    .where(signals.c.task_id == task_id, signals.c.key == key)
                    .where(signals.c.consumed_at.is_(None))
                    .order_by(signals.c.id)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(
                signals.update().where(signals.c.id == row.id).values(consumed_at=utcnow())
            )
            return Signal(task_id, key, row.data)

    async def waiting(self, task_ids: Collection[str]) -> set[tuple[str, str]]:
        """Pairs with an unconsumed signal."""
        if not task_ids:
            return set()
        stmt = sa.select(signals.c.task_id, signals.c.key).where(
            signals.c.task_id.in_(list(task_ids)), signals.c.consumed_at.is_(None)
        )
        async with self._read() as conn:
            return {(r.task_id, r.key) for r in await conn.execute(stmt)}


class SqlLeaseStore(LeaseStore):
    """Leases in the ``lease_owner``/``lease_expires_at`` columns of the tasks."""

    def __init__(self, read: Connect, write: Connect) -> None:
        self._read = read
        self._write = write

    async def acquire(
        self, tree_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> TreeLease:
        """Compare-and-set on the root's lease."""
        free = sa.or_(
            tasks.c.lease_owner.is_(None),
            tasks.c.lease_owner == owner,
            tasks.c.lease_expires_at < now,
        )
        held = sa.select(tasks.c.lease_owner, tasks.c.lease_expires_at).where(tasks.c.id == tree_id)
        async with self._write() as conn:
            before = (await conn.execute(held)).first()
            await conn.execute(
                tasks.update()
                .where(tasks.c.id == tree_id, free)
                .values(lease_owner=owner, lease_expires_at=expires_at)
            )
            after = (await conn.execute(held)).first()
        if after is None:
            return TreeLease(tree_id, None, None)
        previous = before.lease_owner if before is not None else None
        return TreeLease(tree_id, after.lease_owner, after.lease_expires_at, previous)

    async def renew(self, tree_id: str, owner: str, expires_at: datetime) -> int:
        """Extend every lease we hold in the tree."""
        async with self._write() as conn:
            result = await conn.execute(
                tasks.update()
                .where(tasks.c.tree_id == tree_id, tasks.c.lease_owner == owner)
                .values(lease_expires_at=expires_at)
            )
            return int(result.rowcount)

    async def release(
        self, tree_id: str, owner: str, now: datetime, *, resumable: bool = True
    ) -> None:
        """Expire our leases now (anyone may resume the tree), or drop them."""
        values: dict[str, Any] = {"lease_expires_at": now}
        if not resumable:
            values["lease_owner"] = None
        async with self._write() as conn:
            await conn.execute(
                tasks.update()
                .where(tasks.c.tree_id == tree_id, tasks.c.lease_owner == owner)
                .values(**values)
            )

    async def expired(self, now: datetime) -> list[str]:
        """Unfinished roots whose lease ran out."""
        stmt = sa.select(tasks.c.id).where(
            tasks.c.parent_id.is_(None),
            tasks.c.lease_owner.is_not(None),
            tasks.c.lease_expires_at < now,
            _UNFINISHED,
        )
        async with self._read() as conn:
            return list((await conn.execute(stmt)).scalars())
