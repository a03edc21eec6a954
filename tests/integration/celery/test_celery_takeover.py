"""kill -9 of the orchestrating process: its successor follows the attempts still running or
finished on workers instead of running them again — from where the stored events stop, so that
no progress or log line is stored twice, and a task parked in ``wait`` stays parked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import pytest
from celery_workers import SUPPORT, Worker
from test_celery_backend import celery_manager
from test_celery_failures import wait_for_count

from taskflow import Task, create_session
from taskflow.backends.celery import CelerySettings
from taskflow.events import EventType, TaskEvent

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

Stored = Callable[[Sequence[TaskEvent], Mapping[str, Task]], bool]


@contextlib.asynccontextmanager
async def orchestrator(
    url: str, env: Mapping[str, str], definition: Mapping[str, Any]
) -> AsyncIterator[str]:
    """An orchestrating process running ``definition``; yields its tree's id, and is killed
    with SIGKILL on the way out."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SUPPORT / "celery_orchestrator.py"), url, json.dumps(definition),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        yield line.decode().strip()
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()


async def stored(url: str, tree_id: str, check: Stored, what: str, timeout: float = 30) -> None:
    """Wait (polling the database, boundedly) until what is stored of the tree passes
    ``check(events, tasks by key)``."""
    repository = create_session(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            events = await repository.events.read(tree_id, limit=10_000)
            tasks = {t.key: t for t in await repository.get_tree_tasks(tree_id)}
            if check(events, tasks):
                return
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)
    finally:
        await repository.close()


def reported(events: Sequence[TaskEvent], task_id: str) -> tuple[list[str], list[str]]:
    """A task's progress messages and log lines, as stored, in order."""
    mine = [e for e in events if e.task_id == task_id]
    progress = [str(e.data["message"]) for e in mine if e.type is EventType.PROGRESS]
    logs = [line for e in mine if e.type is EventType.LOG for line in e.data["message"].split("\n")]
    return progress, logs


async def test_kill_9_of_the_orchestrator_then_takeover(
    postgres_url: str,
    celery_settings: CelerySettings,
    celery_env: dict[str, str],
    two_workers: list[Worker],
    redis_client: Any,
) -> None:
    prefix = celery_settings.key_prefix
    children = [
        {"key": "quick", "executor": "ct.noop", "inputs": {"counter": f"{prefix}:quick"}},
        {
            "key": "slow",
            "executor": "ct.unsafe",  # a re-run would fail it (NotRerunSafe): it must be followed
            "inputs": {"counter": f"{prefix}:slow", "seconds": 4},
            "dependencies": ["quick"],
        },
        {
            "key": "long",
            "executor": "ct.sleep",
            "inputs": {"counter": f"{prefix}:long", "seconds": 3},
        },
        {
            "key": "last",
            "executor": "ct.noop",
            "inputs": {"counter": f"{prefix}:last"},
            "dependencies": ["slow", "long"],
        },
    ]
    definition = {"name": "taken-over", "children": children}
    async with orchestrator(postgres_url, celery_env, definition) as tree_id:
        await wait_for_count(redis_client, f"{prefix}:slow", 1)
        await wait_for_count(redis_client, f"{prefix}:long", 1)
    manager = celery_manager(postgres_url, celery_settings)
    try:
        resumed = await manager.resume()
        assert tree_id in resumed
        tree = await asyncio.wait_for(manager.wait(tree_id), 60)
    finally:
        await manager.close()
    tasks = {n.task.key: n.task for n in tree.walk()}
    assert {k: t.status.value for k, t in tasks.items() if k != tree.task.key} == {
        "quick": "completed", "slow": "completed", "long": "completed", "last": "completed",
    }  # fmt: skip
    for key in ("quick", "slow", "long", "last"):
        assert int(redis_client.get(f"{prefix}:{key}")) == 1, key  # none ran twice
        assert tasks[key].attempt == 1, key


async def test_progress_and_logs_are_stored_once_across_a_takeover(
    postgres_url: str,
    celery_settings: CelerySettings,
    celery_env: dict[str, str],
    two_workers: list[Worker],
    redis_client: Any,
) -> None:
    steps = 16
    counter = f"{celery_settings.key_prefix}:chatty"
    inputs = {"counter": counter, "steps": steps, "seconds": 0.25}
    child = {"key": "chatty", "executor": "ct.chatty", "inputs": inputs}
    definition = {"name": "chatty", "children": [child]}
    before: list[str] = []

    def some_stored(events: Sequence[TaskEvent], tasks: Mapping[str, Task]) -> bool:
        before[:] = reported(events, tasks["chatty"].id)[0]
        return len(before) >= 4

    async with orchestrator(postgres_url, celery_env, definition) as tree_id:
        await stored(postgres_url, tree_id, some_stored, "the first progress to be stored")
    assert len(before) < steps  # killed while the attempt runs on
    manager = celery_manager(postgres_url, celery_settings)
    try:
        assert tree_id in await manager.resume()
        tree = await asyncio.wait_for(manager.wait(tree_id), 60)
        events = await manager.task_repository.events.read(tree_id, limit=10_000)
    finally:
        await manager.close()
    task = tree.find("chatty").task  # type: ignore[union-attr]
    progress, logs = reported(events, task.id)
    assert progress == [f"step {n}" for n in range(1, steps + 1)]  # each once, none lost
    assert logs == [f"line {n}" for n in range(1, steps + 1)]
    assert (task.status.value, task.attempt, task.cursor) == ("completed", 1, None)
    assert int(redis_client.get(counter)) == 1  # followed, not run again


async def test_a_task_parked_on_a_worker_stays_parked_across_a_takeover(
    postgres_url: str,
    celery_settings: CelerySettings,
    celery_env: dict[str, str],
    two_workers: list[Worker],
) -> None:
    definition = {"name": "parked", "children": [{"key": "approve", "executor": "ct.wait"}]}

    def parked(events: Sequence[TaskEvent], tasks: Mapping[str, Task]) -> bool:
        return tasks["approve"].waiting is not None

    async with orchestrator(postgres_url, celery_env, definition) as tree_id:
        await stored(postgres_url, tree_id, parked, "the task to be parked")
    manager = celery_manager(postgres_url, celery_settings)
    try:
        assert tree_id in await manager.resume()
        tasks = await manager.task_repository.get_tree_tasks(tree_id)
        approve = next(t for t in tasks if t.key == "approve")
        assert approve.waiting is not None
        await manager.notify(approve.id, "approval", {"by": "ann"})
        tree = await asyncio.wait_for(manager.wait(tree_id), 30)
        events = await manager.task_repository.events.read(tree_id, limit=10_000)
    finally:
        await manager.close()
    task = tree.find("approve").task  # type: ignore[union-attr]
    assert (task.status.value, task.attempt) == ("completed", 1)
    assert task.result is not None and task.result["approved"] == {"by": "ann"}
    kinds = [e.type for e in events if e.task_id == task.id]
    assert kinds.count(EventType.WAITING) == 1 and kinds.count(EventType.RESUMED) == 1
