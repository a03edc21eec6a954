"""`Dispatch`: a tree run's attempts — handed to the backend, heard back from, parked, stopped.

It turns claimed tasks into JSON-serialisable `Attempt` values (references resolved, pre-hooks
run under the attempt's time limit), receives the backend's reports for them, and asks the
backend to stop attempts. A task that waits for a signal is parked and resumed by
`taskflow.engine.waits`. What a finished attempt leads to is the
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
from collections.abc import Coroutine, Mapping
from typing import Any

from taskflow.backends import Attempt
from taskflow.engine.decide import CancelRequest
from taskflow.engine.graph import Node
from taskflow.engine.running import RunHost, Running
from taskflow.engine.waits import Waits
from taskflow.executors import TRUST_PARAM, Outcome
from taskflow.models import ErrorType, TaskStatus
from taskflow.models.values import json_problem
from taskflow.references import ReferenceResolutionError, resolve
from taskflow.storage import Signal

logger = logging.getLogger("taskflow.engine")


class Dispatch:
    """The attempts of one tree run; the `Reports` sink the backend talks to."""

    def __init__(self, host: RunHost) -> None:
        self.host = host
        self._by_node: dict[str, Running] = {}
        self._by_dispatch: dict[str, Running] = {}
        self._messages: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.holding = 0
        self._waits = Waits(self)

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

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a helper of this run's attempts (ended with the run)."""
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
            trust=base.params.get(TRUST_PARAM),
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
            if not self._waits.still_parked(running):
                self.holding += 1
                self.host.context.slots.take(node.base.executor or "", node.id)
            backend.attach(attempt, self, cursor=node.cursor)
        return {found[dispatch_id][0].node.id for dispatch_id in known}

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
            self._waits.reported(running, key, timeout)

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
            self.release(running)
        self.host.outcome(running, outcome)

    def judged(self, running: Running) -> None:
        """The run judged the attempt's outcome: it is over."""
        self._by_node.pop(running.node.id, None)

    def current(self, running: Running) -> bool:
        """Whether ``running`` is still in flight (its outcome has not come back)."""
        return self._by_dispatch.get(running.dispatch_id) is running

    def find(self, node: Node) -> Running | None:
        """The attempt of ``node`` in flight, if any."""
        return self._by_node.get(node.id)

    def release(self, running: Running) -> None:
        """``running`` gives its slot back (it ended, or it is parked)."""
        running.holds_slot = False
        self.holding -= 1
        self.host.context.slots.release(running.node.base.executor or "", running.node.id)
        self.host.slot_freed()

    def retake(self, running: Running) -> None:
        """``running`` holds a slot again (taken by `Waits` when it resumes)."""
        running.holds_slot = True
        self.holding += 1

    def deliver(self, node: Node, signal: Signal) -> bool:
        """A signal for ``node``: resume it if it is parked waiting for it."""
        return self._waits.deliver(node, signal)

    def close(self) -> None:
        """The run ended: drop timers and helper tasks."""
        for running in self._by_node.values():
            if running.wait_timer is not None:
                running.wait_timer.cancel()
        for task in self._tasks:
            task.cancel()


def _queue(params: Mapping[str, Any]) -> str | None:
    """A task's own queue (``queue`` in its tree file, kept in its params)."""
    queue = params.get("queue")
    return queue if isinstance(queue, str) and queue else None


#: The outcome of an attempt stopped before it started (cancelled, or its manager stopped).
_NOT_STARTED = Outcome(
    TaskStatus.CANCELLED, error="stopped before it started", error_type=ErrorType.CANCELLED
)
