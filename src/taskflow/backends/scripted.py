"""`ScriptedBackend`: the in-memory sibling of the real backends, for testing the engine.

Nothing runs: each attempt ends the way a script says — at once with an outcome, after a
wait for a signal, or when the test says so — so that the engine's decisions (readiness,
retries, cancellation, waits, slots, recovery) are tested without executors, databases or time.
Tasks named ``elsewhere`` stand for attempts that run on other machines: a manager taking their
tree over follows them again (`attach`, from the cursor it stored) instead of running them.

    backend = ScriptedBackend({"flaky": [Outcome(FAILED, error="boom"), DONE], "slow": HOLD})
    ...
    backend.finish("slow", Outcome(TaskStatus.COMPLETED, result={"n": 1}))
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from taskflow.backends.base import FORCED_STOP, Attempt, ExecutionBackend, Reports
from taskflow.backends.permits import Permits
from taskflow.executors import Outcome
from taskflow.models import ErrorType, TaskStatus

#: An attempt that completes with an empty result.
DONE = Outcome(TaskStatus.COMPLETED, result={})


class _Hold:
    def __repr__(self) -> str:
        return "HOLD"


#: An attempt that keeps running until the test calls `ScriptedBackend.finish` (or cancels it).
HOLD = _Hold()


@dataclasses.dataclass(frozen=True, slots=True)
class WaitFor:
    """An attempt that waits for the signal ``key``, then completes with ``{"data": data}``."""

    key: str
    timeout: float | None = None


Step = Outcome | _Hold | WaitFor
Script = Step | Sequence[Step] | Callable[[Attempt], Step]


class ScriptedBackend(ExecutionBackend):
    """Ends attempts as scripted, by task key.

    Args:
        script: Per task key: a step, a list of steps (one per attempt number; the last one
            repeats), or a function of the `Attempt` returning a step.
        default: The step of tasks the script does not name.
        ignore_cancel: Keys of tasks that ignore cancellation until forced (``grace=0``).
        permits: Concurrency permits to share with other managers (as if attempts ran on
            shared workers).
        elsewhere: Keys of tasks whose attempts run elsewhere: `attachable` names them.

    Attributes:
        submitted: Every attempt handed over, in order.
        attached: Every attempt followed again (`attach`), with the cursor it was given.
        cancelled: Dispatch id → the reason of each cancel request.
        signalled: ``(dispatch_id, key, data)`` of every signal handed over.
    """

    def __init__(
        self,
        script: Mapping[str, Script] | None = None,
        *,
        default: Step = DONE,
        ignore_cancel: Sequence[str] = (),
        permits: Permits | None = None,
        elsewhere: Collection[str] = (),
    ) -> None:
        self.script = dict(script or {})
        self._permits = permits
        self.default = default
        self.ignore_cancel = set(ignore_cancel)
        self.elsewhere = set(elsewhere)
        self.submitted: list[Attempt] = []
        self.attached: list[tuple[Attempt, str | None]] = []
        self.cancelled: dict[str, str] = {}
        self.signalled: list[tuple[str, str, Any]] = []
        self._running: dict[str, tuple[Attempt, Reports]] = {}

    @property
    def permits(self) -> Permits | None:
        """The permits given (shared by the managers of a test, as workers' would be)."""
        return self._permits

    def _step(self, attempt: Attempt) -> Step:
        entry = self.script.get(attempt.key, self.default)
        if callable(entry) and not isinstance(entry, Outcome | _Hold | WaitFor):
            return entry(attempt)
        if isinstance(entry, Sequence):
            return entry[min(attempt.attempt, len(entry)) - 1]
        return entry

    def submit(self, attempt: Attempt, reports: Reports) -> None:
        """Record the attempt; end it as scripted."""
        self.submitted.append(attempt)
        self._running[attempt.dispatch_id] = (attempt, reports)
        step = self._step(attempt)
        loop = asyncio.get_running_loop()
        if isinstance(step, Outcome):
            loop.call_soon(self._end, attempt.dispatch_id, step)
        elif isinstance(step, WaitFor):
            loop.call_soon(reports.waiting, attempt.dispatch_id, step.key, step.timeout)

    async def attachable(self, attempts: Iterable[Attempt]) -> set[str]:
        """The attempts of the tasks named ``elsewhere``: they still run there."""
        return {attempt.dispatch_id for attempt in attempts if attempt.key in self.elsewhere}

    def attach(self, attempt: Attempt, reports: Reports, cursor: str | None = None) -> None:
        """Record the attempt and its cursor; it runs on until the test ends it."""
        self.attached.append((attempt, cursor))
        self._running[attempt.dispatch_id] = (attempt, reports)

    def _end(self, dispatch_id: str, outcome: Outcome) -> None:
        entry = self._running.pop(dispatch_id, None)
        if entry is not None:
            entry[1].finished(dispatch_id, outcome)

    def running(self, key: str) -> Attempt | None:
        """The attempt of task ``key`` in flight, if any."""
        return next((a for a, _ in self._running.values() if a.key == key), None)

    def _require(self, key: str) -> tuple[Attempt, Reports]:
        for attempt, reports in self._running.values():
            if attempt.key == key:
                return attempt, reports
        raise LookupError(f"no attempt of task {key!r} is running")

    def finish(self, key: str, outcome: Outcome = DONE) -> None:
        """End the running attempt of task ``key``."""
        attempt, _ = self._require(key)
        self._end(attempt.dispatch_id, outcome)

    def progress(self, key: str, fraction: float, message: str | None = None) -> None:
        """Report progress for the running attempt of task ``key``."""
        attempt, reports = self._require(key)
        reports.progress(attempt.dispatch_id, fraction, message)

    def log(self, key: str, message: str, **fields: Any) -> None:
        """Log a line for the running attempt of task ``key``."""
        attempt, reports = self._require(key)
        reports.log(attempt.dispatch_id, message, fields)

    def waiting(self, key: str, signal: str, timeout: float | None = None) -> None:
        """Report that the running attempt of task ``key`` waits for ``signal``."""
        attempt, reports = self._require(key)
        reports.waiting(attempt.dispatch_id, signal, timeout)

    def position(self, key: str, cursor: str) -> None:
        """Say that the reports so far of task ``key``'s attempt came from before ``cursor``
        (what a backend following attempts elsewhere says after each read)."""
        attempt, reports = self._require(key)
        reports.position(attempt.dispatch_id, cursor)

    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Record the request; end the attempt cancelled — at once, or, for a task that
        ignores cancels, stopped by force once the grace period is over."""
        entry = self._running.get(dispatch_id)
        if entry is None:
            return
        self.cancelled.setdefault(dispatch_id, reason)
        loop = asyncio.get_running_loop()
        delay = entry[0].cancel_grace if grace is None else grace
        if entry[0].key in self.ignore_cancel:
            forced = Outcome(
                TaskStatus.CANCELLED, error=FORCED_STOP, error_type=ErrorType.CANCELLED
            )
            loop.call_later(max(delay, 0), self._end, dispatch_id, forced)
            return
        error = FORCED_STOP if delay <= 0 else reason
        outcome = Outcome(TaskStatus.CANCELLED, error=error, error_type=ErrorType.CANCELLED)
        loop.call_soon(self._end, dispatch_id, outcome)

    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Record the signal; a `WaitFor` attempt completes with it."""
        self.signalled.append((dispatch_id, key, data))
        entry = self._running.get(dispatch_id)
        if entry is not None and isinstance(self._step(entry[0]), WaitFor):
            outcome = Outcome(TaskStatus.COMPLETED, result={"data": data})
            asyncio.get_running_loop().call_soon(self._end, dispatch_id, outcome)

    async def close(self) -> None:
        """End every held attempt, stopped by force."""
        for dispatch_id in list(self._running):
            outcome = Outcome(
                TaskStatus.CANCELLED, error=FORCED_STOP, error_type=ErrorType.CANCELLED
            )
            self._end(dispatch_id, outcome)


__all__ = ["DONE", "HOLD", "ScriptedBackend", "WaitFor"]
