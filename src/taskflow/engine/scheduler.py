"""`TreeRun`: drives one tree from its ready tasks to every task terminal.

One loop; one transaction per batch: the finished tasks, the cancellations they cause, the
claims on the next ready tasks and the events describing all of it are written together, then
(and only then) the claimed tasks are handed to the backend and the events are published.
While a batch commits, the loop goes on processing outcomes into the next one. Readiness is
worked out in memory by `RunGraph`; the hot path writes the database and never polls it.
Slots come from the manager's `Capacity`, shared by all the trees it runs.

Cancellation, retries, deadlines and recovery of interrupted tasks live here too, because
they are all decisions about which status a task goes to next (`taskflow.engine.control`
holds what a running executor asks of the engine, and the periodic upkeep).
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

from taskflow.backends import FORCED_STOP, ExecutionBackend, TaskRun
from taskflow.engine.attempts import attempt_record, recovery, retry_delay
from taskflow.engine.batch import WritePipeline
from taskflow.engine.capacity import Capacity
from taskflow.engine.control import Upkeep
from taskflow.engine.graph import Node, RunGraph, rolled_up
from taskflow.engine.hooks import Hooks, TerminalCallback
from taskflow.engine.settings import EngineSettings
from taskflow.engine.timers import Timers
from taskflow.events import EventBus, EventType, TaskEvent
from taskflow.executors import ExecutionContext, ExecutorRegistry, Outcome
from taskflow.models import TaskStatus, check_transition, utcnow
from taskflow.references import ReferenceResolutionError, resolve
from taskflow.storage import TaskRepository

logger = logging.getLogger("taskflow.engine")

S = TaskStatus
_EVENT_OF = {
    S.IN_PROGRESS: EventType.STARTED,
    S.COMPLETED: EventType.COMPLETED,
    S.FAILED: EventType.FAILED,
    S.CANCELLED: EventType.CANCELLED,
    S.PENDING: EventType.RETRYING,
}
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
DEADLINE_REASON = "the tree's deadline passed"
GROUP_PROGRESS_SECONDS = 0.2  # a group's rolled-up progress is written at most this often
Entry = tuple[int, int, Node]


class TreeRun:
    """The run of one tree by one manager (which holds the tree's lease)."""

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
        hooks: Hooks,
    ) -> None:
        self.graph = graph
        self.repository = repository
        self.registry = registry
        self.backend = backend
        self.settings = settings
        self.capacity = capacity
        self.bus = bus
        self.owner = owner
        self.hooks = hooks
        self.on_terminal: list[TerminalCallback] = []
        self.running: dict[str, tuple[Node, ExecutionContext]] = {}
        self.holding: set[str] = set()  # running tasks that hold a slot (parked ones do not)
        self.stopping = False
        self.upkeep = Upkeep(self)
        self._ready: list[Entry] = []
        self._blocked: dict[str, list[Entry]] = collections.defaultdict(list)
        self._order = itertools.count()
        self.timers = Timers()
        self._starting: set[asyncio.Future[None]] = set()  # runs waiting for their pre-hooks
        self._outcomes: collections.deque[tuple[TaskRun, Outcome]] = collections.deque()
        self._wakeup = asyncio.Event()
        self.batch = WritePipeline(repository, graph.root.task.tree_id, self._wakeup.set)
        self._messages: dict[str, str] = {}
        self._cancel_types: dict[str, str] = {}  # why running tasks are being cancelled
        self._groups_moved: set[Node] = set()  # groups whose progress changed since the last write
        self._groups_written = 0.0
        self._groups_due = False
        self._now = utcnow()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until every task is terminal, or until `stop` leaves the tree resumable."""
        self.batch.seq = await self.repository.events.last_seq(self.graph.root.task.tree_id)
        self._recover()
        self._arm_deadline()
        self._examine(self.graph)
        unwatch = self.capacity.watch(self._on_capacity)
        upkeep = asyncio.create_task(self.upkeep.run(), name="taskflow:upkeep")
        try:
            await self._loop()
        finally:
            upkeep.cancel()
            unwatch()
            self.timers.cancel_all()
            self.batch.abandon()

    async def cancel_idle(self, task_id: str, reason: str) -> None:
        """Cancel in a tree that nobody runs: write the cancellation and start nothing."""
        self.batch.seq = await self.repository.events.last_seq(self.graph.root.task.tree_id)
        node = self.graph.nodes[task_id]
        self.update(node, cancel_requested=None)
        self.cancel(node, reason)
        if self.batch.pending:
            self._committed(*await self.batch.flush())

    async def _loop(self) -> None:
        while True:
            if not self.stopping:
                self.batch.claimed.extend(self._claim())
            if not self.batch.writing:
                self._record_group_progress()
                if self.batch.pending:
                    self.batch.begin()
            busy = self.running or self.batch.pending or self.batch.writing
            waiting = self._ready or self.timers.pending_retries() or any(self._blocked.values())
            if not busy and (self.stopping or not waiting):
                break
            await self._wait()
        if not self.stopping:
            self._sweep()
        self._record_group_progress(final=True)
        if self.batch.pending:
            self._committed(*await self.batch.flush())

    async def _wait(self) -> None:
        if not self._outcomes and not self.batch.written:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.batch.written:
            self._committed(*await self.batch.end())
        self._now = utcnow()
        while self._outcomes:
            run, outcome = self._outcomes.popleft()
            self._finish_run(run, outcome)

    def wake(self) -> None:
        """Make the loop look at its state again."""
        self._wakeup.set()

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
        queue = collections.deque(nodes)  # first in, first examined: ready order is FIFO
        while queue:
            node = queue.popleft()
            if self.graph.doomed(node):
                upstream = node.failed_requirement
                assert upstream is not None
                reason = (
                    f"required dependency {upstream.task.key!r} ended {upstream.task.status.value}"
                )
                queue.extend(self._cancel(node, reason, "DependencyFailed"))
            elif self.graph.startable(node) and not self.stopping:
                if node.is_group:
                    self._transition(node, S.IN_PROGRESS, started_at=self._now)
                    node.opened = True
                    queue.append(node)
                elif node.task.retry_at is not None and node.task.retry_at > self._now:
                    self._arm_retry(node)
                else:
                    heapq.heappush(self._ready, (node.task.priority, next(self._order), node))
            elif (
                node.is_group
                and node.opened
                and node.unfinished_children == 0
                and node.task.status is S.IN_PROGRESS
            ):
                queue.extend(self._close_group(node))

    def _close_group(self, node: Node) -> list[Node]:
        status, error = rolled_up(node.children)
        result = {child.task.key: child.task.result for child in node.children}
        error_type = None if error is None else "ChildrenFailed"
        self._transition(
            node,
            status,
            _NO_LEASE,
            result=result,
            error=error,
            error_type=error_type,
            completed_at=self._now,
            progress=1.0,
        )
        return self.graph.finished(node)

    def cancel(self, node: Node, reason: str, error_type: str = "Cancelled") -> None:
        """Cancel a task and its subtree; running ones are asked to stop (then forced)."""
        self._examine(self._cancel(node, reason, error_type))
        self._wakeup.set()

    def _cancel(self, node: Node, reason: str, error_type: str) -> list[Node]:
        affected: list[Node] = []
        for victim in [node, *self.graph.subtree(node)]:
            why = reason if victim is node else f"parent {node.task.key!r} was cancelled: {reason}"
            if victim.task.id in self.running:
                self.request_stop(victim, why, error_type)
            elif not victim.task.is_terminal:
                self.timers.cancel(victim.task.id)
                self._transition(
                    victim,
                    S.CANCELLED,
                    _NO_LEASE,
                    error=why,
                    error_type=error_type,
                    completed_at=self._now,
                    cancel_requested=None,
                )
                affected.extend(self.graph.finished(victim))
        return affected

    def request_stop(self, node: Node, reason: str, error_type: str = "Cancelled") -> None:
        """Ask a running task to stop (flag, then its ``cancel()``); force it after the grace."""
        entry = self.running.get(node.task.id)
        if entry is None or entry[1].is_cancelled:
            return
        logger.info("cancelling %s: %s", node.task.key, reason)
        context = entry[1]
        context.cancel_reason = reason
        self._cancel_types[node.task.id] = error_type
        assert context.cancel_requested is not None
        context.cancel_requested.set()
        self.upkeep.wake_parked(node.task.id)
        self.backend.request_stop(node.task.id)
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.cancel_grace_seconds, self.backend.kill, node.task.id)

    # -- retries, deadlines, recovery -----------------------------------------------------------

    def _arm_retry(self, node: Node) -> None:
        assert node.task.retry_at is not None
        self.timers.at(node.task.id, node.task.retry_at, lambda: self._retry_due(node))

    def _retry_due(self, node: Node) -> None:
        if self.graph.startable(node):
            heapq.heappush(self._ready, (node.task.priority, next(self._order), node))
        self._wakeup.set()

    def _arm_deadline(self) -> None:
        root = self.graph.root
        deadline = root.task.deadline_at
        if deadline is None or root.task.is_terminal:
            return
        if deadline <= self._now:  # started too late: nothing may start
            self._examine(self._cancel(root, DEADLINE_REASON, "DeadlineExceeded"))
            return

        def expired() -> None:
            self.cancel(root, DEADLINE_REASON, "DeadlineExceeded")

        self.timers.at("deadline", deadline, expired)

    def _recover(self) -> None:
        """Tasks left running by a manager that died: run again, or fail if not safe to."""
        for node in self.graph:
            if node.is_group or node.task.status is not S.IN_PROGRESS:
                continue
            target, values = recovery(
                node.task, self.registry.get(node.task.executor or ""), self._now
            )
            event = EventType.RESUMED if target is S.PENDING else None
            self._transition(node, target, _NO_LEASE, event=event, **values)
            if target.is_terminal:
                self.graph.finished(node)  # its dependents and parent are examined next

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
                S.IN_PROGRESS,
                lease,
                started_at=self._now,
                attempt=node.task.attempt + 1,
                retry_at=None,
            )
            self.running[node.task.id] = (node, self._context(node))
            self.holding.add(node.task.id)
            claimed.append(node)
        return claimed

    def _context(self, node: Node) -> ExecutionContext:
        task = node.task
        soft = task.soft_timeout
        return ExecutionContext(
            task_id=task.id,
            tree_id=task.tree_id,
            key=task.key,
            user_id=task.user_id,
            attempt=task.attempt,
            dependency_results=self.graph.dependency_results(node),
            cancel_requested=asyncio.Event(),
            control=self.upkeep,
            soft_deadline=None if soft is None else asyncio.get_running_loop().time() + soft,
        )

    def _submit(self, nodes: list[Node]) -> None:
        for node in nodes:
            task = node.task
            info = self.registry.get(task.executor or "")
            assert info is not None  # checked before the tree started
            context = self.running[task.id][1]
            try:
                inputs = (
                    resolve(task.inputs, self.graph.lookup) if node.has_references else task.inputs
                )
            except ReferenceResolutionError as exc:
                self._on_done(TaskRun(task, info, {}, context), Outcome.failure(exc))
                continue
            run = TaskRun(task, info, inputs, context, task.timeout or info.cls.timeout)
            if self.hooks.pre:
                starting = asyncio.ensure_future(self._submit_after_hooks(run))
                self._starting.add(starting)
                starting.add_done_callback(self._starting.discard)
            else:
                self.backend.submit(run, self._on_done)

    async def _submit_after_hooks(self, run: TaskRun) -> None:
        run.inputs = await self.hooks.before(run.task, run.inputs)
        self.backend.submit(run, self._on_done)

    def _finish_run(self, run: TaskRun, outcome: Outcome) -> None:
        entry = self.running.pop(run.task.id, None)
        if entry is None:
            return
        node, context = entry
        if run.task.id in self.holding:
            self.holding.discard(run.task.id)
            self.capacity.release(node.task.executor or "")
        if self.stopping and not context.is_cancelled:  # stop_all: leave it resumable
            record = attempt_record(
                node.task, "stopped", "the manager stopped", "Stopped", self._now
            )
            attempts = (*node.task.attempts, record)
            self._transition(node, S.PENDING, _NO_LEASE, event=EventType.RESUMED, attempts=attempts)
            return
        status, error, error_type = outcome.status, outcome.error, outcome.error_type
        if context.is_cancelled and status is not S.FAILED:
            forced = " (stopped by force)" if error == FORCED_STOP else ""
            error_type = self._cancel_types.pop(node.task.id, "Cancelled")
            status, error = S.CANCELLED, f"{context.cancel_reason}{forced}"
        delay = None
        if status is S.FAILED and not context.is_cancelled:
            delay = retry_delay(node.task, self.registry.get(node.task.executor or ""), outcome)
        common: dict[str, Any] = {
            "error": error,
            "error_type": error_type,
            "traceback": outcome.traceback,
        }
        if (
            status is not S.COMPLETED or node.task.attempts
        ):  # a clean first success needs no history
            state = "retrying" if delay is not None else status.value
            record = attempt_record(node.task, state, error, error_type, self._now)
            common["attempts"] = (*node.task.attempts, record)
        if delay is not None:
            retry_at = self._now + timedelta(seconds=delay)
            self._transition(node, S.PENDING, _NO_LEASE, retry_at=retry_at, **common)
            self._arm_retry(node)
            return
        if outcome.message:
            self._messages[node.task.id] = outcome.message
        progress = 1.0 if status is S.COMPLETED else node.task.progress
        self._transition(
            node,
            status,
            _NO_LEASE,
            result=outcome.result,
            completed_at=self._now,
            progress=progress,
            **common,
        )
        self._examine(self.graph.finished(node))

    # -- writing ------------------------------------------------------------------------------

    def _transition(
        self,
        node: Node,
        target: TaskStatus,
        lease: dict[str, Any] | None = None,
        *,
        event: EventType | None = None,
        **values: Any,
    ) -> None:
        """Change a node's status in memory; queue the write and its event (merged per batch)."""
        check_transition(node.task.id, node.task.status, target)
        values["status"] = target
        before = node.effective_progress
        self._record(node, values, lease)
        if node.effective_progress != before:
            self._roll_up(node, before)
        data: dict[str, Any] = {
            "key": node.task.key,
            "status": target.value,
            "attempt": node.task.attempt,
        }
        if values.get("error"):
            data["error"] = values["error"]
        if values.get("retry_at") is not None:
            data["retry_at"] = values["retry_at"].isoformat()
        self.emit(node, event or _EVENT_OF[target], data)

    def update(self, node: Node, **values: Any) -> None:
        """Change fields of a node without changing its status (progress, cancel requests)."""
        before = node.effective_progress
        self._record(node, values, None)
        if "progress" in values:
            self._roll_up(node, before)

    def _roll_up(self, node: Node, before: float) -> None:
        """Update the groups above in memory now; record their progress once per batch."""
        for group, progress in self.graph.progress_changed(node, before):
            group.task = group.task.evolve_known({"progress": progress})  # live for get_state
            self._groups_moved.add(group)
        self._wakeup.set()

    def _record_group_progress(self, *, final: bool = False) -> None:
        """Write groups' rolled-up progress, at most every `GROUP_PROGRESS_SECONDS`."""
        if not self._groups_moved:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not final and now - self._groups_written < GROUP_PROGRESS_SECONDS:
            if not self._groups_due:  # come back then, even if nothing else happens
                self._groups_due = True
                loop.call_at(self._groups_written + GROUP_PROGRESS_SECONDS, self._wakeup.set)
            return
        self._groups_due = False
        self._groups_written = now
        moved, self._groups_moved = self._groups_moved, set()
        for group in moved:
            if not group.task.is_terminal:
                self._record(group, {"progress": group.progress_sum / len(group.children)}, None)

    def _record(self, node: Node, values: dict[str, Any], lease: dict[str, Any] | None) -> None:
        self.batch.record(node, values, lease, self._now)

    def emit(self, node: Node, kind: EventType, data: dict[str, Any]) -> None:
        """Queue an event; it is stored with the batch and published once that commits."""
        self.batch.emit(node, kind, data, self._now)

    def touch(self) -> None:
        """Refresh the clock used for timestamps (for changes made outside the loop's turns)."""
        self._now = utcnow()

    def _committed(self, events: list[TaskEvent], claimed: list[Node]) -> None:
        """A batch committed: start its claimed tasks, publish its events, call back."""
        self._submit([node for node in claimed if node.task.id in self.running])
        listening = self.bus.has_subscribers
        calling_back = bool(self.hooks.post or self.on_terminal)
        if not (listening or calling_back):
            return
        for event in events:
            if listening:
                self.bus.publish(event)
            if calling_back and event.type.is_terminal:
                node = self.graph.nodes[event.task_id]
                message = self._messages.pop(event.task_id, None)
                self.hooks.after(node.task, self.on_terminal, message)

    def _sweep(self) -> None:
        """Safety net: nothing may stay unfinished when the loop ends."""
        for node in self.graph:
            if not node.task.is_terminal:
                logger.error(
                    "task %s was left %s; cancelling it", node.task.key, node.task.status.value
                )
                self._transition(
                    node,
                    S.CANCELLED,
                    _NO_LEASE,
                    error="left unfinished by the scheduler",
                    error_type="SchedulerError",
                    completed_at=self._now,
                )
