"""`decide` and `recovery`: what a task becomes once an attempt ends. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from taskflow.backends import FORCED_STOP
from taskflow.engine.decide import Attempted, CancelRequest, decide, recovery
from taskflow.executors import Outcome
from taskflow.models import AttemptRecord, AttemptStatus, RetryPolicy, TaskStatus

S = TaskStatus
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def attempted(attempts: tuple[AttemptRecord, ...] = (), **policy: object) -> Attempted:
    return Attempted(
        attempt=len(attempts) + 1,
        attempts=attempts,
        started_at=NOW - timedelta(seconds=3),
        retry=dict(policy) or None,
        default_policy=None,
    )


def test_a_clean_first_success_keeps_no_history() -> None:
    decision = decide(attempted(), Outcome(S.COMPLETED, result={"n": 1}), now=NOW)
    assert (decision.status, decision.result, decision.record) == (S.COMPLETED, {"n": 1}, None)


def test_a_success_after_a_retry_is_recorded() -> None:
    before = (AttemptRecord(attempt=1, status=AttemptStatus.RETRYING),)
    decision = decide(attempted(before), Outcome(S.COMPLETED, result={}), now=NOW)
    assert decision.record is not None and decision.record.status is AttemptStatus.COMPLETED


def test_a_failure_is_retried_per_policy_then_final() -> None:
    failed = Outcome(S.FAILED, error="boom", error_type="ValueError")
    first = decide(attempted(max_retries=1, backoff=2, jitter=False), failed, now=NOW)
    assert (first.status, first.retry_at) == (S.PENDING, NOW + timedelta(seconds=2))
    assert first.record is not None and first.record.counts_as_retry
    second = decide(attempted((first.record,), max_retries=1), failed, now=NOW)
    assert (second.status, second.error_type) == (S.FAILED, "ValueError")


def test_a_users_own_type_error_can_be_retried() -> None:
    failed = Outcome(S.FAILED, error="bad type", error_type="TypeError")
    assert decide(attempted(max_retries=2, jitter=False), failed, now=NOW).status is S.PENDING


def test_failures_another_attempt_cannot_fix_are_never_retried() -> None:
    for kind in ("InputValidationError", "ResultError", "NotRerunSafe", "ExecutorError"):
        failed = Outcome(S.FAILED, error="no", error_type=kind)
        assert decide(attempted(max_retries=5), failed, now=NOW).status is S.FAILED, kind


def test_a_requested_cancel_wins_over_a_failure() -> None:
    """Defect 6 of the engine-core issue: cancelled while it waited, then it failed."""
    failed = Outcome(S.FAILED, error="the wait came back empty", error_type="TaskFailed")
    cancel = CancelRequest("cancelled by user")
    decision = decide(attempted(max_retries=3), failed, now=NOW, cancel=cancel)
    assert (decision.status, decision.error, decision.error_type) == (
        S.CANCELLED,
        "cancelled by user",
        "Cancelled",
    )


def test_a_requested_cancel_keeps_what_the_attempt_returned_as_a_partial_result() -> None:
    done = Outcome(S.COMPLETED, result={"rows": 10})
    decision = decide(
        attempted(), done, now=NOW, cancel=CancelRequest("enough", "DeadlineExceeded")
    )
    assert (decision.status, decision.result, decision.error_type) == (
        S.CANCELLED,
        {"rows": 10},
        "DeadlineExceeded",
    )


def test_a_forced_stop_says_so() -> None:
    forced = Outcome(S.CANCELLED, error=FORCED_STOP, error_type="Cancelled")
    decision = decide(attempted(), forced, now=NOW, cancel=CancelRequest("bye"))
    assert decision.error == "bye (stopped by force)"


def test_a_stopped_attempt_runs_again_later_but_an_ended_one_stays_ended() -> None:
    forced = Outcome(S.CANCELLED, error=FORCED_STOP, error_type="Cancelled")
    stopped = decide(attempted(), forced, now=NOW, stopping=True)
    assert stopped.status is S.PENDING and stopped.retry_at is None
    assert stopped.record is not None and stopped.record.status is AttemptStatus.STOPPED
    done = decide(attempted(), Outcome(S.COMPLETED, result={}), now=NOW, stopping=True)
    assert done.status is S.COMPLETED


def test_a_result_that_cannot_be_stored_fails_the_task_naming_the_path() -> None:
    for result, where in (
        ({"price": float("nan")}, "result.price"),
        ({"rows": [{"name": "a\x00b"}]}, "result.rows[0].name"),
        ({"text": "\ud800"}, "result.text"),
        ({1: "x"}, "result"),
    ):
        decision = decide(attempted(max_retries=3), Outcome(S.COMPLETED, result=result), now=NOW)
        assert (decision.status, decision.error_type) == (S.FAILED, "ResultError")
        assert decision.error is not None and decision.error.startswith(where), decision.error


def test_a_result_over_the_size_limit_fails() -> None:
    big = Outcome(S.COMPLETED, result={"blob": "x" * 2000})
    decision = decide(attempted(), big, now=NOW, max_result_bytes=1000)
    assert decision.error_type == "ResultError" and "over the limit of 1,000" in (
        decision.error or ""
    )


def test_recovery_reruns_or_fails_by_executor() -> None:
    again = recovery(attempted(), rerun_safe=True, executor="work", now=NOW)
    assert again.status is S.PENDING
    assert again.record is not None and again.record.status is AttemptStatus.INTERRUPTED
    failed = recovery(attempted(), rerun_safe=False, executor="once", now=NOW)
    assert (failed.status, failed.error_type) == (S.FAILED, "NotRerunSafe")


def test_an_explicit_retry_is_honoured_up_to_the_policy() -> None:
    retry = Outcome(S.FAILED, error="later", error_type="Retry", retry_delay=5)
    decision = decide(attempted(), retry, now=NOW)
    assert (decision.status, decision.retry_at) == (S.PENDING, NOW + timedelta(seconds=5))
    assert RetryPolicy().max_retries == 0  # explicit retries are allowed even so
