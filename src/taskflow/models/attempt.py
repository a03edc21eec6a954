"""Why tasks fail (`ErrorType`), and the record kept of each attempt (`AttemptRecord`)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class ErrorType(enum.StrEnum):
    """The kinds of error taskflow itself records in ``Task.error_type``.

    An executor's own exception is recorded under its class name instead (``ValueError``,
    ``HttpStatusError`` ...); these values are plain strings too, so both compare with ``==``.
    """

    CANCELLED = "Cancelled"
    DEPENDENCY_FAILED = "DependencyFailed"
    CHILDREN_FAILED = "ChildrenFailed"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    TASK_TIMEOUT = "TaskTimeout"
    TASK_FAILED = "TaskFailed"
    INPUT_VALIDATION = "InputValidationError"
    OUTPUT_VALIDATION = "OutputValidationError"
    RESULT = "ResultError"
    REFERENCE = "ReferenceResolutionError"
    RETRY = "Retry"
    NOT_RERUN_SAFE = "NotRerunSafe"
    EXECUTOR = "ExecutorError"
    INTERRUPTED = "Interrupted"
    STOPPED = "Stopped"
    LEASE_LOST = "LeaseLost"
    WORKER_LOST = "WorkerLost"
    SCHEDULER = "SchedulerError"


#: Failures that another attempt cannot fix: a retry policy never retries them.
NEVER_RETRIED = frozenset(
    {
        ErrorType.INPUT_VALIDATION,
        ErrorType.OUTPUT_VALIDATION,
        ErrorType.RESULT,
        ErrorType.REFERENCE,
        ErrorType.NOT_RERUN_SAFE,
        ErrorType.EXECUTOR,
    }
)


class AttemptStatus(enum.StrEnum):
    """How one attempt ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"  # it failed, and the retry policy runs the task again
    INTERRUPTED = "interrupted"  # the process running it died; found on resume
    STOPPED = "stopped"  # the manager stopped (stop_all, SIGTERM): the task runs again later


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    """One finished attempt of a task, in ``Task.attempts``.

    Attributes:
        attempt: Its number (1 for the first run).
        status: How it ended.
        error: Why, if it did not complete.
        error_type: The error's kind (see `ErrorType`), or an exception class name.
        started_at: When it started.
        ended_at: When it ended.
    """

    attempt: int
    status: AttemptStatus
    error: str | None = None
    error_type: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def counts_as_retry(self) -> bool:
        """Whether this attempt used up one of the retry policy's retries."""
        return self.status is AttemptStatus.RETRYING

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with the task (times in ISO 8601)."""
        return {
            "attempt": self.attempt,
            "status": self.status.value,
            "error": self.error,
            "error_type": self.error_type,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptRecord:
        """The record of `to_dict`."""
        return cls(
            attempt=int(data["attempt"]),
            status=AttemptStatus(data["status"]),
            error=data.get("error"),
            error_type=data.get("error_type"),
            started_at=_time(data.get("started_at")),
            ended_at=_time(data.get("ended_at")),
        )


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
