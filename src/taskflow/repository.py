"""`TaskRepository`: the task and tree verbs users call, written once over any `Storage`.

``create_session()`` returns one. Creating tasks goes through the same checks as creating a
tree (`taskflow.executors.check_tasks`); storage only inserts, selects and commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from taskflow.exceptions import (
    AmbiguousId,
    DefinitionError,
    TaskConflict,
    TaskNotFound,
    TreeBusy,
)
from taskflow.models import (
    PRIORITY_DEFAULT,
    Dependency,
    Task,
    TaskStatus,
    TaskTree,
    TaskTreeNode,
    TreeStatus,
    new_task_id,
    utcnow,
)
from taskflow.storage.records import TaskEdit, TaskQuery, TreeQuery

if TYPE_CHECKING:
    from taskflow.executors import ExecutorRegistry
    from taskflow.storage import EventLog, SignalBox, Storage

#: Fields a user may edit with `TaskRepository.update_task`.
EDITABLE_FIELDS = frozenset(
    {"name", "inputs", "params", "priority", "dependencies", "user_id", "progress"}
)
_UNSET: Any = object()


class TaskRepository:
    """Tasks and trees in a `Storage`, with the verbs users know.

    Args:
        storage: Where the data lives (`taskflow.create_session` picks it from a URL).
        registry: Where ``create_task`` looks executors up (default: the process-wide one).

    Attributes:
        storage: The storage underneath (primitives: insert, select, commit).
    """

    def __init__(self, storage: Storage, *, registry: ExecutorRegistry | None = None) -> None:
        self.storage = storage
        self._registry = registry

    @property
    def registry(self) -> ExecutorRegistry:
        """Where ``create_task`` looks executors up (the process-wide registry by default;
        imported when first needed, so that reading tasks stays cheap)."""
        if self._registry is None:
            from taskflow.executors import get_registry

            self._registry = get_registry()
        return self._registry

    def __repr__(self) -> str:
        return f"TaskRepository({self.storage!r})"

    @property
    def url(self) -> str:
        """The database URL (``memory://`` for in-memory storage)."""
        return str(getattr(self.storage, "url", "memory://"))

    @property
    def events(self) -> EventLog:
        """The stored event log (``read(tree_id, after=seq)``, ``last_seq(tree_id)``)."""
        return self.storage.events

    @property
    def signals(self) -> SignalBox:
        """Stored requests for tasks (``notify`` data, cancel requests)."""
        return self.storage.signals

    # -- creating -----------------------------------------------------------------------------

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
        """Create one task, as a new root (a new tree) or as a child of ``parent_id``.

        ``name`` is the executor id unless ``schemas={"method": ...}`` or ``executor=`` says
        otherwise (``executor=None`` makes a group). ``key`` defaults to the new id.
        Dependencies name tasks of the same tree by id or key; they must exist already. Every
        check of `TaskManager.create_tree` applies (shape, executor, inputs, references).

        Raises:
            TaskNotFound: the parent does not exist.
            DefinitionError: naming the task and the field.
        """
        task_id = new_task_id()
        spec: dict[str, Any] = {
            "key": task_id if key is None else key,
            "name": name,
            "inputs": {} if inputs is None else inputs,
            "params": {} if params is None else params,
            "dependencies": None if dependencies is None else list(dependencies),
            "priority": priority,
            "timeout": timeout,
            "soft_timeout": soft_timeout,
            "retry": retry,
            "deadline": deadline,
        }
        if schemas is not None:
            spec["schemas"] = schemas
        if executor is not _UNSET:
            spec["executor"] = executor
        parent = await self.require_task(parent_id) if parent_id is not None else None
        siblings = await self.get_tree_tasks(parent.tree_id) if parent else []
        from taskflow.definition import build_task

        task = build_task(
            {k: v for k, v in spec.items() if v is not None or k in ("executor", "name")},
            task_id=task_id,
            parent=parent,
            siblings=siblings,
            user_id=user_id,
        )
        from taskflow.executors import check_tasks

        check_tasks([*siblings, task], self.registry, new={task.id})
        if parent is None:
            await self.storage.insert([task], TaskTree.of(task))
        else:
            await self.storage.insert([task], reopen=parent.tree_id)
        return task

    # -- reading ------------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task | None:
        """The task with this id, or ``None``."""
        found = await self.storage.select(TaskQuery(ids=[task_id]))
        return found[0] if found else None

    async def get_task_by_id(self, task_id: str) -> Task | None:
        """The task with this id, or ``None`` (the aipartnerupflow lineage's name)."""
        return await self.get_task(task_id)

    async def require_task(self, task_id: str) -> Task:
        """The task with this id; raise `TaskNotFound` if there is none."""
        task = await self.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def find_task(self, ref: str) -> Task:
        """The task a user means by ``ref``: its id, any unique prefix of it, or
        ``TREE/KEY`` — a tree (by id or unique prefix) and the key of a task in it.

        Raises:
            TaskNotFound: nothing matches.
            AmbiguousId: a prefix matches several tasks or trees (they are listed).
        """
        ref = ref.strip()
        if "/" in ref:
            tree_ref, _, key = ref.partition("/")
            tree = await self.find_tree(tree_ref)
            found = await self.storage.select(
                TaskQuery(tree_id=tree.id, key=key, with_results=True)
            )
            if not found:
                raise TaskNotFound(ref)
            return found[0]
        exact = await self.get_task(ref)
        if exact is not None:
            return exact
        if not ref:
            raise TaskNotFound(ref)
        found = await self.storage.select(TaskQuery(id_prefix=ref, limit=6, with_results=False))
        if len(found) > 1:
            raise AmbiguousId(ref, [f"{t.id} ({t.key})" for t in found])
        if not found:
            raise TaskNotFound(ref)
        return await self.require_task(found[0].id)

    async def find_tree(self, ref: str) -> TaskTree:
        """The tree a user means by ``ref``: its id or any unique prefix of it.

        Raises:
            TaskNotFound: nothing matches.
            AmbiguousId: the prefix matches several trees.
        """
        exact = await self.get_tree(ref)
        if exact is not None:
            return exact
        found = await self.storage.select_trees(TreeQuery(id_prefix=ref, limit=6)) if ref else []
        if len(found) > 1:
            raise AmbiguousId(ref, [f"{t.id} ({t.name})" for t in found])
        if not found:
            raise TaskNotFound(ref)
        return found[0]

    async def get_tree_tasks(self, tree_id: str) -> list[Task]:
        """Every task of a tree, in creation order."""
        return await self.storage.select(TaskQuery(tree_id=tree_id))

    async def get_task_tree(self, task_id: str) -> TaskTreeNode:
        """The subtree rooted at ``task_id`` (the whole tree for a root)."""
        task = await self.require_task(task_id)
        root = TaskTreeNode.from_tasks(await self.get_tree_tasks(task.tree_id))
        node = root.find(task_id)
        assert node is not None  # the task is in its own tree
        return node

    async def get_children(self, task_id: str) -> list[Task]:
        """The direct children of a task, in creation order."""
        return await self.storage.select(TaskQuery(parent_id=task_id))

    async def get_tree(self, tree_id: str) -> TaskTree | None:
        """The record of a tree (status rolled up from all its tasks, owner, lease), or
        ``None``."""
        found = await self.storage.select_trees(TreeQuery(ids=[tree_id]))
        return found[0] if found else None

    async def require_tree(self, tree_id: str) -> TaskTree:
        """The record of a tree; raise `TaskNotFound` if there is none."""
        tree = await self.get_tree(tree_id)
        if tree is None:
            raise TaskNotFound(tree_id)
        return tree

    async def list_trees(
        self,
        *,
        user_id: str | None = None,
        status: TreeStatus | str | Collection[TreeStatus | str] | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> list[TaskTree]:
        """Tree records, newest first, filtered by owner, status and name."""
        statuses = None
        if status is not None:
            raw = [status] if isinstance(status, str) else list(status)
            statuses = [TreeStatus(s) for s in raw]
        query = TreeQuery(user_id=user_id, statuses=statuses, name=name, limit=limit)
        return await self.storage.select_trees(query)

    async def list_tasks(
        self,
        *,
        user_id: str | None = None,
        status: TaskStatus | str | Collection[TaskStatus | str] | None = None,
        tree_id: str | None = None,
        roots_only: bool = False,
        waiting: bool = False,
        with_results: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks filtered by owner, status and tree, a page at a time.

        Across trees the newest tasks come first; within one tree (``tree_id``), creation order.
        ``waiting`` keeps only tasks waiting in ``context.wait``. Results, inputs and
        tracebacks are left out unless ``with_results`` (a listing stays cheap however large
        they are; `get_task` reads one whole).
        """
        statuses = None
        if status is not None:
            raw = [status] if isinstance(status, str) else list(status)
            statuses = [TaskStatus(s) for s in raw]
        query = TaskQuery(
            user_id=user_id,
            statuses=statuses,
            tree_id=tree_id,
            roots_only=roots_only,
            waiting=waiting,
            with_results=with_results,
            limit=limit,
            offset=offset,
        )
        return await self.storage.select(query)

    # -- editing ------------------------------------------------------------------------------

    async def update_task(self, task_id: str, **fields: Any) -> Task:
        """Edit a task of a tree that is not running: ``name``, ``inputs``, ``params``,
        ``priority``, ``dependencies`` (task ids or keys), ``user_id``, ``progress``.

        Status changes go through the manager (``cancel``, ``retry_task``).

        Raises:
            TaskNotFound: There is no such task.
            TreeBusy: A manager runs the task's tree.
            DefinitionError: A field is not editable or its new value is malformed.
        """
        task = await self.require_task(task_id)
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            hint = " (status changes go through the manager)" if "status" in unknown else ""
            raise DefinitionError(
                f"cannot edit {', '.join(sorted(unknown))}{hint}; "
                f"editable: {', '.join(sorted(EDITABLE_FIELDS))}",
                task=task.key,
            )
        await self._refuse_if_running(task)
        if "priority" in fields:
            from taskflow.taskfields import check_priority

            check_priority(fields["priority"], task=task.key)
        if "dependencies" in fields:
            fields["dependencies"] = await self._linked(task, fields["dependencies"])
        now = utcnow()
        changed = task.evolve(**fields, updated_at=now)
        siblings = await self.get_tree_tasks(task.tree_id)
        from taskflow.executors import check_tasks

        check_tasks([changed if t.id == task_id else t for t in siblings], self.registry, new={})
        if not await self.storage.edit(task_id, task.status, TaskEdit(**fields), now):
            raise TaskConflict(task_id, "its status changed while it was being edited")
        return changed

    async def _linked(self, task: Task, raw: Any) -> tuple[Dependency, ...]:
        siblings = await self.get_tree_tasks(task.tree_id)
        by_key = {t.key: t.id for t in siblings}
        from taskflow.taskfields import parse_dependencies

        deps = parse_dependencies(raw, task=task.key)
        return tuple(Dependency(by_key.get(d.id, d.id), d.required) for d in deps)

    async def _refuse_if_running(self, task: Task) -> None:
        tree = await self.get_tree(task.tree_id)
        owner = tree.held_by() if tree is not None else None
        if owner is not None:
            assert tree is not None
            raise TreeBusy(task.tree_id, owner, tree.lease.expires_at)
        if task.status is TaskStatus.IN_PROGRESS:
            raise TaskConflict(task.id, "it is running; cancel it first")

    async def delete_task(self, task_id: str) -> None:
        """Delete a task that has no children, no dependents and is not running (a root
        takes its tree record and events with it).

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
        await self.storage.delete([task_id])

    async def close(self) -> None:
        """Release connections."""
        await self.storage.close()


class MemoryRepository(TaskRepository):
    """A `TaskRepository` on in-memory storage: nothing is written to disk (tests, throwaway
    runs)."""

    def __init__(self, *, registry: ExecutorRegistry | None = None) -> None:
        from taskflow.storage.memory import MemoryStorage

        super().__init__(MemoryStorage(), registry=registry)


__all__ = ["EDITABLE_FIELDS", "MemoryRepository", "TaskRepository"]
