"""In-memory event log, signals, leases and workers for `MemoryStorage`."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Iterable, MutableMapping
from datetime import datetime
from typing import Any

from taskflow.events import TaskEvent
from taskflow.models import Lease, TaskTree, TreeStatus
from taskflow.storage.control import EventLog, LeaseStore, SignalBox, WorkerRegistry
from taskflow.storage.records import Signal, SignalUse, WorkerInfo

_CLAIMABLE = (TreeStatus.QUEUED, TreeStatus.IN_PROGRESS)


class MemoryEventLog(EventLog):
    """Events kept in lists, per tree."""

    def __init__(self) -> None:
        self._by_tree: dict[str, list[TaskEvent]] = {}

    def append(self, events: Iterable[TaskEvent]) -> None:
        """Store events (the storage calls this inside `commit`)."""
        for event in events:
            self._by_tree.setdefault(event.tree_id, []).append(event)

    def forget(self, tree_id: str) -> None:
        """Drop a deleted tree's events."""
        self._by_tree.pop(tree_id, None)

    async def read(self, tree_id: str, *, after: int = 0, limit: int = 1000) -> list[TaskEvent]:
        """Events after ``after``, in order."""
        return [e for e in self._by_tree.get(tree_id, []) if e.seq > after][:limit]

    async def last_seq(self, tree_id: str) -> int:
        """The highest stored seq."""
        events = self._by_tree.get(tree_id)
        return events[-1].seq if events else 0


@dataclasses.dataclass(slots=True)
class _Stored:
    signal: Signal
    consumed_by: int | None = None  # the attempt that consumed it
    consumed: bool = False


class MemorySignalBox(SignalBox):
    """Requests in a list, consumed in order."""

    def __init__(self) -> None:
        self._stored: list[_Stored] = []
        self._ids = itertools.count(1)

    async def put(self, tree_id: str, task_id: str, kind: str, key: str, data: Any) -> int:
        """Keep the request."""
        signal = Signal(next(self._ids), tree_id, task_id, kind, key, data)
        self._stored.append(_Stored(signal))
        return signal.id

    async def pending(
        self, tree_ids: Collection[str], *, task_id: str | None = None, key: str | None = None
    ) -> list[Signal]:
        """Unconsumed requests, oldest first."""
        return [
            s.signal
            for s in self._stored
            if not s.consumed
            and s.signal.tree_id in tree_ids
            and (task_id is None or s.signal.task_id == task_id)
            and (key is None or s.signal.key == key)
        ]

    def forget(self, tree_ids: Collection[str]) -> None:
        """Drop every request of these trees (they were deleted)."""
        self._stored = [s for s in self._stored if s.signal.tree_id not in tree_ids]

    async def consume(self, signal_ids: Collection[int]) -> None:
        """Mark requests consumed."""
        for stored in self._stored:
            if stored.signal.id in signal_ids:
                stored.consumed = True

    def use(self, uses: Iterable[SignalUse], released: Iterable[tuple[str, int]]) -> None:
        """Apply a batch's consumptions, and give back what interrupted attempts consumed."""
        by_id = {s.signal.id: s for s in self._stored}
        for use in uses:
            stored = by_id.get(use.signal_id)
            if stored is not None:
                stored.consumed, stored.consumed_by = True, use.attempt
        for task_id, attempt in released:
            for stored in self._stored:
                if stored.signal.task_id == task_id and stored.consumed_by == attempt:
                    stored.consumed, stored.consumed_by = False, None


class MemoryLeaseStore(LeaseStore):
    """Leases on the tree records of a `MemoryStorage`."""

    def __init__(self, trees: MutableMapping[str, TaskTree]) -> None:
        self._trees = trees

    def _take(self, tree: TaskTree, owner: str, expires_at: datetime) -> Lease:
        token = tree.lease.token if tree.lease.owner == owner else tree.lease.token + 1
        lease = Lease(owner, expires_at, token)
        self._trees[tree.id] = dataclasses.replace(tree, lease=lease)
        return lease

    @staticmethod
    def _free(tree: TaskTree, owner: str, now: datetime, dead: Collection[str]) -> bool:
        lease = tree.lease
        return (
            lease.owner is None
            or lease.owner == owner
            or lease.owner in dead
            or (lease.expires_at is not None and lease.expires_at < now)
        )

    async def acquire(
        self,
        tree_id: str,
        owner: str,
        now: datetime,
        expires_at: datetime,
        *,
        dead_owners: Collection[str] = (),
    ) -> Lease | None:
        """Take the tree if it is free, expired, ours or its owner is dead."""
        tree = self._trees.get(tree_id)
        if tree is None:
            return None
        if self._free(tree, owner, now, dead_owners):
            return self._take(tree, owner, expires_at)
        return tree.lease

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
        """Claim the oldest trees that need a manager."""
        candidates = sorted(
            (
                t
                for t in self._trees.values()
                if (t.status in _CLAIMABLE or (t.status is TreeStatus.PENDING and t.lease.owner))
                and t.id not in exclude
                and self._free(t, owner, now, dead_owners)
            ),
            key=lambda t: (t.created_at, t.id),
        )
        return [(t.id, self._take(t, owner, expires_at).token) for t in candidates[:limit]]

    async def renew(self, owner: str, tokens: dict[str, int], expires_at: datetime) -> set[str]:
        """Extend our leases."""
        lost = set()
        for tree_id, token in tokens.items():
            tree = self._trees.get(tree_id)
            if tree is None or tree.lease.owner != owner or tree.lease.token != token:
                lost.add(tree_id)
                continue
            self._trees[tree_id] = dataclasses.replace(tree, lease=Lease(owner, expires_at, token))
        return lost

    async def release(self, tree_id: str, owner: str, token: int, now: datetime) -> None:
        """Let the tree go."""
        tree = self._trees.get(tree_id)
        if tree is not None and tree.lease.owner == owner and tree.lease.token == token:
            lease = Lease(None, None, token)
            self._trees[tree_id] = dataclasses.replace(tree, lease=lease, updated_at=now)

    async def held(self, now: datetime) -> list[TaskTree]:
        """Unfinished trees with a running lease."""
        return [t for t in self._trees.values() if not t.is_finished and t.held_by(now)]


class MemoryWorkerRegistry(WorkerRegistry):
    """Workers in a dict."""

    def __init__(self) -> None:
        self._workers: dict[str, WorkerInfo] = {}

    async def beat(self, worker: WorkerInfo) -> None:
        """Record the heartbeat."""
        self._workers[worker.id] = worker

    async def alive(self, since: datetime) -> list[WorkerInfo]:
        """Workers seen since ``since``."""
        return [w for w in self._workers.values() if w.heartbeat_at >= since]

    async def remove(self, worker_id: str) -> None:
        """Forget the worker."""
        self._workers.pop(worker_id, None)
