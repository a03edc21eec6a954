"""Storage seams beside the tasks: the event log, signals, tree leases and live workers.

Each is a small interface that a storage exposes as an attribute (``storage.events``,
``storage.signals``, ``storage.leases``, ``storage.workers``), with SQL and in-memory
implementations.
"""

from __future__ import annotations

import abc
from collections.abc import Collection
from datetime import datetime
from typing import Any

from taskflow.events import TaskEvent
from taskflow.models import Lease, TaskTree
from taskflow.storage.records import Signal, WorkerInfo


class EventLog(abc.ABC):
    """Reads the events stored with the state changes they describe."""

    @abc.abstractmethod
    async def read(self, tree_id: str, *, after: int = 0, limit: int = 1000) -> list[TaskEvent]:
        """The tree's events with ``seq > after``, in order."""

    @abc.abstractmethod
    async def last_seq(self, tree_id: str) -> int:
        """The tree's highest event number (0 when it has none)."""


class SignalBox(abc.ABC):
    """Requests for tasks, kept until the manager running the tree acts on them: data sent by
    ``notify`` (never lost: an attempt that consumed it and did not finish gives it back) and
    cancel requests made from processes that do not run the tree."""

    @abc.abstractmethod
    async def put(self, tree_id: str, task_id: str, kind: str, key: str, data: Any) -> int:
        """Store a request; return its id."""

    @abc.abstractmethod
    async def pending(
        self, tree_ids: Collection[str], *, task_id: str | None = None, key: str | None = None
    ) -> list[Signal]:
        """Unconsumed requests for these trees (optionally one task and key), oldest first."""

    @abc.abstractmethod
    async def consume(self, signal_ids: Collection[int]) -> None:
        """Mark requests consumed outside a tree run (e.g. a cancel applied to an idle tree)."""


class LeaseStore(abc.ABC):
    """Ownership of trees: one manager at a time, fenced by a token that grows per claim."""

    @abc.abstractmethod
    async def acquire(
        self,
        tree_id: str,
        owner: str,
        now: datetime,
        expires_at: datetime,
        *,
        dead_owners: Collection[str] = (),
    ) -> Lease | None:
        """Claim a tree that is free, expired, ours, or held by one of ``dead_owners``;
        return the lease it has now (``None``: no such tree).

        A claim by a new owner increments the token.
        """

    @abc.abstractmethod
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
        """Claim up to ``limit`` trees that need a manager — queued, or started (or being
        started) and left by their owner (released, expired, or one of ``dead_owners``) —
        oldest first, atomically (no two callers get the same tree). Returns ``(tree_id,
        token)`` pairs. A pending tree nobody ever took stays where it is. Trees in ``exclude``
        (those the caller runs) are left out; the caller's own trees that it no longer runs
        (it gave one up) are claimable again."""

    @abc.abstractmethod
    async def renew(self, owner: str, tokens: dict[str, int], expires_at: datetime) -> set[str]:
        """Extend our leases; return the trees among ``tokens`` we no longer hold."""

    @abc.abstractmethod
    async def release(self, tree_id: str, owner: str, token: int, now: datetime) -> None:
        """Let the tree go at once (anyone may take it over), if we still hold it."""

    @abc.abstractmethod
    async def held(self, now: datetime) -> list[TaskTree]:
        """Unfinished trees whose lease is still running (who holds what, until when)."""


class WorkerRegistry(abc.ABC):
    """Worker processes announcing themselves with heartbeats."""

    @abc.abstractmethod
    async def beat(self, worker: WorkerInfo) -> None:
        """Record that ``worker`` is alive (insert or update)."""

    @abc.abstractmethod
    async def alive(self, since: datetime) -> list[WorkerInfo]:
        """Workers whose last heartbeat is at or after ``since``."""

    @abc.abstractmethod
    async def remove(self, worker_id: str) -> None:
        """Forget a worker (it stopped)."""


__all__ = ["EventLog", "LeaseStore", "SignalBox", "WorkerRegistry"]
