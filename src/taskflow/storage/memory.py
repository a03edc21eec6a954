"""In-memory storage: the same primitives, no database (tests, and throwaway runs).

Every primitive runs without awaiting anything, so each one is atomic on the event loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime

from taskflow.exceptions import DefinitionError, InvalidTransition, LeaseLost
from taskflow.models import Task, TaskStatus, TaskTree, TreeStatus
from taskflow.storage.api_keys import MemoryApiKeyStore
from taskflow.storage.base import Storage
from taskflow.storage.memory_control import (
    MemoryEventLog,
    MemoryLeaseStore,
    MemorySignalBox,
    MemoryWorkerRegistry,
)
from taskflow.storage.records import TaskEdit, TaskQuery, TaskState, TreeBatch, TreeQuery
from taskflow.storage.schedule_store import MemoryScheduleStore


def _matches(task: Task, query: TaskQuery) -> bool:
    return (
        (query.ids is None or task.id in query.ids)
        and (query.id_prefix is None or task.id.startswith(query.id_prefix))
        and (query.key is None or task.key == query.key)
        and (query.tree_id is None or task.tree_id == query.tree_id)
        and (query.parent_id is None or task.parent_id == query.parent_id)
        and (query.user_id is None or task.user_id == query.user_id)
        and (query.statuses is None or task.status in query.statuses)
        and (not query.roots_only or task.parent_id is None)
        and (not query.waiting or task.waiting is not None)
    )


def _tree_matches(tree: TaskTree, query: TreeQuery) -> bool:
    return (
        (query.ids is None or tree.id in query.ids)
        and (query.id_prefix is None or tree.id.startswith(query.id_prefix))
        and (query.user_id is None or tree.user_id == query.user_id)
        and (query.statuses is None or tree.status in query.statuses)
        and (query.name is None or query.name.lower() in tree.name.lower())
        and (query.since is None or tree.created_at >= query.since)
        and (query.before is None or (tree.created_at, tree.id) < query.before)
    )


def _applied(task: Task, state: TaskState) -> Task:
    return task.evolve_known(
        {
            "status": state.status,
            "progress": state.progress,
            "message": state.message,
            "result": state.result,
            "error": state.error,
            "error_type": state.error_type,
            "traceback": state.traceback,
            "attempt": state.attempt,
            "attempts": tuple(state.attempts),
            "started_at": state.started_at,
            "completed_at": state.completed_at,
            "retry_at": state.retry_at,
            "waiting": state.waiting,
            "cursor": state.cursor,
            "updated_at": state.updated_at,
        }
    )


class MemoryStorage(Storage):
    """Tasks and trees in dicts."""

    events: MemoryEventLog
    signals: MemorySignalBox
    leases: MemoryLeaseStore
    schedules: MemoryScheduleStore

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._trees: dict[str, TaskTree] = {}
        self.events = MemoryEventLog()
        self.signals = MemorySignalBox()
        self.leases = MemoryLeaseStore(self._trees)
        self.workers = MemoryWorkerRegistry()
        self.schedules = MemoryScheduleStore(self._tasks, self._trees)
        self.api_keys = MemoryApiKeyStore()

    def __repr__(self) -> str:
        return f"MemoryStorage({len(self._trees)} trees, {len(self._tasks)} tasks)"

    async def insert(
        self, tasks: Sequence[Task], tree: TaskTree | None = None, *, reopen: str | None = None
    ) -> None:
        """Store tasks (and the tree record); refuse all if an id or (tree, key) is taken."""
        keys = {(t.tree_id, t.key) for t in self._tasks.values()}
        if tree is not None and tree.id in self._trees:
            raise DefinitionError(f"a tree with id {tree.id!r} exists already")
        for task in tasks:
            if task.id in self._tasks or (task.tree_id, task.key) in keys:
                raise DefinitionError(
                    f"a task with id {task.id!r} or key {task.key!r} exists already", task=task.key
                )
            keys.add((task.tree_id, task.key))
        self._tasks.update((task.id, task) for task in tasks)
        if tree is not None:
            self._trees[tree.id] = tree
        existing = self._trees.get(reopen) if reopen is not None else None
        if existing is not None and existing.is_finished:
            status = TreeStatus.PENDING if existing.started_at is None else TreeStatus.IN_PROGRESS
            self._trees[existing.id] = dataclasses.replace(
                existing, status=status, finished_at=None
            )

    async def select(self, query: TaskQuery) -> list[Task]:
        """Matching tasks in the same order as the SQL storage."""
        found = [t for t in self._tasks.values() if _matches(t, query)]
        if query.tree_id is None and query.parent_id is None:
            found.sort(key=lambda t: (-t.created_at.timestamp(), t.tree_id, t.position))
        else:
            found.sort(key=lambda t: t.position)
        end = None if query.limit is None else query.offset + query.limit
        found = found[query.offset : end]
        if not query.with_results:
            found = [
                t.evolve_known({"result": None, "inputs": {}, "traceback": None}) for t in found
            ]
        return found

    async def select_trees(self, query: TreeQuery) -> list[TaskTree]:
        """Matching trees, newest first."""
        found = [t for t in self._trees.values() if _tree_matches(t, query)]
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return found[: query.limit] if query.limit is not None else found

    async def commit(self, batch: TreeBatch) -> None:
        """Check the claim and every expected status first, then apply everything."""
        self._commit(batch)

    def commit_now(self, batch: TreeBatch) -> bool:
        """Memory always commits at once."""
        self._commit(batch)
        return True

    def _commit(self, batch: TreeBatch) -> None:
        tree = self._trees.get(batch.tree_id)
        claim = batch.claim
        if tree is None or tree.lease.owner != claim.owner or tree.lease.token != claim.token:
            holder = tree.lease.owner if tree is not None else None
            raise LeaseLost(batch.tree_id, holder)
        for state in batch.tasks:
            task = self._tasks.get(state.id)
            if task is None or task.status is not state.expected:
                current = task.status.value if task is not None else None
                raise InvalidTransition(
                    state.id, current, state.status.value, "changed outside its tree's manager"
                )
        for state in batch.tasks:
            self._tasks[state.id] = _applied(self._tasks[state.id], state)
        self.events.append(batch.events)
        self.signals.use(batch.signals, batch.released_attempts)
        new = batch.tree
        lease = dataclasses.replace(
            tree.lease,
            owner=claim.owner if new.keep_lease else None,
            expires_at=new.lease_expires_at if new.keep_lease else None,
        )
        self._trees[batch.tree_id] = dataclasses.replace(
            tree,
            status=new.status,
            started_at=new.started_at,
            finished_at=new.finished_at,
            updated_at=new.updated_at,
            lease=lease,
        )

    async def edit(self, task_id: str, expected: TaskStatus, edit: TaskEdit, now: datetime) -> bool:
        """Apply the edit if the status is still ``expected``."""
        task = self._tasks.get(task_id)
        if task is None or task.status is not expected:
            return False
        self._tasks[task_id] = task.evolve(**edit.values(), updated_at=now)
        return True

    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete by id; a root takes its tree record and events with it."""
        count = 0
        for task_id in task_ids:
            task = self._tasks.pop(task_id, None)
            if task is None:
                continue
            count += 1
            if task.parent_id is None:
                self._trees.pop(task.tree_id, None)
                self.events.forget(task.tree_id)
        return count

    async def prune(self, finished_before: datetime, *, limit: int) -> int:
        """Delete finished trees older than the cutoff, oldest first."""
        old = sorted(
            (
                t
                for t in self._trees.values()
                if t.is_finished and t.finished_at is not None and t.finished_at < finished_before
            ),
            key=lambda t: t.finished_at or t.created_at,
        )[:limit]
        ids = {t.id for t in old}
        for task_id in [t.id for t in self._tasks.values() if t.tree_id in ids]:
            del self._tasks[task_id]
        for tree_id in ids:
            del self._trees[tree_id]
            self.events.forget(tree_id)
        self.signals.forget(ids)
        return len(ids)

    async def prune_fires(self, recorded_before: datetime, *, limit: int) -> int:
        """Delete old fire records (not a buffered one)."""
        return self.schedules.forget_fires(recorded_before)

    async def close(self) -> None:
        """Nothing to release."""
