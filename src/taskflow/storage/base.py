"""The repository interface: the domain's verbs over five storage primitives.

An implementation provides `insert`, `select`, `apply`, `delete` and `close`; everything else
(`create_task`, `list_tasks`, `get_task_tree`, ...) is written once here on top of them.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from taskflow.definition import (
    _UNSET,
    check_priority,
    check_tree,
    executor_of,
    parse_dependencies,
    parse_limits,
)
from taskflow.events import TaskEvent
from taskflow.exceptions import DefinitionError, InvalidTransition, TaskConflict, TaskNotFound
from taskflow.models import (
    PRIORITY_DEFAULT,
    Dependency,
    Task,
    TaskStatus,
    TaskTreeNode,
    check_transition,
    new_task_id,
    utcnow,
)
from taskflow.storage.control import EventLog, LeaseStore, SignalBox

#: Fields a user may edit with `TaskRepository.update_task` (status goes through transitions).
EDITABLE_FIELDS = frozenset(
    {"name", "inputs", "params", "priority", "dependencies", "user_id", "progress"}
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """Which tasks to select. Unset criteria match everything; results come in tree order."""

    ids: Collection[str] | None = None
    tree_id: str | None = None
    parent_id: str | None = None
    user_id: str | None = None
    statuses: Collection[TaskStatus] | None = None
    roots_only: bool = False
    cancel_requested: bool = False
    limit: int | None = None
    offset: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """New values for some fields of one task, applied only if its status is ``expected``.

    ``expected=None`` applies the change whatever the status (used for plain edits).
    """

    task_id: str
    expected: TaskStatus | None
    values: Mapping[str, Any]


class TaskRepository(abc.ABC):
    """Where tasks live. Subclasses implement the five storage primitives.

    Attributes:
        events: The event log written by `apply`.
        signals: Data sent to waiting tasks.
        leases: Which manager runs which tree.
    """

    events: EventLog
    signals: SignalBox
    leases: LeaseStore

    # -- primitives --------------------------------------------------------------------------

    @abc.abstractmethod
    async def insert(self, tasks: Sequence[Task]) -> None:
        """Store new tasks, all or none."""

    @abc.abstractmethod
    async def select(self, query: TaskQuery) -> list[Task]:
        """The tasks matching ``query``, ordered by tree then creation position."""

    @abc.abstractmethod
    async def apply(self, changes: Sequence[Change], events: Sequence[TaskEvent] = ()) -> list[str]:
        """Apply ``changes`` and store ``events`` in one transaction.

        Each change is a compare-and-set on its expected status. Returns the ids whose change
        was refused because the status was not the expected one; the other changes, and all
        the events, are written.
        """

    @abc.abstractmethod
    async def delete(self, task_ids: Collection[str]) -> int:
        """Delete tasks; return how many existed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""

    # -- the domain's verbs ------------------------------------------------------------------

    async def create_task(
        self,
        name: str,
        *,
        user_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
        dependencies: Iterable[Any] | None = None,
        priority: int = PRIORITY_DEFAULT,
        params: Mapping[str, Any] | None = None,
        schemas: Mapping[str, Any] | None = None,
        executor: Any = _UNSET,
        key: str | None = None,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        retry: Mapping[str, Any] | int | None = None,
        deadline: float | None = None,
    ) -> Task:
        """Create one task, as a new root or as a child of ``parent_id``.

        ``name`` is the executor id unless ``schemas={"method": ...}`` or ``executor=`` says
        otherwise (``executor=None`` makes a group). Dependencies name tasks of the same tree
        by id or key; they must exist already.

        Raises:
            TaskNotFound: the parent does not exist.
            DefinitionError: a dependency or reference is not in the tree, or a field is malformed.
        """
        task_id = new_task_id()
        key = key or task_id
        deps = parse_dependencies(
            list(dependencies) if dependencies is not None else None, task=key
        )
        parent = await self.require_task(parent_id) if parent_id is not None else None
        siblings = await self.get_tree_tasks(parent.tree_id) if parent else []
        by_key = {t.key: t.id for t in siblings}
        now = utcnow()
        task = Task(
            id=task_id,
            tree_id=parent.tree_id if parent else task_id,
            parent_id=parent_id,
            key=key,
            name=name,
            executor=executor_of(name, schemas, executor),
            user_id=user_id if user_id is not None else (parent.user_id if parent else None),
            inputs=dict(inputs or {}),
            params=dict(params or {}),
            dependencies=tuple(Dependency(by_key.get(d.id, d.id), d.required) for d in deps),
            priority=check_priority(priority, task=key),
            position=max((t.position for t in siblings), default=-1) + 1,
            **parse_limits(
                {
                    "timeout": timeout,
                    "soft_timeout": soft_timeout,
                    "retry": retry,
                    "deadline": deadline,
                },
                task=key,
                is_root=parent is None,
                now=now,
            ),
            created_at=now,
            updated_at=now,
        )
        if key in by_key:
            raise DefinitionError(
                f"the key {key!r} is already used in tree {task.tree_id!r}", task=key
            )
        check_tree([*siblings, task])
        await self.insert([task])
        return task

    async def get_task(self, task_id: str) -> Task | None:
        """The task with this id, or ``None``."""
        found = await self.select(TaskQuery(ids=[task_id]))
        return found[0] if found else None

    async def get_task_by_id(self, task_id: str) -> Task | None:
        """The task with this id, or ``None`` (the seed lineage's name for `get_task`)."""
        return await self.get_task(task_id)

    async def require_task(self, task_id: str) -> Task:
        """The task with this id; raise `TaskNotFound` if there is none."""
        task = await self.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def get_tree_tasks(self, tree_id: str) -> list[Task]:
        """Every task of a tree, in creation order."""
        return await self.select(TaskQuery(tree_id=tree_id))

    async def get_task_tree(self, task_id: str) -> TaskTreeNode:
        """The subtree rooted at ``task_id`` (the whole tree for a root)."""
        task = await self.require_task(task_id)
        root = TaskTreeNode.from_tasks(await self.get_tree_tasks(task.tree_id))
        node = root.find(task_id)
        assert node is not None  # the task is in its own tree
        return node

    async def get_children(self, task_id: str) -> list[Task]:
        """The direct children of a task, in creation order."""
        return await self.select(TaskQuery(parent_id=task_id))

    async def list_tasks(
        self,
        *,
        user_id: str | None = None,
        status: TaskStatus | str | Collection[TaskStatus | str] | None = None,
        tree_id: str | None = None,
        roots_only: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks filtered by owner, status and tree, a page at a time.

        Across trees the newest tasks come first; within one tree (``tree_id``), creation order.
        """
        statuses = None
        if status is not None:
            raw = [status] if isinstance(status, str) else list(status)
            statuses = [TaskStatus(s) for s in raw]
        return await self.select(
            TaskQuery(
                user_id=user_id,
                statuses=statuses,
                tree_id=tree_id,
                roots_only=roots_only,
                limit=limit,
                offset=offset,
            )
        )

    async def update_task(self, task_id: str, **fields: Any) -> Task:
        """Edit a task that is not running; ``status=`` goes through `transition`.

        Raises:
            TaskNotFound: There is no such task.
            TaskConflict: The task is running.
            InvalidTransition: ``status`` is not reachable from the current status.
            DefinitionError: A field is not editable or its new value is malformed.
        """
        task = await self.require_task(task_id)
        status = fields.pop("status", None)
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise DefinitionError(
                f"cannot edit {', '.join(sorted(unknown))}; "
                f"editable: {', '.join(sorted(EDITABLE_FIELDS))}",
                task=task.key,
            )
        if fields and task.status is TaskStatus.IN_PROGRESS:
            raise TaskConflict(task_id, "it is running; cancel it before editing")
        if "priority" in fields:
            check_priority(fields["priority"], task=task.key)
        if "dependencies" in fields:
            siblings = await self.get_tree_tasks(task.tree_id)
            by_key = {t.key: t.id for t in siblings}
            deps = parse_dependencies(fields["dependencies"], task=task.key)
            fields["dependencies"] = tuple(
                Dependency(by_key.get(d.id, d.id), d.required) for d in deps
            )
            check_tree([task.evolve(**fields) if t.id == task_id else t for t in siblings])
        if status is not None:
            return await self.transition(task_id, TaskStatus(status), **fields)
        fields["updated_at"] = utcnow()
        if await self.apply([Change(task_id, task.status, fields)]):
            raise TaskConflict(task_id, "its status changed while it was being edited")
        return task.evolve(**fields)

    async def transition(
        self, task_id: str, target: TaskStatus, *, expected: TaskStatus | None = None, **fields: Any
    ) -> Task:
        """Move a task to ``target`` (checked against the state table), writing ``fields`` too.

        Raises:
            InvalidTransition: the table forbids it, or the task was not in ``expected`` status
                (or moved concurrently). Nothing is written then.
        """
        task = await self.require_task(task_id)
        current = expected or task.status
        if expected is not None and task.status is not expected:
            raise InvalidTransition(
                task_id, task.status.value, target.value, f"expected {expected.value!r}"
            )
        check_transition(task_id, current, target)
        values = {**fields, "status": target, "updated_at": utcnow()}
        if await self.apply([Change(task_id, current, values)]):
            latest = await self.require_task(task_id)
            raise InvalidTransition(
                task_id, latest.status.value, target.value, "another writer changed it first"
            )
        return task.evolve(**values)

    async def delete_task(self, task_id: str) -> None:
        """Delete a task that has no children, no dependents and is not running.

        Raises:
            TaskNotFound: There is no such task.
            TaskConflict: It has children or dependents, or it is running.
        """
        task = await self.require_task(task_id)
        tree = await self.get_tree_tasks(task.tree_id)
        children = [t.key for t in tree if t.parent_id == task_id]
        if children:
            raise TaskConflict(
                task_id, f"it has children ({', '.join(children[:5])}); delete them first"
            )
        dependents = [t.key for t in tree if any(d.id == task_id for d in t.dependencies)]
        if dependents:
            raise TaskConflict(task_id, f"tasks depend on it ({', '.join(dependents[:5])})")
        if task.status is TaskStatus.IN_PROGRESS:
            raise TaskConflict(task_id, "it is running; cancel it first")
        await self.delete([task_id])
