"""`TaskManager`: create trees, run them, and look at them — the engine's front door."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from taskflow.backends import ExecutionBackend, LocalBackend
from taskflow.definition import build_tree, check_tree
from taskflow.engine.capacity import Capacity
from taskflow.engine.graph import RunGraph
from taskflow.engine.scheduler import TreeRun
from taskflow.engine.settings import EngineSettings
from taskflow.events import EventBus
from taskflow.executors import ExecutorRegistry, get_registry
from taskflow.models import Task, TaskTreeNode
from taskflow.storage import TaskRepository

logger = logging.getLogger("taskflow.engine")

TreeLike = TaskTreeNode | Task | str


class TaskManager:
    """Persists task trees and runs them.

    Args:
        db: The repository (from `taskflow.create_session`); also `task_repository`.
        settings: Concurrency limits and timings.
        registry: Where executor ids are looked up (default: the process-wide registry).
        backend: Where executors run (default: asyncio tasks in this process).
        events: The bus that state changes are published on.

    Example:
        >>> db = create_session()
        >>> task_manager = TaskManager(db)
        >>> task = await task_manager.task_repository.create_task(name="noop", user_id="me")
        >>> tree = await task_manager.distribute_task_tree(TaskTreeNode(task))
    """

    def __init__(
        self,
        db: TaskRepository,
        *,
        settings: EngineSettings | None = None,
        registry: ExecutorRegistry | None = None,
        backend: ExecutionBackend | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.task_repository = db
        self.settings = settings or EngineSettings()
        self.registry = registry or get_registry()
        self.backend = backend or LocalBackend()
        self.events = events or EventBus()
        self.owner = f"manager-{uuid.uuid4().hex[:12]}"
        self.capacity = Capacity(self.settings, self.registry)

    async def create_tree(
        self,
        definition: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
    ) -> TaskTreeNode:
        """Create a whole tree in one transaction from a nested or flat definition.

        Every check runs first (shape, dependencies, cycles, references, executors); a bad
        definition writes nothing and raises a `DefinitionError` naming the task.
        """
        tasks = build_tree(definition, user_id=user_id)
        check_tree(tasks, executors=self.registry.ids())
        await self.task_repository.insert(tasks)
        return TaskTreeNode.from_tasks(tasks)

    async def _load_tree(self, tree: TreeLike) -> list[Task]:
        if isinstance(tree, TaskTreeNode):
            tree = tree.task
        task = tree if isinstance(tree, Task) else await self.task_repository.require_task(tree)
        return await self.task_repository.get_tree_tasks(task.tree_id)

    async def distribute_task_tree(self, tree: TreeLike) -> TaskTreeNode:
        """Run a tree until every task is terminal and return it with the final states.

        ``tree`` is a `TaskTreeNode`, a `Task`, or a task id; the whole tree containing it runs.
        Tasks already finished are not run again. The tree is checked before anything runs
        (unknown executors, cycles, references), raising a `DefinitionError`.
        """
        return await self._run(await self._load_tree(tree))

    async def _run(self, tasks: list[Task], *, checked: bool = False) -> TaskTreeNode:
        if not checked:
            check_tree(tasks, executors=self.registry.ids())
        graph = RunGraph(tasks)
        run = TreeRun(
            graph,
            repository=self.task_repository,
            registry=self.registry,
            backend=self.backend,
            settings=self.settings,
            capacity=self.capacity,
            bus=self.events,
            owner=self.owner,
        )
        await run.run()
        return TaskTreeNode.from_tasks(node.task for node in graph)

    async def run_tree(
        self,
        definition: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
    ) -> TaskTreeNode:
        """`create_tree` then `distribute_task_tree`, without reading the new tree back."""
        tasks = build_tree(definition, user_id=user_id)
        check_tree(tasks, executors=self.registry.ids())
        await self.task_repository.insert(tasks)
        return await self._run(tasks, checked=True)

    async def close(self) -> None:
        """Stop the backend's runs and close the repository."""
        await self.backend.close()
        await self.task_repository.close()
