"""`TreeRun`: drives one tree from its ready tasks to every task terminal.

One loop; one transaction per batch: the finished tasks, the cancellations they cause and the
claims on the next ready tasks are written together, then (and only then) the claimed tasks are
handed to the backend and the events are published. While a batch commits, the loop goes on
processing outcomes into the next one. Readiness is worked out in memory by `RunGraph`; the
database is written, never polled, on the hot path. Slots come from the manager's `Capacity`,
shared by all the trees it runs.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from taskflow.backends import ExecutionBackend, TaskRun
from taskflow.engine.capacity import Capacity
from taskflow.engine.graph import Node, RunGraph, rolled_up
from taskflow.engine.settings import EngineSettings
from taskflow.events import EventBus, EventType, TaskEvent
from taskflow.executors import ExecutionContext, ExecutorRegistry, Outcome
from taskflow.models import TaskStatus, check_transition, utcnow
from taskflow.references import ReferenceResolutionError, resolve
from taskflow.storage import Change, TaskQuery, TaskRepository

logger = logging.getLogger("taskflow.engine")

_EVENT_OF = {
    TaskStatus.IN_PROGRESS: EventType.STARTED,
    TaskStatus.COMPLETED: EventType.COMPLETED,
    TaskStatus.FAILED: EventType.FAILED,
    TaskStatus.CANCELLED: EventType.CANCELLED,
}
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


class TreeRun:
    """The run of one tree by one manager."""

    def __init__(
        self,
        graph: RunGraph,
        *,
        repository: TaskRepository,
        registry: ExecutorRegistry,
        backend: ExecutionBackend,
        settings: EngineSettings,
        capacity: Capacity,
        bus: EventBus,
        owner: str,
    ) -> None:
        self.graph = graph
        self.repository = repository
        self.registry = registry
        self.backend = backend
        self.settings = settings
        self.capacity = capacity
        self.bus = bus
        self.owner = owner
        self._ready: list[tuple[int, int, Node]] = []
        self._blocked: dict[str, list[tuple[int, int, Node]]] = collections.defaultdict(list)
        self._order = itertools.count()
        self.running: dict[str, tuple[Node, ExecutionContext]] = {}
        self._foreign: set[str] = {
            n.task.id for n in graph if n.task.status is TaskStatus.IN_PROGRESS and not n.is_group
        }  # started by another manager: watched until they finish
        self._outcomes: collections.deque[tuple[TaskRun, Outcome]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._changes: dict[str, Change] = {}
        self._events: list[TaskEvent] = []
        self._claimed: list[Node] = []
        self._write: asyncio.Task[list[str]] | None = None
        self._write_batch: tuple[list[TaskEvent], list[Node]] = ([], [])
        self._now = utcnow()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until every task of the tree is terminal.

        Writes are pipelined: while one batch commits, outcomes keep being processed into
        the next. A claimed task is handed to the backend, and an event published, only once
        the batch holding it has committed.
        """
        self._examine(self.graph)
        unwatch = self.capacity.watch(self._on_capacity)
        try:
            while True:
                self._claimed.extend(self._claim())
                if self._write is None and self._changes:
                    self._begin_write()
                if not (
                    self.running or self._ready or self._changes or self._write or self._foreign
                ):
                    break
                await self._wait()
            self._sweep()
            if self._changes:
                self._begin_write()
                await self._end_write()
        finally:
            unwatch()
            if self._write is not None and not self._write.done():
                self._write.cancel()

    async def _wait(self) -> None:
        write_done = self._write is not None and self._write.done()
        if not self._outcomes and not write_done:
            self._wakeup.clear()
            timeout = self.settings.poll_seconds if self._foreign and self._write is None else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                await self._poll_foreign()
        if self._write is not None and self._write.done():
            await self._end_write()
        self._now = utcnow()
        while self._outcomes:
            run, outcome = self._outcomes.popleft()
            self._finish_run(run, outcome)

    def _on_capacity(self, executor_id: str) -> None:
        blocked = self._blocked.get(executor_id)
        if blocked:
            heapq.heappush(self._ready, heapq.heappop(blocked))
        self._wakeup.set()

    def _on_done(self, run: TaskRun, outcome: Outcome) -> None:
        self._outcomes.append((run, outcome))
        self._wakeup.set()

    # -- readiness ----------------------------------------------------------------------------

    def _examine(self, nodes: Iterable[Node]) -> None:
        """Queue, open, complete or cancel whatever ``nodes`` (and what follows) now allow."""
        stack = collections.deque(nodes)  # first in, first examined: ready order is FIFO
        while stack:
            node = stack.popleft()
            if self.graph.doomed(node):
                upstream = node.failed_requirement
                assert upstream is not None
                reason = (
                    f"required dependency {upstream.task.key!r} ended {upstream.task.status.value}"
                )
                stack.extend(self._cancel(node, reason, "DependencyFailed"))
            elif self.graph.startable(node):
                if node.is_group:
                    self._transition(node, TaskStatus.IN_PROGRESS, started_at=self._now)
                    node.opened = True
                    stack.append(node)
                else:
                    heapq.heappush(self._ready, (node.task.priority, next(self._order), node))
            elif (
                node.is_group
                and node.opened
                and node.unfinished_children == 0
                and node.task.status is TaskStatus.IN_PROGRESS
            ):
                stack.extend(self._close_group(node))

    def _close_group(self, node: Node) -> list[Node]:
        status, error = rolled_up(node.children)
        result = {child.task.key: child.task.result for child in node.children}
        self._transition(
            node,
            status,
            result=result,
            error=error,
            error_type=None if error is None else "ChildrenFailed",
            completed_at=self._now,
            progress=1.0,
        )
        return self.graph.finished(node)

    def _cancel(self, node: Node, reason: str, error_type: str) -> list[Node]:
        """Cancel a pending node and its subtree; return the nodes to re-examine."""
        affected: list[Node] = []
        for victim in [node, *self.graph.subtree(node)]:
            status = victim.task.status
            if status is TaskStatus.PENDING or (
                victim.is_group and status is TaskStatus.IN_PROGRESS
            ):
                why = (
                    reason
                    if victim is node
                    else f"parent {node.task.key!r} was cancelled: {reason}"
                )
                self._transition(
                    victim,
                    TaskStatus.CANCELLED,
                    error=why,
                    error_type=error_type,
                    completed_at=self._now,
                )
                affected.extend(self.graph.finished(victim))
            elif status is TaskStatus.IN_PROGRESS and victim.task.id in self.running:
                self.request_cancel(victim, f"parent {node.task.key!r} was cancelled: {reason}")
        return affected

    def request_cancel(self, node: Node, reason: str) -> None:
        """Ask a running task to stop (its context's flag); stop it by force after the grace."""
        entry = self.running.get(node.task.id)
        if entry is None or entry[1].cancel_requested is None or entry[1].cancel_requested.is_set():
            return
        logger.info("cancelling %s: %s", node.task.key, reason)
        entry[1].cancel_reason = reason
        entry[1].cancel_requested.set()
        asyncio.get_running_loop().call_later(
            self.settings.cancel_grace_seconds, self.backend.cancel, node.task.id
        )

    # -- claiming and submitting ----------------------------------------------------------------

    def _claim(self) -> list[Node]:
        claimed: list[Node] = []
        lease = {
            "lease_owner": self.owner,
            "lease_expires_at": self._now + timedelta(seconds=self.settings.lease_seconds),
        }
        while self._ready and self.capacity.has_room:
            entry = heapq.heappop(self._ready)
            node = entry[2]
            if not self.graph.startable(node):
                continue  # cancelled while it waited
            executor_id = node.task.executor
            assert executor_id is not None
            if not self.capacity.try_acquire(executor_id):
                heapq.heappush(self._blocked[executor_id], entry)
                continue
            self._transition(
                node,
                TaskStatus.IN_PROGRESS,
                lease,
                started_at=self._now,
                attempt=node.task.attempt + 1,
            )
            self.running[node.task.id] = (node, self._context(node))
            claimed.append(node)
        return claimed

    def _context(self, node: Node) -> ExecutionContext:
        task = node.task
        return ExecutionContext(
            task_id=task.id,
            tree_id=task.tree_id,
            key=task.key,
            user_id=task.user_id,
            attempt=task.attempt,
            dependency_results=self.graph.dependency_results(node),
            cancel_requested=asyncio.Event(),
        )

    def _submit(self, nodes: list[Node]) -> None:
        for node in nodes:
            task = node.task
            info = self.registry.get(task.executor or "")
            context = self.running[task.id][1]
            assert info is not None  # checked before the tree started
            try:
                inputs = (
                    resolve(task.inputs, self.graph.lookup) if node.has_references else task.inputs
                )
            except ReferenceResolutionError as exc:
                self._on_done(TaskRun(task, info, {}, context), Outcome.failure(exc))
                continue
            self.backend.submit(TaskRun(task, info, inputs, context), self._on_done)

    def _finish_run(self, run: TaskRun, outcome: Outcome) -> None:
        entry = self.running.pop(run.task.id, None)
        if entry is None:
            return
        node, context = entry
        self.capacity.release(node.task.executor or "")
        status, error, error_type = outcome.status, outcome.error, outcome.error_type
        if context.is_cancelled and status is not TaskStatus.FAILED:
            status, error, error_type = (
                TaskStatus.CANCELLED,
                context.cancel_reason or error or "cancelled",
                error_type or "Cancelled",
            )
        self._transition(
            node,
            status,
            result=outcome.result,
            error=error,
            error_type=error_type,
            traceback=outcome.traceback,
            completed_at=self._now,
            progress=1.0 if status is TaskStatus.COMPLETED else node.task.progress,
        )
        self._examine(self.graph.finished(node))

    # -- writing ------------------------------------------------------------------------------

    def _transition(
        self, node: Node, target: TaskStatus, lease: dict[str, Any] | None = None, **values: Any
    ) -> None:
        """Change a node's status in memory and queue the write (merged per task per turn).

        ``lease`` holds the lease columns, which are written but are not part of `Task`.
        """
        task = node.task
        check_transition(task.id, task.status, target)
        values["status"] = target
        values["updated_at"] = self._now
        node.task = task.evolve(**values)
        written = {**values, **(lease or _NO_LEASE)}
        queued = self._changes.get(task.id)
        if queued is None:
            self._changes[task.id] = Change(task.id, task.status, written)
        else:
            self._changes[task.id] = Change(task.id, queued.expected, {**queued.values, **written})
        if self.bus.has_subscribers:
            self._events.append(
                TaskEvent(_EVENT_OF[target], task.id, task.tree_id, {"key": task.key}, self._now)
            )

    def _begin_write(self) -> None:
        """Start committing the accumulated changes; the loop goes on meanwhile."""
        changes, self._changes = list(self._changes.values()), {}
        self._write_batch = (self._events, self._claimed)
        self._events, self._claimed = [], []
        self._write = asyncio.ensure_future(self.repository.apply(changes))
        self._write.add_done_callback(lambda _: self._wakeup.set())

    async def _end_write(self) -> None:
        """The batch committed: adopt conflicts, start its claimed tasks, publish its events."""
        assert self._write is not None
        write, self._write = self._write, None
        events, claimed = self._write_batch
        conflicts = await write  # a storage error propagates: the tree stops here
        if conflicts:
            await self._reconcile(conflicts)
        self._submit([node for node in claimed if node.task.id in self.running])
        for event in events:
            if event.task_id not in conflicts:
                self.bus.publish(event)

    async def _reconcile(self, conflicts: list[str]) -> None:
        """Another writer moved these tasks first: adopt the database's version of them."""
        logger.warning(
            "%d task(s) were changed by another writer; adopting their state", len(conflicts)
        )
        for task in await self.repository.select(TaskQuery(ids=conflicts)):
            node = self.graph.nodes[task.id]
            was_claimed = self.running.pop(task.id, None) is not None
            if was_claimed:
                self.capacity.release(task.executor or "")
            node.task = task
            if task.status is TaskStatus.IN_PROGRESS:
                self._foreign.add(task.id)
            elif task.is_terminal and was_claimed:
                self._examine(self.graph.finished(node))
            elif task.is_terminal:
                self._adopt_terminal(node)

    def _adopt_terminal(self, node: Node) -> None:
        """We had finished ``node`` in memory one way; the database says another way."""
        for dependent, required in node.dependents:
            if (
                required
                and node.task.status is not TaskStatus.COMPLETED
                and dependent.failed_requirement is None
            ):
                dependent.failed_requirement = node
                if dependent.task.id in self.running:
                    self.running.pop(dependent.task.id)
                    self.capacity.release(dependent.task.executor or "")
                    self._transition(
                        dependent,
                        TaskStatus.CANCELLED,
                        error="required dependency changed",
                        error_type="DependencyFailed",
                        completed_at=self._now,
                    )
                self._examine([dependent])

    async def _poll_foreign(self) -> None:
        """Check on tasks that another process runs."""
        for task in await self.repository.select(TaskQuery(ids=list(self._foreign))):
            if task.is_terminal:
                self._foreign.discard(task.id)
                node = self.graph.nodes[task.id]
                node.task = task
                self._examine(self.graph.finished(node))

    def _sweep(self) -> None:
        """Safety net: nothing may stay unfinished when the loop ends."""
        for node in self.graph:
            if not node.task.is_terminal:
                logger.error(
                    "task %s was left %s; cancelling it", node.task.key, node.task.status.value
                )
                self._transition(
                    node,
                    TaskStatus.CANCELLED,
                    error="left unfinished by the scheduler",
                    error_type="SchedulerError",
                    completed_at=self._now,
                )
