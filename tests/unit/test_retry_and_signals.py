from __future__ import annotations

import random
from typing import Any

import pytest

from taskflow import BaseTask, ExecutorRegistry, RetryPolicy, TaskCtl, TaskStatus
from taskflow.executors import ExecutionContext, invoke
from taskflow.executors.signals import TaskSignal


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, backoff=0.5, factor=3, max_backoff=10, jitter=False)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10, 10]


def test_jitter_stays_between_half_and_all_of_the_delay() -> None:
    policy = RetryPolicy(max_retries=3, backoff=2, factor=2, max_backoff=60)
    rng = random.Random(1)
    delays = [policy.delay(3, rng) for _ in range(200)]
    assert all(4 <= d <= 8 for d in delays)
    assert max(delays) - min(delays) > 2  # it does vary


def test_which_errors_are_retried() -> None:
    assert RetryPolicy(max_retries=1).retries("ConnectionError")
    assert not RetryPolicy(max_retries=1).retries("InputValidationError")
    only = RetryPolicy(max_retries=1, retry_on=("TaskTimeout",))
    assert only.retries("TaskTimeout") and not only.retries("ValueError")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3, RetryPolicy(max_retries=3)),
        ({"max_retries": 2, "retry_on": ["X"]}, RetryPolicy(max_retries=2, retry_on=("X",))),
        (None, None),
    ],
)
def test_parse(raw: Any, expected: RetryPolicy | None) -> None:
    assert RetryPolicy.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"tries": 3}, "unknown retry setting"),
        (True, "number of retries"),
        ({"max_retries": -1}, "invalid retry policy"),
    ],
)
def test_parse_rejects(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy.parse(raw)


def test_taskctl_signals() -> None:
    progress = TaskCtl.report_progress("half way", 50)
    assert (progress.signal, progress.progress, progress.is_terminal) == (
        TaskSignal.PROGRESS,
        0.5,
        False,
    )
    done = TaskCtl.success("done", data={"n": 1})
    assert (done.signal, done.data, done.is_terminal) == (TaskSignal.SUCCESS, {"n": 1}, True)
    assert TaskCtl.fail("bad", error=ValueError("x")).is_terminal
    assert TaskCtl.cancel("stop").message == "stop"
    with pytest.raises(ValueError, match="between 0 and 100"):
        TaskCtl.report_progress("too far", 150)


class Generator(BaseTask):
    id = "test.generator"

    async def execute(self, inputs: dict[str, Any]):  # type: ignore[override]
        yield TaskCtl.report_progress("one", 10, data={"partial": 1})
        if inputs.get("mode") == "raise":
            raise RuntimeError("broke mid-way")
        if inputs.get("mode") == "fail":
            yield TaskCtl.fail("gave up", error=KeyError("k"))
        if inputs.get("mode") == "cancel":
            yield TaskCtl.cancel("not today")
        yield TaskCtl.report_progress("two", 90, data={"partial": 2})


@pytest.mark.parametrize(
    ("mode", "status", "result", "error", "error_type"),
    [
        (
            "end",
            TaskStatus.COMPLETED,
            {"partial": 2},
            None,
            None,
        ),  # no terminal signal: the last data
        ("raise", TaskStatus.FAILED, None, "broke mid-way", "RuntimeError"),
        ("fail", TaskStatus.FAILED, None, "gave up: 'k'", "KeyError"),
        ("cancel", TaskStatus.CANCELLED, None, "not today", "Cancelled"),
    ],
)
async def test_generator_endings(
    mode: str, status: TaskStatus, result: Any, error: str | None, error_type: str | None
) -> None:
    info = ExecutorRegistry(discover_plugins=False).register(Generator)
    context = ExecutionContext(task_id="t", tree_id="r", key="k")
    outcome = await invoke(info, {"mode": mode}, context)
    assert (outcome.status, outcome.result, outcome.error, outcome.error_type) == (
        status,
        result,
        error,
        error_type,
    )
    assert context.progress in (0.1, 0.9)


async def test_report_progress_checks_its_range() -> None:
    context = ExecutionContext(task_id="t", tree_id="r", key="k")
    with pytest.raises(ValueError, match=r"between 0\.0 and 1\.0"):
        await context.report_progress(1.5)


def test_only_retries_count_against_max_retries() -> None:
    from taskflow.engine.decide import Attempted, retry_delay
    from taskflow.executors import Outcome
    from taskflow.models import AttemptRecord, AttemptStatus

    interrupted = (
        AttemptRecord(attempt=1, status=AttemptStatus.INTERRUPTED),
        AttemptRecord(attempt=2, status=AttemptStatus.STOPPED),
    )
    policy = {"max_retries": 1, "backoff": 0, "jitter": False}
    attempted = Attempted(
        attempt=4, attempts=interrupted, started_at=None, retry=policy, default_policy=None
    )
    failed = Outcome(TaskStatus.FAILED, error="boom", error_type="ValueError")
    assert retry_delay(attempted, failed) == 0  # attempt 4, but no retry used yet
    used = (*interrupted, AttemptRecord(attempt=3, status=AttemptStatus.RETRYING))
    attempted = Attempted(
        attempt=4, attempts=used, started_at=None, retry=policy, default_policy=None
    )
    assert retry_delay(attempted, failed) is None
