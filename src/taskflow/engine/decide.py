"""What happens to a task next: pure decisions, unit-tested without an engine.

`decide` turns an attempt's outcome into the task's next state (completed, failed, cancelled,
or back to pending for a retry or a later run); `recovery` says what a task found running when
a manager takes its tree over becomes. Neither reads a clock or a database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from taskflow.backends import FORCED_STOP
from taskflow.executors import Outcome, Retry
from taskflow.models import (
    AttemptRecord,
    AttemptStatus,
    ErrorType,
    RetryPolicy,
    TaskStatus,
)
from taskflow.models.values import json_problem
from taskflow.validation import OutputValidator


@dataclasses.dataclass(frozen=True, slots=True)
class CancelRequest:
    """Why a running task is being stopped: the reason, and the error type it ends with."""

    reason: str
    error_type: str = ErrorType.CANCELLED


@dataclasses.dataclass(slots=True, kw_only=True)
class Attempted:
    """What `decide` needs to know about the task whose attempt ended."""

    attempt: int
    attempts: tuple[AttemptRecord, ...]
    started_at: datetime | None
    retry: Mapping[str, Any] | None  # the task's own retry policy
    default_policy: RetryPolicy | None  # its executor's


@dataclasses.dataclass(slots=True, kw_only=True)
class Decision:
    """The task's next state.

    ``status`` is terminal, or ``pending`` (``retry_at`` set for a retry, ``None`` for a task
    that runs again when its tree is next run: the manager stopped). ``record`` is the
    history entry of the attempt that ended, or ``None`` for a clean first success.
    """

    status: TaskStatus
    result: Mapping[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    retry_at: datetime | None = None
    record: AttemptRecord | None = None
    message: str | None = None


def retry_delay(attempted: Attempted, outcome: Outcome) -> float | None:
    """Seconds until the next attempt of a failed task, or ``None`` if the failure is final.

    The task's own policy wins over its executor's default. An explicit `Retry` is honoured
    up to the policy's ``max_retries`` (or `Retry.DEFAULT_EXPLICIT_RETRIES` when that is 0).
    Only retries count: attempts interrupted by a crash or a stop, and explicit re-runs, do
    not use up ``max_retries``.
    """
    policy = RetryPolicy.parse(attempted.retry) or attempted.default_policy or RetryPolicy()
    retries_done = sum(1 for record in attempted.attempts if record.counts_as_retry)
    if outcome.retry_delay is not None:
        limit = policy.max_retries or Retry.DEFAULT_EXPLICIT_RETRIES
        return outcome.retry_delay if retries_done < limit else None
    if retries_done < policy.max_retries and policy.retries(outcome.error_type):
        return policy.delay(retries_done + 1)
    return None


def attempt_record(
    attempted: Attempted,
    status: AttemptStatus,
    error: str | None,
    error_type: str | None,
    now: datetime,
) -> AttemptRecord:
    """The history entry of the attempt that just ended."""
    return AttemptRecord(
        attempt=attempted.attempt,
        status=status,
        error=error,
        error_type=error_type,
        started_at=attempted.started_at,
        ended_at=now,
    )


def _checked(outcome: Outcome, max_result_bytes: int | None) -> Outcome:
    """The outcome, or a `ResultError` failure if its result cannot be stored."""
    if outcome.result is None:
        return outcome
    problem = json_problem(outcome.result, "result", max_bytes=max_result_bytes)
    if problem is None:
        return outcome
    if outcome.status is not TaskStatus.COMPLETED:  # a partial or failure result: drop it
        return dataclasses.replace(outcome, result=None)
    return Outcome(TaskStatus.FAILED, error=problem, error_type=ErrorType.RESULT)


def _validated(outcome: Outcome, output: OutputValidator | None) -> Outcome:
    """The outcome, or an `OutputValidationError` failure if a result violates its schema.

    The result is kept with the failure, to show what the executor returned.
    """
    if output is None or outcome.status is not TaskStatus.COMPLETED or outcome.result is None:
        return outcome
    problem = output.problem(outcome.result)
    if problem is None:
        return outcome
    return Outcome(
        TaskStatus.FAILED,
        result=outcome.result,
        error=str(problem),
        error_type=ErrorType.OUTPUT_VALIDATION,
        message=outcome.message,
    )


def decide(
    attempted: Attempted,
    outcome: Outcome,
    *,
    now: datetime,
    cancel: CancelRequest | None = None,
    stopping: bool = False,
    max_result_bytes: int | None = None,
    output: OutputValidator | None = None,
) -> Decision:
    """The task's next state once an attempt ended with ``outcome``.

    Args:
        attempted: The task, as it was while the attempt ran.
        outcome: How the attempt ended.
        now: The time of the decision.
        cancel: Set when the task was asked to stop: a requested cancel wins over however the
            attempt ended (its result is kept as a partial result).
        stopping: The manager is handing the tree back: an attempt it stopped (not a
            cancel) runs again later; one that ended by itself ends as usual.
        max_result_bytes: The largest result stored.
        output: Checks a completed attempt's result against its executor's output schema
            (``None``: not checked).
    """
    outcome = _checked(outcome, max_result_bytes)
    if cancel is not None:
        forced = " (stopped by force)" if outcome.error == FORCED_STOP else ""
        error = f"{cancel.reason}{forced}"
        record = attempt_record(attempted, AttemptStatus.CANCELLED, error, cancel.error_type, now)
        return Decision(
            status=TaskStatus.CANCELLED,
            result=outcome.result,
            error=error,
            error_type=cancel.error_type,
            traceback=outcome.traceback,
            record=record,
            message=outcome.message,
        )
    if stopping and outcome.status is TaskStatus.CANCELLED:
        error = "the manager stopped; the task runs again when the tree is resumed"
        record = attempt_record(attempted, AttemptStatus.STOPPED, error, ErrorType.STOPPED, now)
        return Decision(status=TaskStatus.PENDING, record=record)
    outcome = _validated(outcome, output)
    if outcome.status is TaskStatus.FAILED:
        delay = retry_delay(attempted, outcome)
        state = AttemptStatus.RETRYING if delay is not None else AttemptStatus.FAILED
        record = attempt_record(attempted, state, outcome.error, outcome.error_type, now)
        return Decision(
            status=TaskStatus.PENDING if delay is not None else TaskStatus.FAILED,
            result=outcome.result if delay is None else None,
            error=outcome.error,
            error_type=outcome.error_type,
            traceback=outcome.traceback,
            retry_at=now + timedelta(seconds=delay) if delay is not None else None,
            record=record,
            message=outcome.message,
        )
    status = outcome.status
    ended: AttemptRecord | None = None
    if status is not TaskStatus.COMPLETED or attempted.attempts:
        ended = attempt_record(
            attempted, AttemptStatus(status.value), outcome.error, outcome.error_type, now
        )
    return Decision(
        status=status,
        result=outcome.result,
        error=outcome.error,
        error_type=outcome.error_type,
        traceback=outcome.traceback,
        record=ended,
        message=outcome.message,
    )


def unsafe_to_rerun(outcome: Outcome, *, rerun_safe: bool, executor: str) -> Outcome:
    """A ``WorkerLost`` outcome of an executor that is not safe to re-run fails it with
    ``NotRerunSafe`` (never retried), as a crash of its own process would; others as they are."""
    if rerun_safe or outcome.error_type != ErrorType.WORKER_LOST:
        return outcome
    error = f"{outcome.error}; executor {executor!r} is not safe to re-run (rerun_safe = False)"
    return dataclasses.replace(outcome, error=error, error_type=ErrorType.NOT_RERUN_SAFE)


def recovery(attempted: Attempted, *, rerun_safe: bool, executor: str, now: datetime) -> Decision:
    """What a task found ``in_progress`` becomes when a manager takes its tree over.

    It runs again as a new attempt (back to ``pending``), unless its executor is not safe to
    re-run: then it fails with ``error_type="NotRerunSafe"``.
    """
    record = attempt_record(
        attempted,
        AttemptStatus.INTERRUPTED,
        "the process running it stopped",
        ErrorType.INTERRUPTED,
        now,
    )
    if rerun_safe:
        return Decision(status=TaskStatus.PENDING, record=record)
    error = (
        f"interrupted when the process running it stopped, and executor {executor!r} "
        "is not safe to re-run (rerun_safe = False)"
    )
    return Decision(
        status=TaskStatus.FAILED,
        error=error,
        error_type=ErrorType.NOT_RERUN_SAFE,
        record=record,
    )
