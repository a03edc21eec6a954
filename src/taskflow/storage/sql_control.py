"""SQL event log, signals, leases and workers for `SqlStorage` (SQLAlchemy Core)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from taskflow.events import EventType, TaskEvent
from taskflow.models import FINISHED_TREE_STATUSES, Lease, TaskTree, TreeStatus, utcnow
from taskflow.storage.control import EventLog, LeaseStore, SignalBox, WorkerRegistry
from taskflow.storage.records import Signal, WorkerInfo
from taskflow.storage.schema import events, signals, trees, workers

Connect = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]
_UNFINISHED = trees.c.status.not_in([s.value for s in FINISHED_TREE_STATUSES])
#: Trees that need a manager when nobody (alive) holds them: queued, started, or being started
#: (pending, but a manager took its lease: it died before its first write).
_CLAIMABLE = sa.or_(
    trees.c.status.in_([TreeStatus.QUEUED.value, TreeStatus.IN_PROGRESS.value]),
    sa.and_(trees.c.status == TreeStatus.PENDING.value, trees.c.lease_owner.is_not(None)),
)


def row_to_tree(row: Any) -> TaskTree:
    """A tree record from a ``taskflow_trees`` row."""
    return TaskTree(
        id=row.id,
        name=row.name,
        user_id=row.user_id,
        status=TreeStatus(row.status),
        concurrency=row.concurrency,
        deadline_at=row.deadline_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        lease=Lease(row.lease_owner, row.lease_expires_at, row.lease_token),
    )


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
    """Rows of ``taskflow_signals``."""

    def __init__(self, read: Connect, write: Connect) -> None:
        self._read = read
        self._write = write

    async def put(self, tree_id: str, task_id: str, kind: str, key: str, data: Any) -> int:
        """Insert the request."""
        stmt = signals.insert().values(
            tree_id=tree_id, task_id=task_id, kind=kind, key=key, data=data, created_at=utcnow()
        )
        async with self._write() as conn:
            result = await conn.execute(stmt.returning(signals.c.id))
            return int(result.scalar_one())

    async def pending(
        self, tree_ids: Collection[str], *, task_id: str | None = None, key: str | None = None
    ) -> list[Signal]:
        """Unconsumed requests, oldest first."""
        if not tree_ids:
            return []
        stmt = sa.select(signals).where(
            signals.c.tree_id.in_(list(tree_ids)), signals.c.consumed_at.is_(None)
        )
        if task_id is not None:
            stmt = stmt.where(signals.c.task_id == task_id)
        if key is not None:
            stmt = stmt.where(signals.c.key == key)
        async with self._read() as conn:
            rows = await conn.execute(stmt.order_by(signals.c.id))
            return [Signal(r.id, r.tree_id, r.task_id, r.kind, r.key, r.data) for r in rows]

    async def consume(self, signal_ids: Collection[int]) -> None:
        """Mark requests consumed."""
        if signal_ids:
            stmt = (
                signals.update()
                .where(signals.c.id.in_(list(signal_ids)))
                .values(consumed_at=utcnow())
            )
            async with self._write() as conn:
                await conn.execute(stmt)


def _free(owner: str, now: datetime, dead: Collection[str]) -> sa.ColumnElement[bool]:
    conditions = [
        trees.c.lease_owner.is_(None),
        trees.c.lease_owner == owner,
        trees.c.lease_expires_at < now,
    ]
    if dead:
        conditions.append(trees.c.lease_owner.in_(list(dead)))
    return sa.or_(*conditions)


def _new_token(owner: str) -> sa.ColumnElement[Any]:
    return sa.case(
        (trees.c.lease_owner == owner, trees.c.lease_token), else_=trees.c.lease_token + 1
    )


class SqlLeaseStore(LeaseStore):
    """Leases in the lease columns of ``taskflow_trees``; every claim is one ``UPDATE``."""

    def __init__(self, read: Connect, write: Connect, dialect: str) -> None:
        self._read = read
        self._write = write
        self._skip_locked = dialect == "postgresql"

    async def acquire(
        self,
        tree_id: str,
        owner: str,
        now: datetime,
        expires_at: datetime,
        *,
        dead_owners: Collection[str] = (),
    ) -> Lease | None:
        """Compare-and-set on the tree's lease (``None``: no such tree)."""
        stmt = (
            trees.update()
            .where(trees.c.id == tree_id, _free(owner, now, dead_owners))
            .values(lease_owner=owner, lease_expires_at=expires_at, lease_token=_new_token(owner))
            .returning(trees.c.lease_owner, trees.c.lease_expires_at, trees.c.lease_token)
        )
        held = sa.select(trees.c.lease_owner, trees.c.lease_expires_at, trees.c.lease_token).where(
            trees.c.id == tree_id
        )
        async with self._write() as conn:
            row = (await conn.execute(stmt)).first() or (await conn.execute(held)).first()
        return Lease(row[0], row[1], row[2]) if row is not None else None

    async def claim(
        self,
        owner: str,
        now: datetime,
        expires_at: datetime,
        *,
        limit: int,
        dead_owners: Collection[str] = (),
        exclude: Collection[str] = (),
    ) -> list[tuple[str, int]]:
        """``UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING``."""
        if limit <= 0:
            return []
        candidates = sa.select(trees.c.id).where(_CLAIMABLE, _free(owner, now, dead_owners))
        if exclude:
            candidates = candidates.where(trees.c.id.not_in(list(exclude)))
        candidates = candidates.order_by(trees.c.created_at, trees.c.id).limit(limit)
        if self._skip_locked:
            candidates = candidates.with_for_update(skip_locked=True)
        stmt = (
            trees.update()
            .where(trees.c.id.in_(candidates.scalar_subquery()), _free(owner, now, dead_owners))
            .values(lease_owner=owner, lease_expires_at=expires_at, lease_token=_new_token(owner))
            .returning(trees.c.id, trees.c.lease_token)
        )
        async with self._write() as conn:
            return [(row[0], row[1]) for row in await conn.execute(stmt)]

    async def renew(self, owner: str, tokens: dict[str, int], expires_at: datetime) -> set[str]:
        """Extend our leases (one ``UPDATE`` per tree, one transaction)."""
        lost = set()
        async with self._write() as conn:
            for tree_id, token in tokens.items():
                result = await conn.execute(
                    trees.update()
                    .where(
                        trees.c.id == tree_id,
                        trees.c.lease_owner == owner,
                        trees.c.lease_token == token,
                    )
                    .values(lease_expires_at=expires_at)
                )
                if not result.rowcount:
                    lost.add(tree_id)
        return lost

    async def release(self, tree_id: str, owner: str, token: int, now: datetime) -> None:
        """Drop our lease."""
        stmt = (
            trees.update()
            .where(trees.c.id == tree_id, trees.c.lease_owner == owner)
            .where(trees.c.lease_token == token)
            .values(lease_owner=None, lease_expires_at=None, updated_at=now)
        )
        async with self._write() as conn:
            await conn.execute(stmt)

    async def held(self, now: datetime) -> list[TaskTree]:
        """Unfinished trees with a running lease."""
        stmt = sa.select(trees).where(
            _UNFINISHED, trees.c.lease_owner.is_not(None), trees.c.lease_expires_at >= now
        )
        async with self._read() as conn:
            return [row_to_tree(row) for row in await conn.execute(stmt)]


