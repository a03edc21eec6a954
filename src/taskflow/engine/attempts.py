"""Decisions about attempts: whether a failure is retried (and when), what an interrupted
attempt becomes on resume, and the record kept of each attempt. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskflow.executors import ExecutorInfo, Outcome, Retry
from taskflow.models import RetryPolicy, Task, TaskStatus


def retry_delay(task: Task, info: ExecutorInfo | None, outcome: Outcome) -> float | None:
    """Seconds until the next attempt of a failed ``task``, or ``None`` if the failure is final.

    The task's own policy wins over its executor's default. An explicit `Retry` is honoured
    up to the policy's ``max_retries`` (or `Retry.DEFAULT_EXPLICIT_RETRIES` when that is 0).
    Only retries count: attempts interrupted by a crash or `stop_all`, and explicit re-runs,
    do not use up ``max_retries``.
    """
    default = info.cls.retry_policy if info is not None else None
    policy = RetryPolicy.parse(task.retry) or default or RetryPolicy()
    retries_done = sum(1 for record in task.attempts if record.get("status") == "retrying")
    if outcome.retry_delay is not None:
        limit = policy.max_retries or Retry.DEFAULT_EXPLICIT_RETRIES
        return outcome.retry_delay if retries_done < limit else None
    if retries_done < policy.max_retries and policy.retries(outcome.error_type):
        return policy.delay(retries_done + 1)
    return None


def attempt_record(
    task: Task, status: str, error: str | None, error_type: str | None, now: datetime
) -> dict[str, Any]:
    """The history entry of the attempt that just ended."""
    started = task.started_at
    return {
        "attempt": task.attempt,
        "status": status,
        "error": error,
        "error_type": error_type,
        "started_at": started.isoformat() if started else None,
        "ended_at": now.isoformat(),
    }


def recovery(
    task: Task, info: ExecutorInfo | None, now: datetime
) -> tuple[TaskStatus, dict[str, Any]]:
    """What a task found ``in_progress`` when a manager takes its tree over becomes.

    It runs again as a new attempt (back to ``pending``), unless its executor is not safe to
    re-run: then it fails with ``error_type="NotRerunSafe"``.
    """
    record = attempt_record(
        task, "interrupted", "the process running it stopped", "Interrupted", now
    )
    attempts = (*task.attempts, record)
    if info is not None and info.rerun_safe:
        return TaskStatus.PENDING, {"attempts": attempts}
    error = (
        f"interrupted when the process running it stopped, and executor {task.executor!r} "
        "is not safe to re-run (rerun_safe = False)"
    )
    return TaskStatus.FAILED, {
        "attempts": attempts,
        "error": error,
        "error_type": "NotRerunSafe",
        "completed_at": now,
    }
