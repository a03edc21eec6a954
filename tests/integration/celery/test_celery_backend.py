"""The Celery backend with real workers, real Redis and real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskflow import EngineSettings, TaskManager, create_session
from taskflow.backends.celery import CelerySettings
from taskflow.events import EventType
from taskflow.executors import get_registry
from taskflow.runtime.manager import build_celery_backend

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def celery_manager(url: str, settings: CelerySettings, **engine: Any) -> TaskManager:
    """A manager on ``url`` whose attempts run on the test's workers."""
    import celery_executors  # noqa: F401  (registers the executors here too)

    registry = get_registry()
    return TaskManager(
        create_session(url),
        settings=EngineSettings(**engine),
        backend=build_celery_backend(registry, settings),
    )


async def one_tree_each(managers: list[TaskManager], children: list[Any]) -> list[Any]:
    """Run one tree of ``children`` on each manager at once (then close them); the tasks
    with an executor, of all the trees."""

    async def run(manager: TaskManager, name: str) -> list[Any]:
        tree = await manager.run_tree({"name": name, "children": children})
        return [n.task for n in tree.walk() if n.task.executor]

    try:
        trees = await asyncio.wait_for(
            asyncio.gather(*(run(m, f"tree-{i}") for i, m in enumerate(managers))), 60
        )
    finally:
        for manager in managers:
            await manager.close()
    return [task for tree in trees for task in tree]


async def test_a_tree_of_200_tasks_over_two_workers(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Any]
) -> None:
    manager = celery_manager(postgres_url, celery_settings, concurrency=50)
    progress: list[Any] = []
    manager.events.subscribe(lambda e: progress.append(e) if e.type is EventType.PROGRESS else None)
    children = [{"key": f"t{i}", "executor": "ct.noop", "inputs": {"n": i}} for i in range(200)]
    try:
        tree = await asyncio.wait_for(manager.run_tree({"name": "wide", "children": children}), 90)
    finally:
        await manager.close()
    results = [node.result for node in tree.walk() if node.task.executor == "ct.noop"]
    assert len(results) == 200
    assert all(node.task.status.value == "completed" for node in tree.walk()), [
        (n.task.key, n.task.error) for n in tree.walk() if n.task.status.value != "completed"
    ]
    pids = {result["pid"] for result in results}
    assert len(pids) == 2  # both workers ran some
    assert sorted(result["n"] for result in results) == list(range(200))
    assert len(progress) >= 200  # each reported from its worker


async def test_celery_own_command_runs_the_same_worker(
    postgres_url: str, celery_env: dict[str, str], celery_settings: CelerySettings
) -> None:
    from celery_workers import CELERY_WORKER, workers

    with workers(celery_env, celery_env["TASKFLOW_CELERY_QUEUE"], 1, CELERY_WORKER) as (one,):
        manager = celery_manager(postgres_url, celery_settings)
        children = [{"key": "a", "executor": "ct.sleep", "inputs": {"seconds": 0.2}}]
        try:
            tree = await asyncio.wait_for(
                manager.run_tree({"name": "plain", "children": children}), 30
            )
        finally:
            await manager.close()
        node = next(n for n in tree.walk() if n.task.key == "a")
        assert node.result is not None
        assert node.result["pid"] in one.children()


async def test_a_tree_from_others_runs_under_the_server_profile_on_the_workers(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Any]
) -> None:
    """The attempt carries its tree's profile to the worker process (started without
    ``TASKFLOW_TRUST``): a function name from a result is refused there."""
    from taskflow.api.trees import from_others

    children = [
        {"key": "pick", "executor": "noop", "inputs": {"function": "os:getcwd"}},
        {"key": "call", "executor": "python.call", "dependencies": ["pick"],
         "inputs": {"function": "${pick.result.function}"}},
    ]  # fmt: skip
    manager = celery_manager(postgres_url, celery_settings)
    try:
        others = await asyncio.wait_for(
            manager.run_tree(from_others({"name": "others", "children": children})), 60
        )
        own = await asyncio.wait_for(manager.run_tree({"name": "own", "children": children}), 60)
    finally:
        await manager.close()
    call = next(n.task for n in others.walk() if n.task.key == "call")
    assert call.status.value == "failed" and "trust profile server" in (call.error or "")
    call = next(n.task for n in own.walk() if n.task.key == "call")
    assert call.status.value == "completed", call.error
    assert call.result is not None and "value" in call.result  # getcwd ran on a worker
