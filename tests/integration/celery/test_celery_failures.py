"""What survives which failure: a worker killed, a pool process killed, a message delivered
twice, a redelivery of an executor that is not safe to re-run, a result too large."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
from celery_workers import Worker
from test_celery_backend import celery_manager

from taskflow.backends.celery import CelerySettings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
RETRY = {"max_retries": 2, "backoff": 0, "retry_on": ["WorkerLost"]}


async def wait_for_count(redis_client: Any, key: str, count: int, timeout: float = 30) -> None:
    """Wait (polling Redis, boundedly) until the side effect ``key`` happened ``count`` times."""
    deadline = time.monotonic() + timeout
    while int(redis_client.get(key) or 0) < count:
        assert time.monotonic() < deadline, f"{key} never reached {count}"
        await asyncio.sleep(0.05)


def running_on(workers: list[Worker], pid: int) -> Worker:
    """The worker whose pool process is ``pid``."""
    return next(w for w in workers if pid in w.children())


def sleeper(key: str, counter: str, seconds: float, **extra: Any) -> dict[str, Any]:
    """A task running ``seconds`` that counts its runs in ``counter``."""
    inputs = {"seconds": seconds, "counter": counter}
    return {"key": key, "executor": "ct.sleep", "inputs": inputs, **extra}


async def test_kill_9_of_a_worker_main_process_retries_on_the_other(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker], redis_client: Any
) -> None:
    counter = f"{celery_settings.key_prefix}:count"
    manager = celery_manager(postgres_url, celery_settings)
    tree = {"name": "killed", "children": [sleeper("slow", counter, 6, retry=RETRY)]}
    try:
        running = asyncio.ensure_future(manager.run_tree(tree))
        await wait_for_count(redis_client, counter, 1)
        first_pid = int(redis_client.lindex(f"{counter}:pids", 0))
        victim = running_on(two_workers, first_pid)
        os.kill(victim.process.pid, signal.SIGKILL)
        result = await asyncio.wait_for(running, 60)
    finally:
        await manager.close()
    node = next(n for n in result.walk() if n.task.key == "slow")
    assert node.task.status.value == "completed", node.task.error
    assert [a.error_type for a in node.task.attempts][:1] == ["WorkerLost"]
    assert node.result is not None
    assert node.result["pid"] != first_pid
    assert node.result["pid"] in two_workers[1 - two_workers.index(victim)].children()
    assert int(redis_client.get(counter)) <= 2


async def test_kill_9_of_a_pool_process(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker], redis_client: Any
) -> None:
    counter = f"{celery_settings.key_prefix}:count"
    manager = celery_manager(postgres_url, celery_settings)
    tree = {"name": "child", "children": [sleeper("slow", counter, 4, retry=RETRY)]}
    try:
        running = asyncio.ensure_future(manager.run_tree(tree))
        await wait_for_count(redis_client, counter, 1)
        os.kill(int(redis_client.lindex(f"{counter}:pids", 0)), signal.SIGKILL)
        result = await asyncio.wait_for(running, 60)
    finally:
        await manager.close()
    node = next(n for n in result.walk() if n.task.key == "slow")
    assert node.task.status.value == "completed", node.task.error
    assert [a.error_type for a in node.task.attempts][:1] == ["WorkerLost"]
    assert int(redis_client.get(counter)) == 2  # the redelivered message did not run it again


async def test_a_visibility_timeout_shorter_than_the_task_runs_it_once(
    postgres_url: str, redis_url: str, celery_env: dict[str, str], redis_client: Any
) -> None:
    from celery_workers import workers

    env = {**celery_env, "TASKFLOW_CELERY_VISIBILITY_TIMEOUT": "2"}
    settings = CelerySettings.from_env(env)
    counter = f"{settings.key_prefix}:count"
    with workers(env, env["TASKFLOW_CELERY_QUEUE"]):
        manager = celery_manager(postgres_url, settings)
        tree = {"name": "visible", "children": [sleeper("long", counter, 7)]}
        try:
            result = await asyncio.wait_for(manager.run_tree(tree), 60)
        finally:
            await manager.close()
    node = next(n for n in result.walk() if n.task.key == "long")
    deliveries = redis_client.get(f"{settings.key_prefix}:deliveries:{node.task.id}.1")
    assert node.task.status.value == "completed", node.task.error
    assert int(deliveries) >= 2  # the broker handed the message out again while it ran
    assert int(redis_client.get(counter)) == 1  # and it ran once


async def test_a_result_too_large_fails_with_a_clear_error(
    postgres_url: str, celery_env: dict[str, str]
) -> None:
    from celery_workers import workers

    env = {**celery_env, "TASKFLOW_CELERY_MAX_RESULT_BYTES": "10000"}
    settings = CelerySettings.from_env(env)
    with workers(env, env["TASKFLOW_CELERY_QUEUE"], count=1):
        manager = celery_manager(postgres_url, settings)
        children = [
            {"key": "big", "executor": "ct.big", "inputs": {"size": 20000}},
            {"key": "small", "executor": "ct.big", "inputs": {"size": 100}},
        ]
        try:
            result = await asyncio.wait_for(
                manager.run_tree({"name": "big", "children": children}), 60
            )
        finally:
            await manager.close()
    nodes = {n.task.key: n.task for n in result.walk()}
    assert nodes["small"].status.value == "completed"
    assert nodes["big"].status.value == "failed"
    assert nodes["big"].error_type == "ResultError"
    assert "max_result_bytes" in (nodes["big"].error or "")
    assert ".1: its outcome is" in (nodes["big"].error or "")
