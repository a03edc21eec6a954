"""`TaskManager`: create trees, run them, control and watch them — the engine's front door."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from taskflow.backends import ExecutionBackend, LocalBackend
from taskflow.definition import build_tree, check_tree
from taskflow.engine.capacity import Capacity
from taskflow.engine.graph import RunGraph
from taskflow.engine.hooks import Hooks, PostHook, PreHook, TerminalCallback
from taskflow.engine.rerun import reset_changes
from taskflow.engine.scheduler import TreeRun
from taskflow.engine.settings import EngineSettings
from taskflow.engine.subscription import follow_all, follow_tree
from taskflow.events import EventBus, TaskEvent
from taskflow.exceptions import InvalidTransition, TaskConflict, TreeBusy
from taskflow.executors import ExecutorRegistry, check_literal_inputs, get_registry
from taskflow.models import Task, TaskTreeNode, utcnow
from taskflow.storage import Change, TaskRepository

logger = logging.getLogger("taskflow.engine")

TreeLike = TaskTreeNode | Task | str
Definition = Mapping[str, Any] | Sequence[Mapping[str, Any]]


@dataclasses.dataclass(slots=True)
class _Active:
    run: TreeRun
    done: asyncio.Task[TaskTreeNode]


class TaskManager:
    """Persists task trees, runs them, and controls them while they run.

    Args:
        db: The repository (from `taskflow.create_session`); also `task_repository`.
        settings: Concurrency limits and timings.
        registry: Where executor ids are looked up (default: the process-wide registry).
        backend: Where executors run (default: asyncio tasks in this process).
        events: The bus that committed events are published on.

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
        self.hooks = Hooks()
        self._active: dict[str, _Active] = {}

    # -- creating -----------------------------------------------------------------------------

    async def create_tree(
        self, definition: Definition, *, user_id: str | None = None
    ) -> TaskTreeNode:
        """Create a whole tree in one transaction from a nested or flat definition.

        Every check runs first (shape, dependencies, cycles, references, executors); a bad
        definition writes nothing and raises a `DefinitionError` naming the task.
        """
        tasks = self.check(definition, user_id=user_id)
        await self.task_repository.insert(tasks)
        return TaskTreeNode.from_tasks(tasks)

    def check(self, definition: Definition, *, user_id: str | None = None) -> list[Task]:
        """Every check `create_tree` makes, writing nothing; returns the tasks it would create.

        Raises:
            DefinitionError: the shape, a dependency, a cycle, a reference, an unknown
                executor, or literal inputs that violate their executor's schema.
        """
        tasks = build_tree(definition, user_id=user_id)
        check_tree(tasks, executors=self.registry)
        check_literal_inputs(tasks, self.registry)
        return tasks

    # -- running ------------------------------------------------------------------------------

    async def start(self, tree: TreeLike, *, on_terminal: TerminalCallback | None = None) -> str:
        """Start running a tree in the background; return its id at once.

        ``on_terminal(outcome)`` is called once per task when it ends (success, failure,
        exception, cancellation), after the end is committed; see `TerminalOutcome`.

        Raises:
            TreeBusy: another live manager runs the tree.
            DefinitionError: the tree cannot run as defined (nothing ran).
        """
        return await self._start(await self._load_tree(tree), on_terminal, checked=False)

    async def _start(
        self, tasks: list[Task], on_terminal: TerminalCallback | None, *, checked: bool
    ) -> str:
        tree_id = tasks[0].tree_id
        active = self._active.get(tree_id)
        if active is None:
            if not checked:
                check_tree(tasks, executors=self.registry)
            now = utcnow()
            lease = await self.task_repository.leases.acquire(
                tree_id, self.owner, now, now + timedelta(seconds=self.settings.lease_seconds)
            )
            if lease.owner != self.owner:
                raise TreeBusy(tree_id, lease.owner, lease.expires_at)
            run = self._tree_run(tasks)
            active = self._active[tree_id] = _Active(run, asyncio.ensure_future(self._drive(run)))
        if on_terminal is not None:
            active.run.on_terminal.append(on_terminal)
        return tree_id

    def _tree_run(self, tasks: list[Task]) -> TreeRun:
        return TreeRun(
            RunGraph(tasks),
            repository=self.task_repository,
            registry=self.registry,
            backend=self.backend,
            settings=self.settings,
            capacity=self.capacity,
            bus=self.events,
            owner=self.owner,
            hooks=self.hooks,
        )

    async def _drive(self, run: TreeRun) -> TaskTreeNode:
        tree_id = run.graph.root.task.tree_id
        try:
            await run.run()
        finally:
            self._active.pop(tree_id, None)
            try:
                await self.task_repository.leases.release(tree_id, self.owner, utcnow())
            except Exception:
                logger.exception("could not release the lease on tree %s", tree_id)
        return TaskTreeNode.from_tasks(node.task for node in run.graph)

    async def wait(self, tree_id: str) -> TaskTreeNode:
        """Wait for a tree this manager runs; return it with every task's final state.

        A tree not running here is returned as it stands in the repository.
        """
        active = self._active.get(tree_id)
        if active is None:
            return await self.task_repository.get_task_tree(tree_id)
        return await asyncio.shield(active.done)

    async def distribute_task_tree(self, tree: TreeLike) -> TaskTreeNode:
        """Run a tree until every task is terminal and return it with the final states.

        ``tree`` is a `TaskTreeNode`, a `Task`, or a task id; the whole tree containing it runs.
        Tasks already finished are not run again. The tree is checked before anything runs
        (unknown executors, cycles, references), raising a `DefinitionError`.
        """
        return await self.wait(await self.start(tree))

    async def run_tree(
        self,
        definition: Definition,
        *,
        user_id: str | None = None,
        on_terminal: TerminalCallback | None = None,
    ) -> TaskTreeNode:
        """`create_tree` then `distribute_task_tree`, without reading the new tree back."""
        tasks = self.check(definition, user_id=user_id)
        await self.task_repository.insert(tasks)
        tree_id = await self._start(tasks, on_terminal, checked=True)
        del tasks  # the run holds the live copies; do not keep the originals alive too
        return await self.wait(tree_id)

    async def resume(self) -> list[str]:
        """Take over unfinished trees whose manager stopped renewing its lease, and run them.

        Completed tasks are not run again; tasks that were running when their manager died
        run again as a new attempt, or fail with ``error_type="NotRerunSafe"`` if their
        executor is not safe to re-run. Returns the ids of the trees started (see `wait`).
        """
        started = []
        for tree_id in await self.task_repository.leases.expired(utcnow()):
            if tree_id in self._active:
                continue
            try:
                started.append(await self.start(tree_id))
            except TreeBusy:
                continue  # another manager was quicker
        return started

    async def retry_task(self, task_id: str, *, with_dependents: bool = False) -> str:
        """Run a failed or cancelled task again (and, on request, its dependents).

        The task goes back to ``pending`` with its attempt history kept, the groups around it
        reopen, and its tree starts. Returns the tree id (see `wait`).

        Raises:
            InvalidTransition: the task is not failed or cancelled.
            TaskConflict: the tree is running here.
            TreeBusy: another manager runs the tree (nothing was written).
        """
        task = await self.task_repository.require_task(task_id)
        if task.tree_id in self._active:
            raise TaskConflict(task_id, "its tree is running; wait for it or cancel it first")
        now = utcnow()
        lease = await self.task_repository.leases.acquire(
            task.tree_id, self.owner, now, now + timedelta(seconds=self.settings.lease_seconds)
        )
        if lease.owner != self.owner:  # before writing anything
            raise TreeBusy(task.tree_id, lease.owner, lease.expires_at)
        try:
            tasks = await self.task_repository.get_tree_tasks(task.tree_id)
            changes = reset_changes(tasks, task_id, with_dependents=with_dependents)
            conflicts = await self.task_repository.apply(changes)
            if conflicts:
                raise InvalidTransition(
                    conflicts[0], None, "pending", "another writer changed it first"
                )
        except BaseException:  # nothing was reset: let the tree go as we found it
            resumable = lease.previous_owner is not None
            await self.task_repository.leases.release(
                task.tree_id, self.owner, utcnow(), resumable=resumable
            )
            raise
        return await self.start(task.tree_id)

    # -- controlling --------------------------------------------------------------------------

    async def cancel(self, task_id: str, reason: str = "cancelled by user") -> None:
        """Cancel a task (a tree's root cancels the tree), its subtree and required dependents.

        A pending task is cancelled at once; a running one is asked to stop (its context's
        flag, then its executor's ``cancel()``, whose partial result is kept) and stopped by
        force after ``cancel_grace_seconds``. The tree may run in this manager, in another
        one (which acts within about ``poll_seconds``), or nowhere.
        """
        task = await self.task_repository.require_task(task_id)
        active = self._active.get(task.tree_id)
        if active is not None:
            active.run.cancel(active.run.graph.nodes[task_id], reason)
            return
        if task.is_terminal:
            return
        await self.task_repository.apply(
            [Change(task_id, None, {"cancel_requested": reason, "updated_at": utcnow()})]
        )
        now = utcnow()
        lease = await self.task_repository.leases.acquire(
            task.tree_id, self.owner, now, now + timedelta(seconds=self.settings.lease_seconds)
        )
        if lease.owner == self.owner:  # nobody runs the tree: cancel in the repository now
            await self._cancel_idle_tree(task, reason, resumable=lease.previous_owner is not None)

    async def _cancel_idle_tree(self, task: Task, reason: str, *, resumable: bool) -> None:
        run = self._tree_run(await self.task_repository.get_tree_tasks(task.tree_id))
        run.stopping = True  # apply the cancellation, start nothing
        try:
            await run.cancel_idle(task.id, reason)
        finally:
            await self.task_repository.leases.release(
                task.tree_id, self.owner, utcnow(), resumable=resumable
            )

    async def notify(self, task_id: str, key: str, data: Any = None) -> None:
        """Send ``data`` to the task's ``context.wait(key)`` — now, or whenever it waits.

        The signal is stored first, so it reaches the task from any process, and after a
        restart.
        """
        await self.task_repository.signals.put(task_id, key, data)
        for active in self._active.values():
            active.run.upkeep.wake_parked(task_id, key)

    async def get_state(self, task_id: str) -> Task:
        """The task as it stands now (from memory when it runs here)."""
        for active in self._active.values():
            node = active.run.graph.nodes.get(task_id)
            if node is not None:
                return node.task
        return await self.task_repository.require_task(task_id)

    def running_tasks(self) -> list[Task]:
        """Tasks running in this manager right now."""
        return [
            node.task for active in self._active.values() for node, _ in active.run.running.values()
        ]

    async def stop_all(self) -> None:
        """Stop every tree this manager runs, leaving them resumable.

        Running attempts are stopped and their tasks put back to ``pending`` (attempt history
        kept); nothing new starts; every change is committed; the leases are released so that
        `resume` (here or in another process) finishes the trees.
        """
        for active in list(self._active.values()):
            active.run.stopping = True
            for task_id in list(active.run.running):
                self.backend.kill(task_id)
            active.run.wake()
        await asyncio.gather(*(a.done for a in list(self._active.values())), return_exceptions=True)

    def subscribe(self, tree_id: str | None = None, *, after: int = 0) -> AsyncIterator[TaskEvent]:
        """Events as an async iterator: of one tree (from the stored log after ``after``,
        ending when the tree is done), or of every tree run in this process."""
        if tree_id is None:
            return follow_all(self.events)
        return follow_tree(
            self.task_repository,
            self.events,
            tree_id,
            after=after,
            poll_seconds=self.settings.poll_seconds,
        )

    def register_pre_hook(self, hook: PreHook) -> None:
        """Call ``hook(task, inputs)`` before each task runs; it may return new inputs."""
        self.hooks.pre.append(hook)

    def register_post_hook(self, hook: PostHook) -> None:
        """Call ``hook(task)`` after each task ends (committed)."""
        self.hooks.post.append(hook)

    # -- helpers ------------------------------------------------------------------------------

    async def _load_tree(self, tree: TreeLike) -> list[Task]:
        if isinstance(tree, TaskTreeNode):
            tree = tree.task
        task = tree if isinstance(tree, Task) else await self.task_repository.require_task(tree)
        return await self.task_repository.get_tree_tasks(task.tree_id)

    async def close(self) -> None:
        """Stop running trees (resumable), the backend, and the repository's connections."""
        await self.stop_all()
        await self.backend.close()
        await self.task_repository.close()
