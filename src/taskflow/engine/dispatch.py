"""`Dispatch`: a tree run's attempts — handed to the backend, heard back from, parked, stopped.

It turns claimed tasks into JSON-serialisable `Attempt` values (references resolved, pre-hooks
run under the attempt's time limit), receives the backend's reports for them, parks a task that
waits for a signal (it gives its slot back) and resumes it when the signal comes (it takes a
slot again), and asks the backend to stop attempts. What a finished attempt leads to is the
run's decision (`TreeRun.outcome`).

A backend whose attempts outlive this process also says how far it has read their reports
(`position`): that cursor is queued into the same batch as the events of those reports, so
that a manager taking the tree over follows each attempt from where its events stop — neither
a report twice nor one lost — and a task its predecessor had parked stays parked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from taskflow.backends import Attempt
from taskflow.engine.batch import WritePipeline
from taskflow.engine.changes import Changes
from taskflow.engine.context import RunContext
from taskflow.engine.decide import CancelRequest
from taskflow.engine.graph import Node, RunGraph
from taskflow.executors import Outcome
from taskflow.models import ErrorType, TaskStatus, TaskTree, utcnow
from taskflow.models.values import json_problem
from taskflow.references import ReferenceResolutionError, resolve
from taskflow.storage import Signal, SignalUse

logger = logging.getLogger("taskflow.engine")


class RunHost(Protocol):
    """What `Dispatch` needs of the tree run it serves."""

    context: RunContext
    graph: RunGraph
    changes: Changes
    batch: WritePipeline
    tree: TaskTree

    @property
    def now(self) -> datetime: ...

    def outcome(self, running: Running, outcome: Outcome) -> None: ...

    def slot_freed(self) -> None: ...

    def wake(self) -> None: ...


@dataclasses.dataclass(slots=True, eq=False)
class Running:
    """One attempt of this run, from its claim to its outcome."""

    node: Node
    dispatch_id: str
    submitted: bool = False
    holds_slot: bool = True
    cancel: CancelRequest | None = None
    stopping: bool = False
    wait_key: str | None = None  # parked, waiting for this signal
    wait_timer: asyncio.TimerHandle | None = None
    looking: bool = False  # a reported wait is being looked into (a signal stored for it?)
    held_cursor: str | None = None  # the backend's position, stored once that is done
    starting: asyncio.Task[None] | None = None  # pre-hooks in flight
    ended: bool = False  # its outcome came back, and waits to be judged
    message: str | None = None
    used_signals: set[int] = dataclasses.field(default_factory=set)


class Dispatch:
    """The attempts of one tree run; the `Reports` sink the backend talks to."""

    def __init__(self, host: RunHost) -> None:
        self.host = host
        self._by_node: dict[str, Running] = {}
        self._by_dispatch: dict[str, Running] = {}
        self._messages: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.holding = 0

    @property
    def busy(self) -> bool:
        """Whether any attempt is claimed, running or parked."""
        return bool(self._by_node)

    def is_running(self, node: Node) -> bool:
        """Whether ``node`` has an attempt in flight."""
        return node.id in self._by_node

    def running_nodes(self) -> list[Node]:
        """The tasks with an attempt in flight."""
        return [running.node for running in self._by_node.values() if not running.ended]

    def message_of(self, node: Node) -> str | None:
        """The success or failure message of a task's last attempt (for terminal callbacks)."""
        return self._messages.pop(node.id, None)

    def ended(self, node: Node, message: str | None) -> None:
        """Remember a task's final message until its end is published."""
        if message:
            self._messages[node.id] = message

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- claiming and submitting ----------------------------------------------------------------

    def claimed(self, node: Node) -> None:
        """``node`` was claimed (it holds a slot); it is submitted once the claim commits."""
        running = Running(node, f"{node.id}.{node.attempt}")
        self._by_node[node.id] = running
        self._by_dispatch[running.dispatch_id] = running
        self.holding += 1

    def submit(self, nodes: list[Node]) -> None:
        """Hand the attempts of committed claims to the backend."""
        for node in nodes:
            running = self._by_node.get(node.id)
            if running is None or running.submitted:
                continue
            running.submitted = True
            if running.cancel is not None or running.stopping:
                self.finished(running.dispatch_id, _NOT_STARTED)
                continue
            try:
                attempt = self._attempt(running)
            except ReferenceResolutionError as exc:
                outcome = Outcome.failure(exc, ErrorType.REFERENCE)
                self.finished(running.dispatch_id, outcome)
                continue
            if self.host.context.hooks.pre:
                running.starting = asyncio.ensure_future(self._after_hooks(running, attempt))
            else:
                self.host.context.backend.submit(attempt, self)

    def _attempt(self, running: Running) -> Attempt:
        node, context = running.node, self.host.context
        base = node.base
        info = context.registry.get(base.executor or "")
        inputs = (
            resolve(base.inputs, self.host.graph.lookup) if node.has_references else base.inputs
        )
        return Attempt(
            dispatch_id=running.dispatch_id,
            task_id=base.id,
            tree_id=base.tree_id,
            key=base.key,
            executor=base.executor or "",
            inputs=inputs,
            attempt=node.attempt,
            user_id=base.user_id,
            dependency_results=self.host.graph.dependency_results(node),
            timeout=base.timeout or (info.cls.timeout if info is not None else None),
            soft_timeout=base.soft_timeout,
            cancel_grace=context.settings.cancel_grace_seconds,
            queue=_queue(base.params) or (info.cls.queue if info is not None else None),
        )

    async def reattach(self, nodes: list[Node]) -> set[str]:
        """Follow again the attempts of ``nodes`` (left ``in_progress`` by a manager that
        died) that the backend still runs or has finished elsewhere, instead of running them
        again; the ids of the nodes followed (the others are recovered as usual)."""
        backend = self.host.context.backend
        found: dict[str, tuple[Running, Attempt]] = {}
        for node in nodes:
            running = Running(node, f"{node.id}.{node.attempt}", submitted=True)
            try:
                found[running.dispatch_id] = (running, self._attempt(running))
            except ReferenceResolutionError:
                continue
        if not found:
            return set()
        try:
            known = await backend.attachable([attempt for _, attempt in found.values()])
        except Exception:
            logger.exception("the backend could not say which attempts it runs; they run again")
            return set()
        for dispatch_id in sorted(known):
            running, attempt = found[dispatch_id]
            node = running.node
            logger.info("task %s: following attempt %s again", node.key, dispatch_id)
            self._by_node[node.id] = running
            self._by_dispatch[dispatch_id] = running
            if not self._still_parked(running):
                self.holding += 1
                self.host.context.slots.take(node.base.executor or "", node.id)
            backend.attach(attempt, self, cursor=node.cursor)
        return {found[dispatch_id][0].node.id for dispatch_id in known}

    def _still_parked(self, running: Running) -> bool:
        """Whether a task followed again was parked by its previous manager; if so it stays
        parked: no slot, and what remains of its wait's timeout armed again (the backend,
        reading on from the stored cursor, will not report that wait again)."""
        waiting = running.node.waiting
        key = waiting.get("key") if waiting is not None else None
        if waiting is None or not isinstance(key, str):
            return False
        running.wait_key = key
        running.holds_slot = False
        timeout = waiting.get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool):
            left = float(timeout)
            since = _time(waiting.get("since"))
            if since is not None:
                left -= (utcnow() - since) / timedelta(seconds=1)
            self._arm_wait_timeout(running, max(left, 0.0))
        return True

    async def _after_hooks(self, running: Running, attempt: Attempt) -> None:
        """Pre-hooks may replace the inputs; they run under the attempt's time limit."""
        try:
            async with asyncio.timeout(attempt.timeout):
                inputs = await self.host.context.hooks.before(running.node.task, attempt.inputs)
        except TimeoutError:
            error = f"the pre-execution hooks took longer than the {attempt.timeout:g} s limit"
            outcome = Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.TASK_TIMEOUT)
            self.finished(running.dispatch_id, outcome)
            return
        except asyncio.CancelledError:
            self.finished(running.dispatch_id, _NOT_STARTED)
            return
        finally:
            running.starting = None
        if running.cancel is not None or running.stopping:
            self.finished(running.dispatch_id, _NOT_STARTED)
            return
        self.host.context.backend.submit(dataclasses.replace(attempt, inputs=inputs), self)

    # -- stopping -------------------------------------------------------------------------------

    def request_stop(self, node: Node, cancel: CancelRequest) -> None:
        """Ask a running task to stop (the first reason wins); the backend forces it after the
        grace period."""
        running = self._by_node.get(node.id)
        if running is None or running.cancel is not None:
            return
        logger.info("cancelling %s: %s", node.key, cancel.reason)
        running.cancel = cancel  # an outcome already back but not judged yet ends cancelled
        if not running.ended:
            self._stop(running, cancel.reason, grace=None)

    def stop_all(self, reason: str) -> None:
        """Stop every attempt at once (the manager stops, or lost the tree)."""
        for running in list(self._by_node.values()):
            running.stopping = True
            if not running.ended:
                self._stop(running, reason, grace=0)

    def _stop(self, running: Running, reason: str, *, grace: float | None) -> None:
        if running.starting is not None:
            running.starting.cancel()
        elif running.submitted:
            self.host.context.backend.cancel(running.dispatch_id, reason, grace=grace)
        elif running.stopping:  # claimed, never submitted: nothing to stop
            self.finished(running.dispatch_id, _NOT_STARTED)

    # -- reports from the backend -----------------------------------------------------------

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        """The executor reported progress."""
        running = self._by_dispatch.get(dispatch_id)
        if running is None or not 0.0 <= fraction <= 1.0:
            return
        if message is not None and json_problem(message, "message", max_bytes=4096):
            message = "(a progress message that cannot be stored was dropped)"
        self.host.changes.tick()
        self.host.changes.progress(running.node, fraction, message)

    def log(self, dispatch_id: str, message: str, fields: Mapping[str, Any]) -> None:
        """The executor logged a line (stored as an event, coalesced)."""
        running = self._by_dispatch.get(dispatch_id)
        if running is None:
            return
        text = message if isinstance(message, str) else repr(message)
        if json_problem(text, "message", max_bytes=None):
            text = text.replace("\x00", "\\0").encode("utf-8", "replace").decode()
        safe = {k: v for k, v in fields.items() if isinstance(k, str)}
        if json_problem(safe, "fields", max_bytes=64 * 1024):
            safe = {k: repr(v)[:200] for k, v in safe.items()}
            safe = {k: v.replace("\x00", "\\0") for k, v in safe.items()}
        self.host.changes.tick()
        self.host.changes.log(running.node, text, safe)

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        """The executor waits for a signal: look for one stored, else park the task."""
        running = self._by_dispatch.get(dispatch_id)
        if running is not None:
            running.looking = True
            self._spawn(self._wait(running, key, timeout))

    def position(self, dispatch_id: str, cursor: str) -> None:
        """The backend has reported everything of the attempt before ``cursor``: queued with
        those reports' events, in the same batch. While a wait it reported is being looked
        into, the cursor is held back until the wait is recorded (it must never be stored
        past a wait the task's state does not show)."""
        running = self._by_dispatch.get(dispatch_id)
        if running is None:
            return
        if running.looking:
            running.held_cursor = cursor
            return
        self.host.changes.tick()
        self.host.changes.position(running.node, cursor)

    def finished(self, dispatch_id: str, outcome: Outcome) -> None:
        """The attempt ended: its outcome waits to be judged (the task still counts as
        running until then, so that a cancel meanwhile is taken into account)."""
        running = self._by_dispatch.pop(dispatch_id, None)
        if running is None:
            return
        running.ended = True
        if running.wait_timer is not None:
            running.wait_timer.cancel()
        if running.holds_slot:
            self._release(running)
        self.host.outcome(running, outcome)

    def judged(self, running: Running) -> None:
        """The run judged the attempt's outcome: it is over."""
        self._by_node.pop(running.node.id, None)

    def _release(self, running: Running) -> None:
        running.holds_slot = False
        self.holding -= 1
        self.host.context.slots.release(running.node.base.executor or "", running.node.id)
        self.host.slot_freed()

    # -- waits ----------------------------------------------------------------------------------

    async def _stored_signal(self, running: Running, key: str) -> Signal | None:
        node = running.node
        found = await self.host.context.storage.signals.pending(
            [node.base.tree_id], task_id=node.id, key=key
        )
        return next((s for s in found if s.id not in running.used_signals), None)

    async def _wait(self, running: Running, key: str, timeout: float | None) -> None:
        try:
            signal = await self._stored_signal(running, key)
        except Exception:
            logger.exception("looking for a %r signal for task %s failed", key, running.node.key)
            signal = None
        finally:
            running.looking = False
        if self._by_dispatch.get(running.dispatch_id) is not running:
            return  # it ended meanwhile
        if signal is not None:
            self._hand_over(running, key, signal.data, signal.id)
        else:
            self._park(running, key, timeout)
        cursor, running.held_cursor = running.held_cursor, None
        if cursor is not None:
            self.host.changes.tick()
            self.host.changes.position(running.node, cursor)

    def _park(self, running: Running, key: str, timeout: float | None) -> None:
        running.wait_key = key
        self.host.changes.tick()
        self.host.changes.waiting(running.node, key, timeout)
        if running.holds_slot:
            self._release(running)
        if timeout is not None:
            self._arm_wait_timeout(running, timeout)

    def _arm_wait_timeout(self, running: Running, delay: float) -> None:
        """Resume the parked task with no data (the wait timed out) in ``delay`` seconds."""
        if running.wait_timer is not None:
            running.wait_timer.cancel()
        running.wait_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._resume(running, None, None))
        )

    def deliver(self, node: Node, signal: Signal) -> bool:
        """A signal for ``node``: resume it if it is parked waiting for it."""
        running = self._by_node.get(node.id)
        if running is None or running.wait_key != signal.key or signal.id in running.used_signals:
            return False
        running.used_signals.add(signal.id)
        self._spawn(self._resume(running, signal.data, signal.id))
        return True

    async def _resume(self, running: Running, data: Any, signal_id: int | None) -> None:
        key = running.wait_key
        if key is None:
            return
        running.wait_key = None
        if running.wait_timer is not None:
            running.wait_timer.cancel()
            running.wait_timer = None
        executor = running.node.base.executor or ""
        await self.host.context.slots.acquire(executor, running.node.id)
        if self._by_dispatch.get(running.dispatch_id) is not running:
            # it ended while we waited for a slot
            self.host.context.slots.release(executor, running.node.id)
            return
        running.holds_slot = True
        self.holding += 1
        self.host.changes.tick()
        self.host.changes.resumed(running.node, timed_out=signal_id is None)
        self._hand_over(running, key, data, signal_id)

    def _hand_over(self, running: Running, key: str, data: Any, signal_id: int | None) -> None:
        if signal_id is not None:
            running.used_signals.add(signal_id)
            self.host.batch.signals.append(SignalUse(signal_id, running.node.attempt))
            self.host.wake()
        self.host.context.backend.signal(running.dispatch_id, key, data)

    def close(self) -> None:
        """The run ended: drop timers and helper tasks."""
        for running in self._by_node.values():
            if running.wait_timer is not None:
                running.wait_timer.cancel()
        for task in self._tasks:
            task.cancel()


def _time(value: Any) -> datetime | None:
    """The ``since`` of a stored wait (ISO 8601), or ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _queue(params: Mapping[str, Any]) -> str | None:
    """A task's own queue (``queue`` in its tree file, kept in its params)."""
    queue = params.get("queue")
    return queue if isinstance(queue, str) and queue else None


#: The outcome of an attempt stopped before it started (cancelled, or its manager stopped).
_NOT_STARTED = Outcome(
    TaskStatus.CANCELLED, error="stopped before it started", error_type=ErrorType.CANCELLED
)
