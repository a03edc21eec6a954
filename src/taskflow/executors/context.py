"""The execution context: what a running executor can know and do about its task.

The execution backend builds one per attempt and owns what it reports: progress, log lines
and waits go to the backend's `RunControl`, which passes them on to the engine (in this
process or from another one).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from typing import Any, Protocol

logger = logging.getLogger("taskflow.executor")

_current: contextvars.ContextVar[ExecutionContext] = contextvars.ContextVar("taskflow_context")


class RunControl(Protocol):
    """What the backend does for a running attempt (progress, logs, waits)."""

    def report_progress(
        self, context: ExecutionContext, fraction: float, message: str | None
    ) -> None:
        """Record progress (persisted with the task, published as an event)."""

    def log(self, context: ExecutionContext, message: str, fields: Mapping[str, Any]) -> None:
        """Record a log line as an event."""

    async def wait(self, context: ExecutionContext, key: str, timeout: float | None) -> Any:
        """Park the task until ``notify(task_id, key, data)``; return ``data`` (None on timeout)."""


class ExecutionContext:
    """The run of one task, as its executor sees it (``self.context`` inside `execute`).

    It lives in a context variable, so an executor registered as a shared instance reads the
    context of the task it is running, even when many run at once.

    Attributes:
        task_id: The task being run.
        tree_id: Its tree (the root task's id).
        key: The task's key within the tree.
        user_id: The tree's owner.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        dependency_results: The results of the tasks it depends on, by their keys.
        progress: The last progress reported, 0.0 to 1.0.
        soft_deadline: Event-loop time after which `soft_timed_out` is true (``None``: never).
        cancel_reason: Why the task is being cancelled, once it is.
        control: Where progress, logs and waits go (set by the backend).
    """

    __slots__ = (
        "_cancel_event",
        "_cancelled",
        "attempt",
        "cancel_reason",
        "control",
        "dependency_results",
        "key",
        "progress",
        "soft_deadline",
        "task_id",
        "tree_id",
        "user_id",
    )

    def __init__(
        self,
        *,
        task_id: str,
        tree_id: str,
        key: str,
        user_id: str | None = None,
        attempt: int = 1,
        dependency_results: Mapping[str, Any] | None = None,
        soft_deadline: float | None = None,
        control: RunControl | None = None,
    ) -> None:
        self.task_id = task_id
        self.tree_id = tree_id
        self.key = key
        self.user_id = user_id
        self.attempt = attempt
        self.dependency_results: Mapping[str, Any] = dependency_results or {}
        self.progress = 0.0
        self.soft_deadline = soft_deadline
        self.cancel_reason: str | None = None
        self.control = control
        self._cancelled = False
        self._cancel_event: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"ExecutionContext(key={self.key!r}, attempt={self.attempt})"

    @property
    def is_cancelled(self) -> bool:
        """Whether the task has been asked to stop; long loops should check it and return."""
        return self._cancelled

    @property
    def cancel_requested(self) -> asyncio.Event:
        """An event set when the task is asked to stop (``await ...wait()`` to sleep until)."""
        if self._cancel_event is None:
            self._cancel_event = asyncio.Event()
            if self._cancelled:
                self._cancel_event.set()
        return self._cancel_event

    def request_cancel(self, reason: str) -> None:
        """Raise the cancel flag (the backend calls this; executors read `is_cancelled`)."""
        if self._cancelled:
            return
        self._cancelled = True
        self.cancel_reason = reason
        if self._cancel_event is not None:
            self._cancel_event.set()

    @property
    def soft_timed_out(self) -> bool:
        """Whether the soft time limit has passed: time to wrap up and return what you have."""
        return (
            self.soft_deadline is not None
            and asyncio.get_running_loop().time() >= self.soft_deadline
        )

    async def report_progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the task is, from 0.0 to 1.0, with an optional message.

        Progress is persisted with the task and published as an event; a parent group's
        progress rolls up from its children.

        Raises:
            ValueError: ``fraction`` is outside 0.0..1.0.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress must be between 0.0 and 1.0, not {fraction!r}")
        self.progress = fraction
        if self.control is not None:
            self.control.report_progress(self, fraction, message)

    async def wait(self, key: str, timeout: float | None = None) -> Any:
        """Wait for ``manager.notify(task_id, key, data)`` and return ``data``.

        The task is parked meanwhile (it does not hold a concurrency slot). A notify that came
        before the wait is returned at once; it may come from another process, or before a
        restart. Returns ``None`` if ``timeout`` seconds pass first, or if the task is
        cancelled while it waits.
        """
        if self.control is None:
            raise RuntimeError("wait() needs a task run by a TaskManager")
        return await self.control.wait(self, key, timeout)

    def log(self, message: str, **fields: Any) -> None:
        """Log ``message`` with the task's ids and ``fields``; it is also a task event."""
        logger.info(
            "%s",
            message,
            extra={"task_id": self.task_id, "tree_id": self.tree_id, "fields": fields},
        )
        if self.control is not None:
            self.control.log(self, message, fields)


def current_context() -> ExecutionContext:
    """The context of the task running in this asyncio task; `RuntimeError` outside a run."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "no task is running here: the execution context exists only inside execute()"
        ) from None


def set_context(context: ExecutionContext) -> contextvars.Token[ExecutionContext]:
    """Make ``context`` current (the backend calls this right before `execute`)."""
    return _current.set(context)


def reset_context(token: contextvars.Token[ExecutionContext]) -> None:
    """Undo `set_context`."""
    _current.reset(token)
