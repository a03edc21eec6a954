"""The storage interface: a few primitives over tasks and trees, plus four small seams.

Storage holds data and keeps writes all-or-nothing; it knows nothing of definitions,
executors or scheduling. Everything a user calls a "repository" verb (``create_task``,
``get_task_tree`` ...) is written once, on top of these primitives, by
`taskflow.repository.TaskRepository`.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

from taskflow.models import Task, TaskStatus, TaskTree
from taskflow.storage.api_keys import ApiKeyStore
from taskflow.storage.control import EventLog, LeaseStore, SignalBox, WorkerRegistry
from taskflow.storage.records import TaskEdit, TaskQuery, TreeBatch, TreeQuery
from taskflow.storage.schedule_store import ScheduleStore


class Storage(abc.ABC):
    """Where tasks and trees live.

    Attributes:
        events: The event log that `commit` writes.
        signals: Requests for tasks (``notify`` data, cancel requests from elsewhere).
        leases: Which manager runs which tree.
        workers: Live worker processes.
        schedules: Periodic schedules and their fires.
        api_keys: The HTTP API's keys (hashed).
    """

    events: EventLog
    signals: SignalBox
    leases: LeaseStore
    workers: WorkerRegistry
    schedules: ScheduleStore
    api_keys: ApiKeyStore

    @abc.abstractmethod
    async def insert(
        self, tasks: Sequence[Task], tree: TaskTree | None = None, *, reopen: str | None = None
    ) -> None:
        """Store new tasks — with the record of their new tree when ``tree`` is given — in one
        transaction, all or none.

        ``reopen`` names the existing tree the tasks join: if it had finished, it is
        unfinished again (``in_progress`` if it had started, else ``pending``).

        Raises:
            DefinitionError: a task id, or a key within its tree, is taken.
        """

    @abc.abstractmethod
    async def select(self, query: TaskQuery) -> list[Task]:
        """The tasks matching ``query``, ordered by tree then creation position."""

    @abc.abstractmethod
    async def select_trees(self, query: TreeQuery) -> list[TaskTree]:
        """The tree records matching ``query``, newest first."""

    @abc.abstractmethod
    async def commit(self, batch: TreeBatch) -> None:
        """Write ``batch`` in one transaction, if its lease claim still holds.

        Raises:
            LeaseLost: another manager holds the tree now (nothing was written).
            InvalidTransition: a task's status was not the one expected (nothing was written).
            StorageError: the database failed (nothing was written).
        """

    def commit_now(self, batch: TreeBatch) -> bool:
        """Commit ``batch`` at once, without awaiting, if this storage can do so cheaply now
        (a SQLite file whose writer is idle; memory). Returns ``False``, having written
        nothing, when it cannot: then use `commit`.

        Raises:
            LeaseLost, InvalidTransition, StorageError: as `commit` (or return ``False`` and
                let `commit` raise them).
        """
        return False

    @abc.abstractmethod
    async def edit(self, task_id: str, expected: TaskStatus, edit: TaskEdit, now: datetime) -> bool:
        """Apply a user's edit if the task's status is still ``expected``; return whether it
        applied."""

    @abc.abstractmethod
    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete tasks (a whole tree's tasks take its record and events with them); return
        how many existed."""

    @abc.abstractmethod
    async def prune(self, finished_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` trees that finished before ``finished_before`` (oldest
        first), with their tasks, events and signals, in one transaction; return how many."""

    @abc.abstractmethod
    async def prune_fires(self, recorded_before: datetime, *, limit: int) -> int:
        """Delete the schedule fire records written before ``recorded_before`` whose tree is
        gone (pruned) or that started none — not a buffered one, nor one whose tree is still
        there — ``limit`` per transaction; return how many."""

    async def task_counts(self) -> dict[tuple[str, str | None], int]:
        """How many tasks there are per ``(status, executor)`` (for metrics).

        This default reads every task (without results); SQL storage counts in the database.
        """
        found = await self.select(TaskQuery(with_results=False))
        return dict(Counter((task.status.value, task.executor) for task in found))

    async def tree_counts(self) -> dict[str, int]:
        """How many trees there are per status (``queued``: the queue's depth)."""
        return dict(Counter(tree.status.value for tree in await self.select_trees(TreeQuery())))

    async def status_counts(self, tree_ids: Collection[str]) -> dict[str, dict[str, int]]:
        """How many tasks each of these trees has per status (for listings with progress).

        This default reads each tree's tasks (without results); SQL storage counts in the
        database.
        """
        counts: dict[str, dict[str, int]] = {}
        for tree_id in tree_ids:
            found = await self.select(TaskQuery(tree_id=tree_id, with_results=False))
            counts[tree_id] = dict(Counter(task.status.value for task in found))
        return counts

    def lease_renewer(self) -> LeaseStore | None:
        """A `LeaseStore` on connections of its own, for renewing leases from another thread
        (with its own event loop) while this one's loop is busy; ``None`` when leases live in
        this process only (nothing else could take a tree over while the loop is blocked)."""
        return None

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


__all__ = ["Storage"]
