"""The default backend: executors run as asyncio tasks in this process.

Everything that happens while an attempt runs is decided here, in one place: the cooperative
cancel flag and the executor's ``cancel()``, the grace period, the forced stop
(``Task.cancel()``), the hard time limit (a timer, not the coroutine's cooperation) and the soft
one (``context.soft_timed_out``). An attempt whose coroutine ignores even the forced stop (it
swallows `asyncio.CancelledError`) is abandoned `ABANDON_SECONDS` later: it is reported
finished, and its coroutine is left to itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from taskflow.backends.base import ABANDON_SECONDS, FORCED_STOP, Attempt, ExecutionBackend, Reports
from taskflow.executors import (
    ExecutableTask,
    ExecutionContext,
    ExecutorInfo,
    ExecutorRegistry,
    Outcome,
    get_registry,
    invoke,
)
from taskflow.executors.context import reset_context, set_context
from taskflow.executors.trust import tree_trust
from taskflow.models import ErrorType, TaskStatus

logger = logging.getLogger("taskflow.backend")


class _Run:
    """One attempt running here: its task, its context, and what is being done to it."""

    __slots__ = (
        "attempt",
        "cancelling",
        "context",
        "executor",
        "forced",
        "partial",
        "reported",
        "reports",
        "task",
        "timed_out",
        "timers",
        "wait_key",
        "waiter",
    )

    def __init__(self, attempt: Attempt, reports: Reports) -> None:
        self.attempt = attempt
        self.reports = reports
        self.context: ExecutionContext | None = None
        self.task: asyncio.Task[None] | None = None
        self.executor: ExecutableTask | None = None
        self.partial: Mapping[str, Any] | None = None
        self.cancelling: asyncio.Task[None] | None = None
        self.forced = False
        self.timed_out = False
        self.reported = False
        self.timers: list[asyncio.TimerHandle] = []
        self.waiter: asyncio.Future[Any] | None = None
        self.wait_key: str | None = None

    # -- RunControl: what the executor's context reports -------------------------------------

    def report_progress(
        self, context: ExecutionContext, fraction: float, message: str | None
    ) -> None:
        self.reports.progress(self.attempt.dispatch_id, fraction, message)

    def log(self, context: ExecutionContext, message: str, fields: Mapping[str, Any]) -> None:
        self.reports.log(self.attempt.dispatch_id, message, fields)

    async def wait(self, context: ExecutionContext, key: str, timeout: float | None) -> Any:
        if context.is_cancelled:
            return None
        self.waiter = asyncio.get_running_loop().create_future()
        self.wait_key = key
        self.reports.waiting(self.attempt.dispatch_id, key, timeout)
        try:
            return await self.waiter
        finally:
            self.waiter = self.wait_key = None

    def wake(self, data: Any = None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


class LocalBackend(ExecutionBackend):
    """Runs each attempt as an `asyncio.Task` on the running loop.

    Args:
        registry: Where executor ids are looked up (default: the process-wide registry).
    """

    def __init__(self, registry: ExecutorRegistry | None = None) -> None:
        self.registry = registry or get_registry()
        self._runs: dict[str, _Run] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def submit(self, attempt: Attempt, reports: Reports) -> None:
        """Start the attempt as an asyncio task (its hard time limit as a timer)."""
        loop = asyncio.get_running_loop()
        info = self.registry.get(attempt.executor)
        if info is None:
            error = f"executor {attempt.executor!r} is not registered in this process"
            outcome = Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.EXECUTOR)
            loop.call_soon(reports.finished, attempt.dispatch_id, outcome)
            return
        run = self._runs[attempt.dispatch_id] = _Run(attempt, reports)
        soft = attempt.soft_timeout
        run.context = ExecutionContext(
            task_id=attempt.task_id,
            tree_id=attempt.tree_id,
            key=attempt.key,
            user_id=attempt.user_id,
            attempt=attempt.attempt,
            dependency_results=attempt.dependency_results,
            soft_deadline=None if soft is None else loop.time() + soft,
            control=run,
        )
        run.task = loop.create_task(self._drive(run, info), name=f"taskflow:{attempt.key}")
        if attempt.timeout is not None:
            run.timers.append(loop.call_later(attempt.timeout, self._expire, run))

    async def _drive(self, run: _Run, info: ExecutorInfo) -> None:
        try:
            outcome = await self._attempt(run, info)
        except asyncio.CancelledError:
            outcome = self._stopped(run)
        if run.cancelling is not None and not run.cancelling.done():
            # let cancel() hand over its partial result first (it is bounded by the grace)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([run.cancelling], timeout=ABANDON_SECONDS)
        self._finish(run, outcome)

    async def _attempt(self, run: _Run, info: ExecutorInfo) -> Outcome:
        assert run.context is not None
        try:
            run.executor = info.create()
        except Exception as exc:
            return Outcome.failure(exc, ErrorType.EXECUTOR)
        if run.context.is_cancelled:  # cancelled before it started
            self._call_cancel(run)
        if run.attempt.trust is None:
            return await invoke(info, run.attempt.inputs, run.context, run.executor)
        with tree_trust(run.attempt.trust):  # the tree came from others: run it as theirs
            return await invoke(info, run.attempt.inputs, run.context, run.executor)

    def _stopped(self, run: _Run) -> Outcome:
        """The outcome of an attempt whose coroutine was cancelled."""
        if run.timed_out:
            return self._timeout(run)
        if run.forced:
            return Outcome(TaskStatus.CANCELLED, error=FORCED_STOP, error_type=ErrorType.CANCELLED)
        error = "the executor raised asyncio.CancelledError without being cancelled"
        return Outcome(TaskStatus.FAILED, error=error, error_type="CancelledError")

    @staticmethod
    def _timeout(run: _Run) -> Outcome:
        error = f"the attempt took longer than its {run.attempt.timeout:g} s time limit"
        return Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.TASK_TIMEOUT)

    def _finish(self, run: _Run, outcome: Outcome) -> None:
        if run.reported:
            return
        run.reported = True
        for timer in run.timers:
            timer.cancel()
        self._runs.pop(run.attempt.dispatch_id, None)
        if run.timed_out:
            outcome = self._timeout(run)  # the limit wins, whatever the coroutine did after
        if run.partial is not None:
            outcome = dataclasses.replace(outcome, result=run.partial)
        run.reports.finished(run.attempt.dispatch_id, outcome)
        # The attempt is over: let go of what points back at the run (the context's control,
        # the asyncio task), so that it is freed now rather than by a garbage collection.
        run.context = run.executor = run.task = None

    # -- stopping -----------------------------------------------------------------------------

    def _expire(self, run: _Run) -> None:
        """The hard time limit passed: stop the coroutine now."""
        if run.reported:
            return
        run.timed_out = True
        self._force(run)

    def _force(self, run: _Run) -> None:
        if run.reported or run.task is None:
            return
        run.forced = True
        run.task.cancel()
        loop = asyncio.get_running_loop()
        run.timers.append(loop.call_later(ABANDON_SECONDS, self._abandon, run))

    def _abandon(self, run: _Run) -> None:
        if run.reported:
            return
        logger.error(
            "task %s (attempt %d) did not stop %.1f s after it was stopped by force; it is "
            "abandoned (its coroutine ignores cancellation and may still be running)",
            run.attempt.key,
            run.attempt.attempt,
            ABANDON_SECONDS,
        )
        self._finish(run, self._stopped(run))

    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Raise the flag, wake a wait, call ``cancel()``; force it after the grace period."""
        run = self._runs.get(dispatch_id)
        if run is None or run.reported or run.context is None:
            return
        delay = run.attempt.cancel_grace if grace is None else grace
        if delay <= 0:  # at once: no cooperative phase for the executor to answer
            self._force(run)
            return
        first = not run.context.is_cancelled
        run.context.request_cancel(reason)
        run.wake(None)
        if first and run.executor is not None:
            self._call_cancel(run)
        if first:
            run.timers.append(asyncio.get_running_loop().call_later(delay, self._force, run))

    def _call_cancel(self, run: _Run) -> None:
        cancel = getattr(run.executor, "cancel", None)
        if cancel is not None and run.cancelling is None and run.context is not None:
            partial = self._cancelled_partial(run, run.context, cancel)
            run.cancelling = asyncio.ensure_future(partial)

    @staticmethod
    async def _cancelled_partial(run: _Run, context: ExecutionContext, cancel: Any) -> None:
        token = set_context(context)  # cancel() sees the same self.context as execute()
        try:
            partial = await asyncio.wait_for(cancel(), max(run.attempt.cancel_grace, 0.1))
        except Exception:
            logger.exception("cancel() of task %s failed", run.attempt.key)
            return
        finally:
            reset_context(token)
        if isinstance(partial, Mapping):
            run.partial = partial

    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Resume an attempt waiting for ``key``."""
        run = self._runs.get(dispatch_id)
        if run is not None and run.wait_key == key:
            run.wake(data)

    async def close(self) -> None:
        """Stop every attempt by force and wait (boundedly) for them to end."""
        runs = list(self._runs.values())
        for run in runs:
            self._force(run)
        tasks = [run.task for run in runs if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=ABANDON_SECONDS)
        for run in runs:
            self._abandon(run)
