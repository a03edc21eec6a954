"""`Engine`: create trees, run them, control and watch them — with every part given.

`taskflow.TaskManager` (in `taskflow.runtime`) is this engine with its parts chosen from the
settings: users construct that one. The engine itself never picks a storage or a backend.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from taskflow.backends import ExecutionBackend
from taskflow.definition import build_tree
from taskflow.engine.context import Mode, RunContext
from taskflow.engine.hooks import Hooks, PostHook, PreHook, TerminalCallback
from taskflow.engine.rerun import reset
from taskflow.engine.runs import Runs
from taskflow.engine.settings import EngineSettings
from taskflow.engine.slots import Slots
from taskflow.engine.subscription import follow_all, follow_tree
from taskflow.engine.takeover import ResumeResult, acquire, claim_of, claim_unowned
from taskflow.events import EventBus, TaskEvent
from taskflow.exceptions import (
    DefinitionError,
    TaskConflict,
    TaskflowError,
    TreeBusy,
)
from taskflow.executors import ExecutorRegistry, check_tasks
from taskflow.identity import new_owner_id
from taskflow.models import Lease, Task, TaskTree, TaskTreeNode, TreeStatus, utcnow
from taskflow.models.values import json_problem
from taskflow.repository import TaskRepository
from taskflow.storage import CANCEL, NOTIFY, LeaseClaim, Signal

logger = logging.getLogger("taskflow.engine")

TreeLike = TaskTreeNode | Task | str
Definition = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class Engine:
    """Persists task trees, runs them, and controls them while they run.

    Args:
        repository: Where tasks and trees live.
        backend: Where executors run.
        settings: Concurrency limits and timings.
        registry: Where executor ids are looked up (default: the repository's).
        events: The bus that committed events are published on.
    """

    def __init__(
        self,
        repository: TaskRepository,
        *,
        backend: ExecutionBackend,
        settings: EngineSettings | None = None,
        registry: ExecutorRegistry | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.task_repository = repository
        self.storage = repository.storage
        self.settings = settings or EngineSettings()
        self.registry = registry or repository.registry
        self.backend = backend
        self.events = events or EventBus()
        self.owner = new_owner_id()
        self.slots = Slots(self.settings, self.registry, backend.permits)
        self.hooks = Hooks()
        context = RunContext(
            self.storage, self.registry, backend, self.settings, self.slots, self.events, self.hooks
        )
        self.runs = Runs(self.owner, context)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.owner}, {len(self.runs)} trees running)"

    # -- creating -----------------------------------------------------------------------------

    def check(
        self, definition: Definition, *, user_id: str | None = None, tree_id: str | None = None
    ) -> list[Task]:
        """Every check `create_tree` makes, writing nothing; returns the tasks it would create.

        Raises:
            DefinitionError: the shape, a dependency, a cycle, a reference, an unknown
                executor, or literal inputs that violate their executor's schema.
        """
        tasks = build_tree(definition, user_id=user_id, tree_id=tree_id)
        check_tasks(tasks, self.registry)
        return tasks

    async def create_tree(
        self,
        definition: Definition,
        *,
        user_id: str | None = None,
        queued: bool = False,
        tree_id: str | None = None,
    ) -> TaskTreeNode:
        """Create a whole tree — its tasks and its record — in one transaction.

        Every check runs first (shape, dependencies, cycles, references, executors); a bad
        definition writes nothing and raises a `DefinitionError` naming the task. With
        ``queued``, the tree waits for any worker (``taskflow worker``) to run it; otherwise
        it waits to be started (`start`). ``tree_id`` gives the tree its id (default: a new
        one); a taken id writes nothing and raises `DefinitionError` — so a caller that
        derives the id from a request (an idempotency key) creates the tree at most once.
        """
        tasks = self.check(definition, user_id=user_id, tree_id=tree_id)
        status = TreeStatus.QUEUED if queued else TreeStatus.PENDING
        await self.storage.insert(tasks, TaskTree.of(tasks[0], status=status))
        return TaskTreeNode.from_tasks(tasks)

    async def launch(
        self,
        definition: Definition,
        *,
        user_id: str | None = None,
        on_terminal: TerminalCallback | None = None,
    ) -> str:
        """Create a tree and start running it here; return its id at once.

        The tree is written with this manager's lease in the same transaction, so a crash
        right after leaves a tree that any manager can resume, never one nobody may start.
        """
        tasks = self.check(definition, user_id=user_id)
        now = utcnow()
        lease = Lease(self.owner, now + timedelta(seconds=self.settings.lease_seconds), 1)
        record = dataclasses.replace(TaskTree.of(tasks[0]), lease=lease)
        await self.storage.insert(tasks, record)
        self.runs.start(tasks, record, LeaseClaim(self.owner, 1), on_terminal)
        return record.id

    # -- running ------------------------------------------------------------------------------

    async def start(self, tree: TreeLike, *, on_terminal: TerminalCallback | None = None) -> str:
        """Start running a tree in the background; return its id at once.

        ``on_terminal(outcome)`` is called once per task when it ends (success, failure,
        exception, cancellation), after the end is committed; see `TerminalOutcome`.

        Raises:
            TreeBusy: another live manager runs the tree.
            DefinitionError: the tree cannot run as defined (nothing ran).
        """
        tasks = await self._load_tree(tree)
        tree_id = tasks[0].tree_id
        run = self.runs.get(tree_id)
        if run is None:
            check_tasks(tasks, self.registry)
            record = await self.task_repository.require_tree(tree_id)
            lease = await self._acquire(tree_id)
            record = dataclasses.replace(record, lease=lease)
            run = self.runs.start(tasks, record, claim_of(lease), None)
        if on_terminal is not None:
            run.on_terminal.append(on_terminal)
        return tree_id

    async def _acquire(self, tree_id: str) -> Lease:
        return await acquire(self.storage.leases, tree_id, self.owner, self.settings.lease_seconds)

    async def wait(self, tree_id: str) -> TaskTreeNode:
        """Wait for a tree this manager runs; return it with every task's final state.

        A tree not running here is returned as it stands in the repository.

        Raises:
            LeaseLost: another manager took the tree over while this one ran it.
            StorageError: the database kept failing; the tree is left resumable.
        """
        ended = await self.runs.wait(tree_id)
        if ended is None:
            return await self.task_repository.get_task_tree(tree_id)
        return ended

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
        """`launch` then `wait`: create a tree, run it to the end, return it."""
        return await self.wait(
            await self.launch(definition, user_id=user_id, on_terminal=on_terminal)
        )

    async def resume(self) -> ResumeResult:
        """Take over every unfinished tree that nobody runs, and run it.

        That is a tree whose manager died (its lease ran out, or its process on this host is
        gone: then at once), one handed back by a manager that stopped, and one queued for any
        worker. Completed tasks are not run again; tasks that were running when their manager
        died run again as a new attempt, or fail with ``error_type="NotRerunSafe"`` if their
        executor is not safe to re-run. A tree that cannot run here (an executor that is not
        installed) is reported in ``failed`` and left for later; the others go on.

        Returns:
            The ids of the trees started (see `wait`), with ``failed`` and ``held`` (trees a
            live manager elsewhere still holds, and until when).
        """
        result = await self.take_over()
        result.held = [t for t in await self.storage.leases.held(utcnow()) if t.id not in self.runs]
        return result

    async def take_over(self, limit: int | None = None) -> ResumeResult:
        """Claim up to ``limit`` trees that need a manager (see `resume`), oldest first, and
        run them; no two managers ever claim the same tree."""
        result = ResumeResult()
        claimed = await claim_unowned(
            self.storage.leases,
            self.owner,
            self.settings.lease_seconds,
            limit=1_000_000 if limit is None else limit,
            exclude=self.runs.ids(),
        )
        for tree_id, lease in claimed:
            try:
                tasks = await self.task_repository.get_tree_tasks(tree_id)
                check_tasks(tasks, self.registry)
                record = await self.task_repository.require_tree(tree_id)
            except TaskflowError as exc:
                logger.error("tree %s cannot run here: %s", tree_id, exc)
                result.failed[tree_id] = str(exc)
                await self.storage.leases.release(tree_id, self.owner, lease.token, utcnow())
                continue
            self.runs.start(tasks, dataclasses.replace(record, lease=lease), claim_of(lease), None)
            result.append(tree_id)
        return result

    async def retry_task(
        self, task_id: str, *, with_dependents: bool = False, queue: bool = False
    ) -> str:
        """Run a failed or cancelled task again (and, on request, its dependents).

        The task goes back to ``pending`` with its attempt history kept, the groups around it
        reopen, and its tree starts here. Returns the tree id (see `wait`). With ``queue``,
        the tree is not run here but handed to whichever worker is free (``taskflow worker``,
        `Worker`), as a tree queued to be run: this returns once that is written.

        Raises:
            InvalidTransition: the task is not failed or cancelled.
            TaskConflict: the tree is running here.
            TreeBusy: another manager runs the tree (nothing was written).
        """
        task = await self.task_repository.require_task(task_id)
        if task.tree_id in self.runs:
            raise TaskConflict(task_id, "its tree is running; wait for it or cancel it first")
        lease = await self._acquire(task.tree_id)
        try:
            tasks, was = reset(
                await self.task_repository.get_tree_tasks(task.tree_id),
                task_id,
                with_dependents=with_dependents,
            )
            check_tasks(tasks, self.registry)
            record = await self.task_repository.require_tree(task.tree_id)
        except BaseException:  # nothing was reset: let the tree go as we found it
            await self.storage.leases.release(task.tree_id, self.owner, lease.token, utcnow())
            raise
        record = dataclasses.replace(record, lease=lease)
        if not queue:
            self.runs.start(tasks, record, claim_of(lease), None, resets=was)
            return task.tree_id
        if record.started_at is None:  # it never ran (cancelled before): wait in the queue
            record = dataclasses.replace(record, status=TreeStatus.QUEUED)
        self.runs.start(tasks, record, claim_of(lease), None, resets=was, mode=Mode.SETTLE)
        await self.wait(task.tree_id)  # the resets written, the lease let go
        return task.tree_id

    # -- controlling --------------------------------------------------------------------------

    async def cancel(self, task_id: str, reason: str = "cancelled by user") -> None:
        """Cancel a task (a tree's root cancels the tree), its subtree and required dependents.

        A pending task is cancelled at once; a running one is asked to stop (its context's
        flag, then its executor's ``cancel()``, whose partial result is kept) and stopped by
        force after ``cancel_grace_seconds``. The tree may run in this manager, in another
        one (which acts within about ``poll_seconds``), or nowhere (then the cancellation is
        written here, now).
        """
        task = await self.task_repository.require_task(task_id)
        run = self.runs.get(task.tree_id)
        if run is not None:
            run.cancel(run.graph.nodes[task_id], reason)
            return
        if task.is_terminal:
            return
        await self.storage.signals.put(task.tree_id, task_id, CANCEL, reason, None)
        try:
            lease = await self._acquire(task.tree_id)
        except TreeBusy:
            return  # its manager acts on the request within poll_seconds
        if task.tree_id in self.runs:  # started here meanwhile: it reads the request itself
            return
        tasks = await self.task_repository.get_tree_tasks(task.tree_id)
        record = dataclasses.replace(
            await self.task_repository.require_tree(task.tree_id), lease=lease
        )
        self.runs.start(tasks, record, claim_of(lease), None, mode=Mode.SETTLE)
        await self.wait(task.tree_id)

    async def notify(self, task_id: str, key: str, data: Any = None) -> None:
        """Send ``data`` to the task's ``context.wait(key)`` — now, or whenever it waits.

        The signal is stored first, so it reaches the task from any process, and after a
        restart; a signal consumed by an attempt that did not finish is given to the next.

        Raises:
            TaskNotFound: there is no such task.
            TaskConflict: the task has finished (nothing would ever take the signal).
            DefinitionError: ``data`` cannot be stored as JSON.
        """
        problem = json_problem(data, "data")
        if problem is not None:
            raise DefinitionError(f"notify {key!r}: {problem}")
        task = await self.task_repository.require_task(task_id)
        if task.is_terminal:
            raise TaskConflict(task_id, f"it has {task.status.value}; nothing waits for {key!r}")
        signal_id = await self.storage.signals.put(task.tree_id, task_id, NOTIFY, key, data)
        run = self.runs.get(task.tree_id)
        if run is not None:
            run.on_signal(Signal(signal_id, task.tree_id, task_id, NOTIFY, key, data))

    async def get_state(self, task_id: str) -> Task:
        """The task as it stands now (from memory when it runs here)."""
        for run in self.runs:
            node = run.graph.nodes.get(task_id)
            if node is not None:
                return node.task
        return await self.task_repository.require_task(task_id)

    async def get_tree(self, tree_id: str) -> TaskTree:
        """The tree's record: its status rolled up from all its tasks, its owner, its lease."""
        run = self.runs.get(tree_id)
        if run is not None:
            return run.tree
        return await self.task_repository.require_tree(tree_id)

    def running_tasks(self) -> list[Task]:
        """Tasks running in this manager right now."""
        return [node.task for run in self.runs for node in run.dispatch.running_nodes()]

    @property
    def active_trees(self) -> list[str]:
        """The ids of the trees this manager runs."""
        return self.runs.ids()

    async def stop_all(self, *, grace: float = 0.0) -> int:
        """Stop every tree this manager runs, leaving them resumable; return how many
        attempts were running.

        Nothing new starts; attempts running get ``grace`` seconds to end by themselves, then
        they are stopped and their tasks put back to ``pending`` (attempt history kept); every
        change is committed; the leases are released so that `resume` (here or in another
        process), or a worker, finishes the trees.
        """
        return await self.runs.stop_all(grace)

    def subscribe(self, tree_id: str | None = None, *, after: int = 0) -> AsyncIterator[TaskEvent]:
        """Events as an async iterator: of one tree (from the stored log after ``after``,
        ending when every task of the tree is terminal), or of every tree run in this process."""
        if tree_id is None:
            return follow_all(self.events)
        return follow_tree(
            self.storage, self.events, tree_id, after=after, poll_seconds=self.settings.poll_seconds
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
        await self.runs.close()
        await self.slots.close()
        await self.backend.close()
        await self.task_repository.close()
