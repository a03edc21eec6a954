"""`TreeRun`: drives one tree from its ready tasks to every task terminal.

One loop; one transaction per batch: the finished tasks, the cancellations they cause, the
claims on the next ready tasks, the tree's own state and the events describing all of it are
written together, conditional on the run's lease — then (and only then) the claimed tasks are
handed to the backend and the events are published. While a batch commits, the loop goes on
processing outcomes into the next one. Readiness is worked out in memory by `RunGraph`; the
hot path writes the database and never polls it. What happens to a task once an attempt ends
is `taskflow.engine.decide`; handing attempts to the backend and hearing back is
`taskflow.engine.dispatch`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from taskflow.engine.admission import Admission
from taskflow.engine.batch import WritePipeline
from taskflow.engine.changes import Changes
from taskflow.engine.context import Mode, RunContext
from taskflow.engine.decide import CancelRequest, Decision
from taskflow.engine.dispatch import Dispatch
from taskflow.engine.graph import Node, RunGraph, rolled_up
from taskflow.engine.hooks import TerminalCallback
from taskflow.engine.judge import judge
from taskflow.engine.ready import ReadyQueue
from taskflow.engine.recover import apply_resets, left_running, recover
from taskflow.engine.running import Running
from taskflow.engine.timers import Timers
from taskflow.events import EventType, TaskEvent
from taskflow.exceptions import InvalidTransition, LeaseLost, StorageError, TaskflowError
from taskflow.executors import Outcome
from taskflow.models import ErrorType, TaskStatus, TaskTree
from taskflow.storage import LeaseClaim, Signal, SignalUse, TreeQuery, TreeState

logger = logging.getLogger("taskflow.engine")

S = TaskStatus
DEADLINE_REASON = "the tree's deadline passed"


class TreeRun:
    """The run of one tree by one manager, which holds the tree's lease (``claim``)."""

    def __init__(
        self,
        graph: RunGraph,
        tree: TaskTree,
        claim: LeaseClaim,
        context: RunContext,
        *,
        mode: Mode = Mode.RUN,
        resets: Mapping[str, TaskStatus] | None = None,
    ) -> None:
        self.graph = graph
        self.resets = dict(resets or {})
        self.tree = tree
        self.claim = claim
        self.context = context
        self.mode = mode
        self.on_terminal: list[TerminalCallback] = []
        self.stopping = mode is Mode.SETTLE
        self.failure: TaskflowError | None = None  # a lost lease or database: the run is given up
        self.timers = Timers()
        self._wakeup = asyncio.Event()
        self.batch = WritePipeline(
            context.storage,
            tree.id,
            claim,
            self._wakeup.set,
            seq=0,
            retry_seconds=context.settings.commit_retry_seconds,
        )
        self.changes = Changes(graph, self.batch, context.settings.max_log_bytes)
        self.dispatch = Dispatch(self)
        self.admission = Admission(context, self._admitted)
        self._ready = ReadyQueue()
        self._outcomes: collections.deque[tuple[Running, Outcome]] = collections.deque()
        self._seen_signals: set[int] = set()
        self._naming: asyncio.Task[None] | None = None
        # Cancels that arrive while the run starts up (it reads the last event number, and
        # recovers): applied once it has, so that their events are numbered after the stored.
        self._early: list[tuple[Node, str, str]] | None = []

    @property
    def tree_id(self) -> str:
        """The tree's id."""
        return self.tree.id

    @property
    def now(self) -> datetime:
        """The time of the change being made."""
        return self.changes.now

    def wake(self) -> None:
        """Make the loop look at its state again."""
        self._wakeup.set()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until every task is terminal, or until `stop` leaves the tree resumable.

        Raises:
            LeaseLost: another manager took the tree over (this one wrote nothing more).
            StorageError: the database kept failing; the tree is left resumable.
        """
        self.batch.seq = await self.context.storage.events.last_seq(self.tree_id)
        now, graph = self.now, self.graph
        apply_resets(graph, self.resets, self.batch, now)
        running = left_running(graph) if self.mode is Mode.RUN else []
        followed = await self.dispatch.reattach(running)
        changes, registry = self.changes, self.context.registry
        recover(
            graph, changes=changes, batch=self.batch, registry=registry, followed=followed, now=now
        )
        if self.mode is Mode.RUN:
            self._arm_deadline()
            self._examine(self.graph)
        for signal in await self.context.storage.signals.pending([self.tree_id]):
            self.on_signal(signal)
        early, self._early = self._early or [], None
        for node, reason, error_type in early:
            self.cancel(node, reason, error_type)
        unwatch = self.context.slots.watch(self._on_slot)
        try:
            await self._loop()
        finally:
            unwatch()
            self.timers.cancel_all()
            self.admission.close({node.id for node in self.dispatch.running_nodes()})
            self.dispatch.close()
            if self.failure is not None:
                self.batch.abandon()
        if self._naming is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._naming, 2.0)
        if self.failure is not None:
            raise self.failure

    async def _loop(self) -> None:
        while True:
            if not self.stopping:
                self.batch.claimed.extend(self._claim())
            if not self.batch.writing and self.failure is None:
                self.changes.write_group_progress()
                if self.batch.pending:
                    self._begin()
            busy = self.dispatch.busy or self.batch.pending or self.batch.writing
            waiting = self._ready.waiting or self.timers.pending_retries() or self.admission.pending
            if not busy and (self.stopping or not waiting):
                break
            await self._wait()
        if self.failure is not None:
            return
        if not self.stopping:
            self._sweep()
        self.changes.write_group_progress(final=True)
        await self._flush(final=True)

    def _begin(self, *, final: bool = False) -> None:
        self.changes.batch_began()
        self.batch.begin(self._tree_state(final=final))

    async def _flush(self, *, final: bool) -> None:
        self.changes.batch_began()
        try:
            self._committed(*await self.batch.flush(self._tree_state(final=final)))
        except (LeaseLost, InvalidTransition, StorageError) as exc:
            self._give_up(exc)

    async def _wait(self) -> None:
        if not self._outcomes and not self.batch.written:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.batch.written:
            try:
                self._committed(*await self.batch.end())
            except (LeaseLost, InvalidTransition, StorageError) as exc:
                self._give_up(exc)
        self.changes.tick()
        while self._outcomes:
            running, outcome = self._outcomes.popleft()
            self._outcome(running, outcome)

    def _tree_state(self, *, final: bool) -> TreeState:
        """The tree record as this batch leaves it (the lease renewed, or let go at the end)."""
        lease_seconds = self.context.settings.lease_seconds
        started = self.mode is Mode.RUN
        self.tree, state = self.changes.tree_state(
            self.tree, started=started, final=final, lease_seconds=lease_seconds
        )
        return state

    # -- giving up ------------------------------------------------------------------------------

    def _give_up(self, exc: LeaseLost | InvalidTransition | StorageError) -> None:
        """The lease or the database is lost: stop every attempt, write nothing more."""
        if self.failure is not None:
            return
        logger.error("tree %s: %s; stopping its attempts", self.tree_id, exc)
        self.failure = exc
        self.stopping = True
        self._ready.clear()
        self.timers.cancel_all()
        self.batch.abandon()
        self.dispatch.stop_all("the manager lost the tree")

    def lease_lost(self) -> None:
        """The lease keeper found the lease gone: stop at once, then name the new owner."""
        self._give_up(LeaseLost(self.tree_id, None))
        self._naming = asyncio.ensure_future(self._name_new_owner())
        self.wake()

    async def _name_new_owner(self) -> None:
        with contextlib.suppress(Exception):
            found = await self.context.storage.select_trees(TreeQuery(ids=[self.tree_id]))
            if found:
                self.failure = LeaseLost(self.tree_id, found[0].lease.owner)

    # -- readiness ----------------------------------------------------------------------------

    def _examine(self, nodes: Iterable[Node]) -> None:
        """Queue, open, complete or cancel whatever ``nodes`` (and what follows) now allow."""
        queue = collections.deque(nodes)  # first in, first examined: ready order is FIFO
        while queue:
            node = queue.popleft()
            if self.graph.doomed(node):
                upstream = node.failed_requirement
                assert upstream is not None
                reason = f"required dependency {upstream.key!r} ended {upstream.status.value}"
                queue.extend(self._cancel(node, reason, ErrorType.DEPENDENCY_FAILED))
            elif self.graph.startable(node) and not self.stopping:
                if node.is_group:
                    self.changes.open(node)
                    queue.append(node)
                elif node.retry_at is not None and node.retry_at > self.now:
                    self._arm_retry(node)
                else:
                    self._ready.push(node)
            elif (
                node.is_group
                and node.opened
                and node.unfinished_children == 0
                and node.status is S.IN_PROGRESS
            ):
                queue.extend(self._close_group(node))

    def _close_group(self, node: Node) -> list[Node]:
        status, error = rolled_up(node.children)
        error_type = None if error is None else ErrorType.CHILDREN_FAILED
        self.changes.finish(node, Decision(status=status, error=error, error_type=error_type))
        return self.graph.finished(node)

    def _on_slot(self, executor_id: str) -> None:
        self._ready.unblock(executor_id)
        self._wakeup.set()

    def _claim(self) -> list[Node]:
        claimed: list[Node] = []
        slots, limit = self.context.slots, self.tree.concurrency
        while self._ready and slots.has_room:
            if limit is not None and self.dispatch.holding >= limit:
                break
            entry = self._ready.pop()
            node = entry[2]
            if not self.graph.startable(node):
                self.context.slots.release_permit(node.id)  # cancelled while it waited
                continue
            if self.admission.holds(node):
                continue  # held back by a rate limit, or waiting for its permit
            executor_id = node.base.executor
            assert executor_id is not None
            if not slots.try_acquire(executor_id):
                self._ready.block(executor_id, entry)
                continue
            self.changes.claim(node)
            self.dispatch.claimed(node)
            claimed.append(node)
        return claimed

    def _admitted(self, node: Node) -> None:
        """A task held back by a rate limit may start now."""
        self._ready.push(node)
        self._wakeup.set()

    def slot_freed(self) -> None:
        """A task of this tree gave its slot back (ended or parked): look for more work."""
        if self._ready.waiting:
            self._wakeup.set()

    # -- outcomes -------------------------------------------------------------------------------

    def outcome(self, running: Running, outcome: Outcome) -> None:
        """An attempt ended (called by `Dispatch`)."""
        self._outcomes.append((running, outcome))
        self._wakeup.set()

    def _outcome(self, running: Running, outcome: Outcome) -> None:
        node = running.node
        self.dispatch.judged(running)
        if self.failure is not None:
            return  # the tree is given up: nothing more is written
        decision = judge(
            node,
            outcome,
            registry=self.context.registry,
            now=self.now,
            cancel=running.cancel,
            stopping=self.stopping,
            max_result_bytes=self.context.settings.max_result_bytes,
        )
        if decision.status is S.PENDING:
            event = EventType.RETRYING if decision.retry_at is not None else EventType.RESUMED
            self.changes.requeue(node, decision, event)
            if decision.retry_at is not None:
                self._arm_retry(node)
            return
        if decision.message:
            running.message = decision.message
        self.changes.finish(node, decision)
        self.dispatch.ended(node, decision.message)
        self._examine(self.graph.finished(node))

    # -- cancellation ---------------------------------------------------------------------------

    def cancel(self, node: Node, reason: str, error_type: str = ErrorType.CANCELLED) -> None:
        """Cancel a task and its subtree; running ones are asked to stop (then forced)."""
        if self._early is not None:  # starting up: once it has
            self._early.append((node, reason, error_type))
            return
        self.changes.tick()
        self._examine(self._cancel(node, reason, error_type))
        self._wakeup.set()

    def _cancel(self, node: Node, reason: str, error_type: str) -> list[Node]:
        affected: list[Node] = []
        for victim in [node, *self.graph.subtree(node)]:
            why = reason if victim is node else f"parent {node.key!r} was cancelled: {reason}"
            if self.dispatch.is_running(victim):
                self.dispatch.request_stop(victim, CancelRequest(why, error_type))
            elif not victim.is_terminal:
                self.timers.cancel(victim.id)
                self.admission.drop(victim)
                self.changes.cancel_pending(victim, why, error_type)
                affected.extend(self.graph.finished(victim))
        return affected

    def on_signal(self, signal: Signal) -> None:
        """A request stored for one of this tree's tasks (from this process or another)."""
        if signal.id in self._seen_signals or self.failure is not None:
            return
        node = self.graph.nodes.get(signal.task_id)
        if signal.kind == "cancel":
            self._seen_signals.add(signal.id)
            self.batch.signals.append(SignalUse(signal.id, None))
            if node is not None and not node.is_terminal:
                self.cancel(node, signal.key or "cancelled")
            self._wakeup.set()
        elif node is not None and self.dispatch.deliver(node, signal):
            self._seen_signals.add(signal.id)

    def drain(self) -> None:
        """Start nothing new; let running attempts end; then leave the tree resumable."""
        self.stopping = True
        self._wakeup.set()

    def stop(self) -> None:
        """Stop: start nothing new, stop running attempts, leave the tree resumable."""
        self.stopping = True
        self.dispatch.stop_all("the manager stopped")
        self._wakeup.set()

    # -- retries, deadlines -----------------------------------------------------------

    def _arm_retry(self, node: Node) -> None:
        assert node.retry_at is not None
        self.timers.at(node.id, node.retry_at, lambda: self._retry_due(node))

    def _retry_due(self, node: Node) -> None:
        self.changes.tick()
        if self.graph.startable(node) and not self.stopping:
            self._ready.push(node)
        self._wakeup.set()

    def _arm_deadline(self) -> None:
        root, deadline = self.graph.root, self.tree.deadline_at
        if deadline is None or self.graph.all_terminal:
            return
        if deadline <= self.now:  # started too late: nothing may start
            self._examine(self._cancel(root, DEADLINE_REASON, ErrorType.DEADLINE_EXCEEDED))
            return

        def expired() -> None:
            self.cancel(root, DEADLINE_REASON, ErrorType.DEADLINE_EXCEEDED)

        self.timers.at("deadline", deadline, expired)

    # -- committing -----------------------------------------------------------------------------

    def _committed(self, events: list[TaskEvent], claimed: list[Node]) -> None:
        """A batch committed: start its claimed tasks, publish its events, call back."""
        self.dispatch.submit(claimed)
        bus, hooks = self.context.bus, self.context.hooks
        listening = bus.has_subscribers
        calling_back = bool(hooks.post or self.on_terminal)
        if not (listening or calling_back):
            return
        for event in events:
            if listening:
                bus.publish(event)
            if calling_back and event.type.is_terminal:
                node = self.graph.nodes[event.task_id]
                hooks.after(node.task, self.on_terminal, self.dispatch.message_of(node))

    def _sweep(self) -> None:
        """Safety net: nothing may stay unfinished when the loop ends."""
        for node in self.graph:
            if not node.is_terminal:
                logger.error("task %s was left %s; cancelling it", node.key, node.status.value)
                self.changes.cancel_pending(
                    node, "left unfinished by the scheduler", ErrorType.SCHEDULER
                )