class SqlWorkerRegistry(WorkerRegistry):
    """Rows of ``taskflow_workers``."""

    def __init__(self, read: Connect, write: Connect) -> None:
        self._read = read
        self._write = write

    async def beat(self, worker: WorkerInfo) -> None:
        """Update the row, or insert it."""
        values = {
            "host": worker.host,
            "pid": worker.pid,
            "started_at": worker.started_at,
            "heartbeat_at": worker.heartbeat_at,
            "trees": worker.trees,
        }
        async with self._write() as conn:
            updated = await conn.execute(
                workers.update().where(workers.c.id == worker.id).values(**values)
            )
            if not updated.rowcount:
                await conn.execute(workers.insert().values(id=worker.id, **values))

    async def alive(self, since: datetime) -> list[WorkerInfo]:
        """Workers seen since ``since``."""
        stmt = sa.select(workers).where(workers.c.heartbeat_at >= since)
        async with self._read() as conn:
            return [
                WorkerInfo(r.id, r.host, r.pid, r.started_at, r.heartbeat_at, r.trees)
                for r in await conn.execute(stmt)
            ]

    async def remove(self, worker_id: str) -> None:
        """Delete the row."""
        async with self._write() as conn:
            await conn.execute(workers.delete().where(workers.c.id == worker_id))
