"""Controlling attempts on workers: cancel (cooperative, then forced), notify, and a tree that
mixes tasks run here and on workers."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from celery_workers import Worker
from test_celery_backend import celery_manager
from test_celery_failures import wait_for_count

from taskflow import TaskManager
from taskflow.backends.celery import CelerySettings
from taskflow.backends.celery.protocol import Keys, decode

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def wait_until(manager: TaskManager, tree_id: str, key: str, check: Any) -> Any:
    """The task ``key`` of the tree, once ``check(task)`` holds (polling, boundedly)."""
    deadline = time.monotonic() + 30
    while True:
        tree = await manager.task_repository.get_task_tree(tree_id)
        task = next(n.task for n in tree.walk() if n.task.key == key)
        if check(task):
            return task
        assert time.monotonic() < deadline, f"{key}: {task}"
        await asyncio.sleep(0.1)


async def test_cancel_cooperative_then_forced(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker], redis_client: Any
) -> None:
    counter = f"{celery_settings.key_prefix}:count"
    manager = celery_manager(postgres_url, celery_settings, cancel_grace_seconds=1.0)
    children = [
        {"key": "polite", "executor": "ct.polite", "inputs": {"counter": counter}},
        {"key": "stuck", "executor": "ct.block", "inputs": {"counter": counter, "seconds": 60}},
    ]
    try:
        tree_id = await manager.launch({"name": "cancels", "children": children})
        await wait_for_count(redis_client, counter, 2)
        tree = await manager.task_repository.get_task_tree(tree_id)
        ids = {n.task.key: n.task.id for n in tree.walk()}
        started = time.monotonic()
        await manager.cancel(ids["polite"], "enough")
        await manager.cancel(ids["stuck"], "enough")
        result = await asyncio.wait_for(manager.wait(tree_id), 30)
        took = time.monotonic() - started
    finally:
        await manager.close()
    tasks = {n.task.key: n.task for n in result.walk()}
    assert tasks["polite"].status.value == "cancelled"
    assert tasks["polite"].result == {"partial": True, "pid": tasks["polite"].result["pid"]}
    assert tasks["polite"].error == "enough"
    assert tasks["stuck"].status.value == "cancelled"
    assert tasks["stuck"].error == "enough (stopped by force)"
    assert took < 1.0 + celery_settings.force_margin_seconds + 5
    # revoke(terminate=True) interrupted the blocked process: it ended long before its 60 s
    stream = Keys(celery_settings.key_prefix).stream(f"{ids['stuck']}.1")
    deadline = time.monotonic() + 5
    while "done" not in [decode(f)[0] for _, f in redis_client.xrange(stream)]:
        assert time.monotonic() < deadline, "the blocked attempt is still running"
        await asyncio.sleep(0.1)


async def test_notify_reaches_a_task_waiting_on_a_worker(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker]
) -> None:
    manager = celery_manager(postgres_url, celery_settings)
    children = [{"key": "approve", "executor": "ct.wait"}]
    try:
        tree_id = await manager.launch({"name": "waits", "children": children})
        task = await wait_until(manager, tree_id, "approve", lambda t: t.waiting is not None)
        await manager.notify(task.id, "approval", {"by": "ann"})
        result = await asyncio.wait_for(manager.wait(tree_id), 30)
    finally:
        await manager.close()
    node = next(n for n in result.walk() if n.task.key == "approve")
    assert node.task.status.value == "completed", node.task.error
    assert node.result is not None
    assert node.result["approved"] == {"by": "ann"}
    assert node.result["pid"] in {pid for w in two_workers for pid in w.children()}


async def test_a_tree_mixing_local_and_celery_tasks(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker]
) -> None:
    manager = celery_manager(postgres_url, celery_settings)
    children = [
        {"key": "remote", "executor": "ct.noop"},
        {"key": "here", "executor": "ct.here", "dependencies": ["remote"]},
        {"key": "after", "executor": "ct.noop", "dependencies": ["here"]},
    ]
    try:
        result = await asyncio.wait_for(
            manager.run_tree({"name": "mixed", "children": children}), 30
        )
    finally:
        await manager.close()
    pids = {n.task.key: (n.result or {}).get("pid") for n in result.walk() if n.task.executor}
    workers = {pid for w in two_workers for pid in w.children()}
    assert pids["here"] == os.getpid()
    assert pids["remote"] in workers
    assert pids["after"] in workers


async def test_routing_by_task_queue_and_by_routes(
    postgres_url: str, celery_env: dict[str, str]
) -> None:
    from celery_workers import workers

    main, other = celery_env["TASKFLOW_CELERY_QUEUE"], celery_env["TASKFLOW_CELERY_QUEUE"] + "-b"
    env = {**celery_env, "TASKFLOW_CELERY_ROUTES": f"ct.sleep={other}"}
    settings = CelerySettings.from_env(env)
    with workers(env, main, count=1) as (on_main,), workers(env, other, count=1) as (on_other,):
        manager = celery_manager(postgres_url, settings)
        children = [
            {"key": "default", "executor": "ct.noop"},
            {"key": "own", "executor": "ct.noop", "queue": other},
            {"key": "routed", "executor": "ct.sleep", "inputs": {"seconds": 0.1}},
        ]
        try:
            result = await asyncio.wait_for(
                manager.run_tree({"name": "routes", "children": children}), 30
            )
        finally:
            await manager.close()
        pids = {n.task.key: (n.result or {}).get("pid") for n in result.walk() if n.task.executor}
        assert pids["default"] in on_main.children()
        assert pids["own"] in on_other.children()
        assert pids["routed"] in on_other.children()


async def test_time_limits_and_logs_on_a_worker(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker]
) -> None:
    manager = celery_manager(postgres_url, celery_settings)
    logs: list[Any] = []
    manager.events.subscribe(lambda e: logs.append(e) if e.type.value == "log" else None)
    children = [
        {"key": "late", "executor": "ct.sleep", "inputs": {"seconds": 10}, "timeout": 1},
        {"key": "fine", "executor": "ct.sleep", "inputs": {"seconds": 0.3}},
    ]
    try:
        started = time.monotonic()
        result = await asyncio.wait_for(
            manager.run_tree({"name": "limits", "children": children}), 30
        )
        took = time.monotonic() - started
    finally:
        await manager.close()
    tasks = {n.task.key: n.task for n in result.walk()}
    assert tasks["late"].status.value == "failed"
    assert tasks["late"].error_type == "TaskTimeout"
    assert took < 8  # stopped on the worker at its limit, not after its 10 s
    assert tasks["fine"].status.value == "completed"
    assert any(e.data.get("message") == "slept" for e in logs), logs
