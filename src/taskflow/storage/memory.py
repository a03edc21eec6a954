"""An in-memory repository: the same verbs, no database (tests, and throwaway runs)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from taskflow.events import TaskEvent
from taskflow.exceptions import DefinitionError
from taskflow.models import Dependency, Task, TaskStatus
from taskflow.storage.base import Change, TaskQuery, TaskRepository
from taskflow.storage.memory_control import MemoryEventLog, MemoryLeaseStore, MemorySignalBox


def _matches(task: Task, query: TaskQuery) -> bool:
    return (
        (query.ids is None or task.id in query.ids)
        and (query.tree_id is None or task.tree_id == query.tree_id)
        and (query.parent_id is None or task.parent_id == query.parent_id)
        and (query.user_id is None or task.user_id == query.user_id)
        and (query.statuses is None or task.status in query.statuses)
        and (not query.roots_only or task.parent_id is None)
        and (not query.cancel_requested or task.cancel_requested is not None)
    )


class MemoryRepository(TaskRepository):
    """Tasks in a dict. Every primitive runs without awaiting, so each one is atomic."""

    events: MemoryEventLog

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self.events = MemoryEventLog()
        self.signals = MemorySignalBox()
        self.leases = MemoryLeaseStore(self._tasks.get)

    def __repr__(self) -> str:
        return f"MemoryRepository({len(self._tasks)} tasks)"

    async def insert(self, tasks: Sequence[Task]) -> None:
        """Store tasks; refuse all if an id or a (tree, key) pair is taken."""
        keys = {(t.tree_id, t.key) for t in self._tasks.values()}
        for task in tasks:
            if task.id in self._tasks or (task.tree_id, task.key) in keys:
                raise DefinitionError(
                    f"a task with id {task.id!r} or key {task.key!r} exists already"
                )
            keys.add((task.tree_id, task.key))
        self._tasks.update((task.id, task) for task in tasks)

    async def select(self, query: TaskQuery) -> list[Task]:
        """Matching tasks in the same order as the SQL repository."""
        found = [t for t in self._tasks.values() if _matches(t, query)]
        if query.tree_id is None and query.parent_id is None:
            found.sort(key=lambda t: (-t.created_at.timestamp(), t.tree_id, t.position))
        else:
            found.sort(key=lambda t: t.position)
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    async def apply(self, changes: Sequence[Change], events: Sequence[TaskEvent] = ()) -> list[str]:
        """Apply each change whose task is in the expected status; store the events."""
        self.events.append(events)
        conflicts = []
        for change in changes:
            task = self._tasks.get(change.task_id)
            if task is None or (change.expected is not None and task.status is not change.expected):
                conflicts.append(change.task_id)
                continue
            values = dict(change.values)
            if "status" in values:
                values["status"] = TaskStatus(values["status"])
            if "dependencies" in values:
                values["dependencies"] = tuple(Dependency.parse(d) for d in values["dependencies"])
            values = {k: v for k, v in values.items() if not k.startswith("lease_")}
            self._tasks[change.task_id] = task.evolve(**values)
        return conflicts

    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete by id."""
        return sum(self._tasks.pop(task_id, None) is not None for task_id in task_ids)

    async def close(self) -> None:
        """Nothing to release."""
