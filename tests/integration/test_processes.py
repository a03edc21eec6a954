"""Execution control across processes: real subprocesses running trees (tests/support/run_tree.py).

Each test runs on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from control_executors import ALL

from taskflow import TaskManager, TaskStatus
from taskflow.executors import registered

S = TaskStatus
SUPPORT = Path(__file__).resolve().parents[1] / "support"
CONCURRENCY = 10


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    with registered(*ALL):
        yield


def runner(db: str, *args: str, lease: float = 30.0) -> subprocess.Popen[str]:
    """Start tests/support/run_tree.py in its own process."""
    env = {**os.environ, "PYTHONPATH": str(SUPPORT)}
    command = [
        sys.executable,
        str(SUPPORT / "run_tree.py"),
        "--db",
        db,
        "--concurrency",
        str(CONCURRENCY),
        "--lease-seconds",
        str(lease),
        *args,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


async def until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll an async predicate (these are other processes: there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def status_of(manager: TaskManager, task_id: str) -> TaskStatus:
    return (await manager.task_repository.require_task(task_id)).status


async def test_a_cancel_from_another_process_stops_a_running_task(
    manager: TaskManager, database_url: str
) -> None:
    tree = await manager.create_tree(
        {"key": "root", "children": [{"key": "long", "executor": "test.cooperative"}]}
    )
    long_id = tree.find("long").task.id  # type: ignore[union-attr]
    process = runner(database_url, "run", tree.task.id)

    async def running() -> bool:
        return await status_of(manager, long_id) is S.IN_PROGRESS

    await until(running, what="the task to start in the other process")
    started = time.monotonic()
    await manager.cancel(long_id, "stop it from here")  # this manager does not run the tree

    async def cancelled() -> bool:
        return await status_of(manager, long_id) is S.CANCELLED

    await until(cancelled, timeout=5, what="the cancel to reach the other process")
    assert time.monotonic() - started < 1.5  # "within about a second"
    assert finish(process).splitlines()[-1] == "done cancelled"
    stored = await manager.task_repository.require_task(long_id)
    assert (
        stored.error == "stop it from here" and stored.result is not None
    )  # returned cooperatively
    tree_id = stored.tree_id
    assert await manager.task_repository.signals.pending([tree_id]) == []  # request consumed


async def test_a_wait_is_released_by_a_notify_from_another_process(
    manager: TaskManager, database_url: str
) -> None:
    tree = await manager.create_tree(
        {"key": "root", "children": [{"key": "approve", "executor": "test.waiter"}]}
    )
    approve_id = tree.find("approve").task.id  # type: ignore[union-attr]
    process = runner(database_url, "run", tree.task.id)

    async def parked() -> bool:
        events = await manager.task_repository.events.read(tree.task.id)
        return any(e.type.value == "waiting" for e in events)

    await until(parked, what="the task to wait")
    finish(runner(database_url, "notify", approve_id, "approval", json.dumps({"by": "bob"})))
    assert finish(process).splitlines()[-1] == "done completed"
    stored = await manager.task_repository.require_task(approve_id)
    assert stored.result == {"received": {"by": "bob"}}


@pytest.mark.slow
async def test_sigkill_mid_run_then_resume_in_a_new_process(
    manager: TaskManager, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "ran.txt"
    log.touch()
    children = [
        {
            "key": f"t{i:03d}",
            "executor": "test.append",
            "inputs": {"file": str(log), "seconds": 0.02},
        }
        for i in range(300)
    ]
    tree = await manager.create_tree({"key": "root", "children": children})
    first = runner(database_url, "run", tree.task.id, lease=1.0)
    while len(log.read_text().splitlines()) < 100:  # about a third done
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        await asyncio.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)  # reap it and close its pipes
    at_kill = {t.key: t.status for t in await manager.task_repository.get_tree_tasks(tree.task.id)}
    in_flight = {
        key for key, status in at_kill.items() if status is S.IN_PROGRESS and key != "root"
    }
    completed_at_kill = {key for key, status in at_kill.items() if status is S.COMPLETED}
    assert in_flight and len(in_flight) <= CONCURRENCY
    assert 0 < len(completed_at_kill) < 300

    await asyncio.sleep(1.2)  # the dead manager's lease runs out
    out = finish(runner(database_url, "resume"))
    assert out.splitlines()[-1] == "resumed 1 completed"
    final = await manager.task_repository.get_tree_tasks(tree.task.id)
    assert {t.status for t in final} == {S.COMPLETED}
    runs = collections.Counter(log.read_text().split())
    assert set(runs) == {f"t{i:03d}" for i in range(300)}  # every task ran
    ran_twice = {key for key, count in runs.items() if count > 1}
    assert ran_twice <= in_flight  # only tasks in flight at the kill ran again...
    assert not ran_twice & completed_at_kill  # ...and no completed task ran twice
    assert max(runs.values()) <= 2
    assert all(t.attempt == 2 for t in final if t.key in in_flight)
    assert all(t.attempt == 1 for t in final if t.key in completed_at_kill)


async def test_an_interrupted_task_that_is_not_safe_to_rerun_fails(
    manager: TaskManager, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "ran.txt"
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                {
                    "key": "once",
                    "executor": "test.not_safe",
                    "inputs": {"file": str(log), "seconds": 30},
                },
                {"key": "needs_it", "executor": "noop", "dependencies": ["once"]},
                {
                    "key": "optional",
                    "executor": "noop",
                    "dependencies": [{"id": "once", "required": False}],
                },
            ],
        }
    )
    once_id = tree.find("once").task.id  # type: ignore[union-attr]
    first = runner(database_url, "run", tree.task.id, lease=1.0)

    async def running() -> bool:
        return await status_of(manager, once_id) is S.IN_PROGRESS

    await until(running, what="the task to start")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)  # reap it and close its pipes
    await asyncio.sleep(1.2)
    assert finish(runner(database_url, "resume")).splitlines()[-1] == "resumed 1 failed"
    stored = await manager.task_repository.require_task(once_id)
    assert (stored.status, stored.error_type) == (S.FAILED, "NotRerunSafe")
    assert "not safe to re-run" in (stored.error or "")
    assert [a.status for a in stored.attempts] == ["interrupted"]
    final = {t.key: t for t in await manager.task_repository.get_tree_tasks(tree.task.id)}
    assert (final["needs_it"].status, final["needs_it"].error_type) == (
        S.CANCELLED,
        "DependencyFailed",
    )
    assert final["optional"].status is S.COMPLETED
    assert (final["root"].status, final["root"].error_type) == (S.FAILED, "ChildrenFailed")
    assert not log.exists()  # it never ran to the end, and was not run again
