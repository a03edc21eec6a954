"""Control signals an executor can use: `TaskCtl` (yielded) and `Retry` (raised).

An ``execute`` written as an async generator yields `TaskCtl` values::

    async def execute(self, inputs):
        yield TaskCtl.report_progress("fetching", 10)
        ...
        yield TaskCtl.success("done", data={"rows": 42})

A generator that ends without a terminal signal completes with the data of its last signal;
one that raises fails.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class TaskSignal(enum.StrEnum):
    """What a `TaskCtl` says."""

    PROGRESS = "progress"
    SUCCESS = "success"
    FAIL = "fail"
    CANCEL = "cancel"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskCtl:
    """A signal from a running task: progress, or how it ends.

    Attributes:
        signal: progress, success, fail or cancel.
        message: Human-readable text.
        data: The result (success), the error (fail), or anything (progress).
        progress: 0.0 to 1.0 for progress signals; ``None`` for the others (a task that
            completes has progress 1.0 anyway).
    """

    signal: TaskSignal
    message: str = ""
    data: Any = None
    progress: float | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the signal ends the task."""
        return self.signal is not TaskSignal.PROGRESS

    @classmethod
    def report_progress(cls, message: str, percent: float, data: Any = None) -> TaskCtl:
        """Progress as a percentage (0 to 100) (``context.report_progress`` takes a fraction)."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be between 0 and 100, not {percent!r}")
        return cls(TaskSignal.PROGRESS, message, data, percent / 100)

    @classmethod
    def success(cls, message: str = "", data: Any = None) -> TaskCtl:
        """The task completed; ``data`` is its result."""
        return cls(TaskSignal.SUCCESS, message, data)

    @classmethod
    def fail(cls, message: str, error: Any = None) -> TaskCtl:
        """The task failed, because of ``error`` (an exception or a description)."""
        return cls(TaskSignal.FAIL, message, error)

    @classmethod
    def cancel(cls, message: str = "cancelled") -> TaskCtl:
        """The task stops, cancelled."""
        return cls(TaskSignal.CANCEL, message)


class Retry(Exception):
    """Raise from ``execute`` to run the task again after ``delay`` seconds.

    The retry counts against the task's retry policy (``max_retries``; when the policy
    allows none, explicit retries are still allowed up to `DEFAULT_EXPLICIT_RETRIES`).
    """

    DEFAULT_EXPLICIT_RETRIES = 3

    def __init__(
        self, delay: float | None = None, reason: str = "the executor asked to retry"
    ) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason
