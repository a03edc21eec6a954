"""Storage seams for execution control: the event log, signals for waiting tasks, and leases.

Each is a small interface that a repository exposes as an attribute (``repository.events``,
``repository.signals``, ``repository.leases``), with SQL and in-memory implementations.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Any

from taskflow.events import TaskEvent


class EventLog(abc.ABC):
    """Reads the events a repository stored with the state changes they describe."""

    @abc.abstractmethod
    async def read(self, tree_id: str, *, after: int = 0, limit: int = 1000) -> list[TaskEvent]:
        """The tree's events with ``seq > after``, in order."""

    @abc.abstractmethod
    async def last_seq(self, tree_id: str) -> int:
        """The tree's highest event number (0 when it has none)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Signal:
    """Data sent to a task by ``notify``."""

    task_id: str
    key: str
    data: Any


class SignalBox(abc.ABC):
    """Holds data sent to tasks until their ``wait`` takes it (so a notify is never lost)."""

    @abc.abstractmethod
    async def put(self, task_id: str, key: str, data: Any) -> None:
        """Keep ``data`` for the task's next ``wait(key)``."""

    @abc.abstractmethod
    async def take(self, task_id: str, key: str) -> Signal | None:
        """Consume the oldest unconsumed signal for ``(task_id, key)``, atomically."""

    @abc.abstractmethod
    async def waiting(self, task_ids: Collection[str]) -> set[tuple[str, str]]:
        """Which ``(task_id, key)`` pairs among these tasks have an unconsumed signal."""


@dataclasses.dataclass(frozen=True, slots=True)
class TreeLease:
    """Who runs a tree, and until when unless renewed."""

    tree_id: str
    owner: str | None
    expires_at: datetime | None
    previous_owner: str | None = None


class LeaseStore(abc.ABC):
    """Ownership of running trees: one manager at a time, renewed while alive.

    The lease lives on the root task (the tree's) and on every task the owner runs.
    """

    @abc.abstractmethod
    async def acquire(
        self, tree_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> TreeLease:
        """Take the tree if it is free, expired, or already ours; return who holds it now."""

    @abc.abstractmethod
    async def renew(self, tree_id: str, owner: str, expires_at: datetime) -> int:
        """Extend our leases on the tree and its running tasks; 0 means we lost the tree."""

    @abc.abstractmethod
    async def release(
        self, tree_id: str, owner: str, now: datetime, *, resumable: bool = True
    ) -> None:
        """Let the tree go at once: resumable by anyone, or (``resumable=False``) by nobody
        until someone starts it again."""

    @abc.abstractmethod
    async def expired(self, now: datetime) -> list[str]:
        """Unfinished trees whose owner's lease has run out."""


__all__ = ["EventLog", "LeaseStore", "Signal", "SignalBox", "TreeLease"]
