"""In-memory event log, signals and leases for `MemoryRepository`."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

from taskflow.events import TaskEvent
from taskflow.models import Task
from taskflow.storage.control import EventLog, LeaseStore, Signal, SignalBox, TreeLease


class MemoryEventLog(EventLog):
    """Events kept in lists, per tree."""

    def __init__(self) -> None:
        self._by_tree: dict[str, list[TaskEvent]] = {}

    def append(self, events: Iterable[TaskEvent]) -> None:
        """Store events (the repository calls this inside `apply`)."""
        for event in events:
            self._by_tree.setdefault(event.tree_id, []).append(event)

    async def read(self, tree_id: str, *, after: int = 0, limit: int = 1000) -> list[TaskEvent]:
        """Events after ``after``, in order."""
        return [e for e in self._by_tree.get(tree_id, []) if e.seq > after][:limit]

    async def last_seq(self, tree_id: str) -> int:
        """The highest stored seq."""
        events = self._by_tree.get(tree_id)
        return events[-1].seq if events else 0


class MemorySignalBox(SignalBox):
    """Signals in a list, consumed in order."""

    def __init__(self) -> None:
        self._signals: list[tuple[int, Signal]] = []
        self._ids = itertools.count()

    async def put(self, task_id: str, key: str, data: Any) -> None:
        """Keep the signal."""
        self._signals.append((next(self._ids), Signal(task_id, key, data)))

    async def take(self, task_id: str, key: str) -> Signal | None:
        """Remove and return the oldest matching signal."""
        for index, (_, signal) in enumerate(self._signals):
            if (signal.task_id, signal.key) == (task_id, key):
                del self._signals[index]
                return signal
        return None

    async def waiting(self, task_ids: Collection[str]) -> set[tuple[str, str]]:
        """Pairs with a signal."""
        return {(s.task_id, s.key) for _, s in self._signals if s.task_id in task_ids}


class MemoryLeaseStore(LeaseStore):
    """Tree leases in a dict (one process: this mostly keeps the contract honest)."""

    def __init__(self, root: Callable[[str], Task | None]) -> None:
        self._root = root
        self._leases: dict[str, tuple[str, datetime]] = {}

    async def acquire(
        self, tree_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> TreeLease:
        """Take the tree if free, expired or ours."""
        held = self._leases.get(tree_id)
        if held is None or held[0] == owner or held[1] < now:
            self._leases[tree_id] = (owner, expires_at)
        holder, until = self._leases[tree_id]
        return TreeLease(tree_id, holder, until, held[0] if held else None)

    async def renew(self, tree_id: str, owner: str, expires_at: datetime) -> int:
        """Extend our lease."""
        held = self._leases.get(tree_id)
        if held is None or held[0] != owner:
            return 0
        self._leases[tree_id] = (owner, expires_at)
        return 1

    async def release(
        self, tree_id: str, owner: str, now: datetime, *, resumable: bool = True
    ) -> None:
        """Expire our lease now (or drop it)."""
        held = self._leases.get(tree_id)
        if held is not None and held[0] == owner:
            if resumable:
                self._leases[tree_id] = (owner, now)
            else:
                del self._leases[tree_id]

    async def expired(self, now: datetime) -> list[str]:
        """Unfinished trees whose lease ran out."""
        return [
            tree_id
            for tree_id, (_, until) in self._leases.items()
            if until < now and (root := self._root(tree_id)) is not None and not root.is_terminal
        ]
