"""celery.task against real Redis and a real ``celery worker`` (tests/celery_test_app.py)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from taskflow_celery import CeleryTask, CeleryUnavailable
from taskflow_celery.client import celery_client
from taskflow_celery.executor import CeleryCall
from taskflow_celery.settings import CelerySettings
from taskflow_celery.testing import WorkerProcess

from taskflow import EngineSettings, Task, TaskManager, TaskStatus, create_session
from taskflow.events import EventType, TaskEvent
from taskflow.testing import check_executor, run_executor

S = TaskStatus
TESTS = Path(__file__).resolve().parent
WAIT_SECONDS = 20.0  # the longest any condition below may take to come true

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("celery_env")]


def marker() -> str:
    return uuid.uuid4().hex


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Wait for ``check()`` to return something true (another process does the work)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def celery_state(redis_url: str, celery_task_id: str) -> str:
    app = celery_client(CelerySettings(redis_url, redis_url, redis_url))
    return str(app.AsyncResult(celery_task_id).state)


async def call(
    worker: WorkerProcess, manager: TaskManager, name: str, *args: Any, **inputs: Any
) -> Task:
    return await run_executor(
        CeleryTask,
        {
            "name": name,
            "args": list(args),
            "queue": worker.queue,
            "timeout": WAIT_SECONDS,
            **inputs,
        },
        manager=manager,
    )


async def events_of(manager: TaskManager, tree_id: str) -> list[TaskEvent]:
    return [event async for event in manager.subscribe(tree_id)]


async def test_the_pattern_a_tree_triggers_my_task_and_uses_its_result(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    tree = await task_manager.run_tree(
        {
            "key": "root",
            "children": [
                {
                    "key": "summarise",
                    "executor": "celery.task",
                    "inputs": {
                        "name": "my_task",
                        "args": [{"field1": "echo", "field2": 3}],
                        "queue": worker.queue,
                        "timeout": WAIT_SECONDS,
                    },
                },
                {
                    "key": "again",
                    "executor": "celery.task",
                    "dependencies": ["summarise"],
                    "inputs": {
                        "name": "my_task",
                        "args": [
                            {
                                "field1": "${summarise.result.result.result}",
                                "field2": "${summarise.result.result.token_consumption.words}",
                            }
                        ],
                        "queue": worker.queue,
                        "timeout": WAIT_SECONDS,
                    },
                },
            ],
        }
    )
    tasks = {node.task.key: node.task for node in tree.walk()}
    assert {task.status for task in tasks.values()} == {S.COMPLETED}, worker.log_tail()
    first, second = tasks["summarise"].result, tasks["again"].result
    assert first is not None
    assert second is not None
    assert first["result"] == {"result": "echo echo echo", "token_consumption": {"words": 3}}
    assert second["result"]["result"] == " ".join(["echo echo echo"] * 3)
    assert first["state"] == "SUCCESS"
    assert first["celery_task_id"].startswith("taskflow-")
    # The pattern's task publishes "done" without its result: that comes from the backend.
    assert first["source"] == "result_backend"
    assert first["adopted"] is False


async def test_a_task_that_finished_before_the_wait_began_is_not_missed(
    worker: WorkerProcess, task_manager: TaskManager, redis_url: str
) -> None:
    class WaitsLate(CeleryTask):
        """Starts waiting only once the Celery task has finished."""

        id = "test.celery_waits_late"

        async def _send(self, call: CeleryCall, inputs: dict[str, Any]) -> None:
            await super()._send(call, inputs)
            await until(
                lambda: asyncio.to_thread(celery_state, redis_url, call.celery_task_id),
                "the Celery task to be registered",
            )
            await until(
                lambda: _is(
                    asyncio.to_thread(celery_state, redis_url, call.celery_task_id), "SUCCESS"
                ),
                "the Celery task to finish",
            )

    inputs = {"name": "tests.with_result", "args": ["early"], "queue": worker.queue, "timeout": 10}
    task = await run_executor(WaitsLate, inputs, manager=task_manager)
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None
    # Read from the start of the stream: the "done" entry, published before the wait, is
    # found at once (reading from "$" would miss it and only see the result backend later).
    assert (task.result["result"], task.result["source"]) == ({"echo": "early"}, "stream")


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def test_a_task_that_raises_fails_with_the_remote_error_type_and_message(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    task = await call(worker, task_manager, "tests.fails", "the monthly quota is used up")
    assert task.status is S.FAILED
    assert task.error_type == "QuotaExceeded"
    assert task.error is not None
    assert task.error.startswith("celery task 'tests.fails' (taskflow-")
    assert task.error.endswith("raised QuotaExceeded: the monthly quota is used up")
    assert task.result is not None
    assert task.result["remote_error"] == "the monthly quota is used up"
    assert "QuotaExceeded: the monthly quota is used up" in task.result["traceback"]


async def test_a_task_past_its_timeout_fails_with_task_timeout_and_is_revoked(
    worker: WorkerProcess, task_manager: TaskManager, redis_url: str
) -> None:
    tag = marker()
    started = time.monotonic()
    task = await call(worker, task_manager, "tests.hold", tag, 60, timeout=1.0)
    assert time.monotonic() - started < 5.0
    assert (task.status, task.error_type) == (S.FAILED, "TaskTimeout")
    assert task.error is not None
    assert "did not finish within 1 s; it was revoked" in task.error
    assert task.result is not None
    celery_id = task.result["celery_task_id"]
    await until(
        lambda: _is(asyncio.to_thread(celery_state, redis_url, celery_id), "REVOKED"), "REVOKED"
    )
    assert not redis.Redis.from_url(redis_url).exists(f"finished:{tag}")


async def test_cancel_revokes_the_celery_task_and_the_task_ends_cancelled(
    worker: WorkerProcess, task_manager: TaskManager, redis_url: str
) -> None:
    tag = marker()
    inputs = {"name": "tests.hold", "args": [tag, 60], "queue": worker.queue, "timeout": 60}
    tree = await task_manager.create_tree(
        {"key": "hold", "executor": "celery.task", "inputs": inputs}
    )
    tree_id = await task_manager.start(tree)
    async for event in task_manager.subscribe(tree_id):  # the Celery task runs: it said so
        if event.type is EventType.PROGRESS and event.data.get("message") == "started":
            break
    await task_manager.cancel(tree_id, "no longer needed")
    task = (await asyncio.wait_for(task_manager.wait(tree_id), WAIT_SECONDS)).task
    assert task.status is S.CANCELLED
    assert task.error == "no longer needed"
    assert task.result is not None
    assert task.result["cancelled"] is True
    assert task.result["revoked"] is True
    celery_id = task.result["celery_task_id"]
    await until(
        lambda: _is(asyncio.to_thread(celery_state, redis_url, celery_id), "REVOKED"), "REVOKED"
    )
    assert not redis.Redis.from_url(redis_url).exists(f"finished:{tag}")


async def test_a_task_that_publishes_no_stream_falls_back_to_the_result_backend(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    task = await call(worker, task_manager, "tests.no_stream", 5)
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None
    assert (task.result["result"], task.result["source"]) == ({"plain": 5}, "result_backend")


async def test_expect_stream_false_reads_the_result_backend_only(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    task = await call(
        worker, task_manager, "my_task", {"field1": "x", "field2": 2}, expect_stream=False
    )
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None
    assert task.result["source"] == "result_backend"
    assert task.result["result"]["result"] == "x x"


async def test_progress_from_the_celery_task_is_seen_in_taskflow_events(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    task = await call(worker, task_manager, "tests.progress", 4)
    assert task.status is S.COMPLETED, task.error
    events = await events_of(task_manager, task.tree_id)
    progress = [
        (event.data["progress"], event.data.get("message"))
        for event in events
        if event.type is EventType.PROGRESS and event.task_id == task.id
    ]
    assert progress[:4] == [
        (0.25, "step 1 of 4"),
        (0.5, "step 2 of 4"),
        (0.75, "step 3 of 4"),
        (1.0, "step 4 of 4"),
    ]
    logs = [
        line
        for event in events
        if event.type is EventType.LOG
        for line in event.data["message"].split("\n")  # lines close together share an event
    ]
    assert "all steps done" in logs  # a message without a fraction is a log line
    assert any(line.startswith("sent Celery task 'tests.progress'") for line in logs)


async def test_the_notifier_works_with_an_async_redis_client(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    task = await call(worker, task_manager, "tests.async_notifier", 21)
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None
    assert (task.result["result"], task.result["source"]) == ({"doubled": 42}, "stream")
    events = await events_of(task_manager, task.tree_id)
    assert any(
        e.data.get("message") == "half way, async" for e in events if e.type is EventType.PROGRESS
    )


async def test_the_executor_honours_the_kits_contract(worker: WorkerProcess) -> None:
    await check_executor(
        CeleryTask,
        examples=[
            {"name": "my_task", "args": [{"field1": "a", "field2": 1}], "queue": worker.queue},
            {"name": "tests.with_result", "kwargs": {"value": [1, 2]}, "queue": worker.queue},
        ],
        cancel_inputs={"name": "tests.hold", "args": [marker(), 60], "queue": worker.queue},
    )


async def test_a_retry_after_a_remote_failure_sends_the_task_again(
    worker: WorkerProcess, task_manager: TaskManager
) -> None:
    failed = await call(worker, task_manager, "tests.fails", "first")
    assert failed.result is not None
    assert failed.result["celery_task_id"].endswith("-1")
    tree_id = await task_manager.retry_task(failed.id)  # celery.task: installed, so registered
    again = (await task_manager.wait(tree_id)).task
    assert (again.status, again.attempt, again.error_type) == (S.FAILED, 2, "QuotaExceeded")
    assert again.result is not None
    assert again.result["celery_task_id"].endswith("-2")


async def test_an_attempt_interrupted_by_a_crash_is_picked_up_not_sent_again(
    worker: WorkerProcess, redis_url: str, tmp_path: Path
) -> None:
    tag, db = marker(), f"sqlite:///{tmp_path / 'crash.db'}"
    inputs = {"name": "tests.hold", "args": [tag, 60], "queue": worker.queue, "timeout": 60}
    runner = await asyncio.create_subprocess_exec(
        *[sys.executable, str(TESTS / "run_tree_process.py"), db, "celery.task", repr(inputs)],
        stdout=asyncio.subprocess.PIPE,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        assert runner.stdout is not None
        tree_id = (await runner.stdout.readline()).decode().strip()
        await until(lambda: asyncio.to_thread(client.get, f"runs:{tag}"), "the Celery task to run")
    finally:
        runner.send_signal(signal.SIGKILL)  # the manager dies while it waits
        await runner.communicate()
    manager = TaskManager(create_session(db), settings=EngineSettings(lease_seconds=1.0))
    try:
        await until(manager.resume, "the lease of the dead manager to run out")
        client.set(f"release:{tag}", "1", ex=600)
        task = (await asyncio.wait_for(manager.wait(tree_id), WAIT_SECONDS)).task
    finally:
        await manager.close()
    assert task.status is S.COMPLETED, task.error
    assert task.attempt == 2
    assert [a.status for a in task.attempts] == [
        "interrupted",
        "completed",
    ]
    assert task.result is not None
    assert task.result["adopted"] is True
    assert task.result["celery_task_id"].endswith("-1")  # the first attempt's Celery task
    assert task.result["result"] == {"marker": tag}
    assert client.get(f"runs:{tag}") == b"1"  # it ran once


async def test_an_unreachable_broker_fails_naming_it_without_its_password(
    task_manager: TaskManager, redis_url: str
) -> None:
    task = await run_executor(
        CeleryTask,
        {"name": "my_task", "broker_url": "redis://user:s3cret@127.0.0.1:1/0", "timeout": 5},
        manager=task_manager,
    )
    assert (task.status, task.error_type) == (S.FAILED, CeleryUnavailable.__name__)
    assert task.error is not None
    assert "cannot reach the broker at redis://user:***@127.0.0.1:1/0" in task.error
    assert "s3cret" not in task.error


async def test_a_countdown_that_cannot_end_in_time_is_refused(task_manager: TaskManager) -> None:
    task = await run_executor(
        CeleryTask, {"name": "my_task", "countdown": 30, "timeout": 10}, manager=task_manager
    )
    assert (task.status, task.error_type) == (S.FAILED, "InputValidationError")
    assert task.error is not None
    assert task.error.startswith("inputs.countdown (30 s) must be less")
