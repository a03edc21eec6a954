"""Rate limits with the local backend: the achieved rate, measured; held tasks hold no slot."""

from __future__ import annotations

from typing import Any

import pytest

from taskflow import BaseTask, EngineSettings, TaskManager, create_session
from taskflow.exceptions import ConfigurationError, DefinitionError
from taskflow.executors import ExecutorRegistry


class Tick(BaseTask):
    """Does nothing, at most 10 times a second."""

    id = "rl.tick"
    rate_limit = "10/s"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {}


class Free(BaseTask):
    """Does nothing, unlimited."""

    id = "rl.free"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {}


def manager_on(url: str, **settings: Any) -> TaskManager:
    registry = ExecutorRegistry(discover_plugins=False)
    registry.register(Tick)
    registry.register(Free)
    return TaskManager(create_session(url, registry=registry), settings=EngineSettings(**settings))


async def run(manager: TaskManager, children: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        tree = await manager.run_tree({"name": "rates", "children": children})
    finally:
        await manager.close()
    return {n.task.key: n.task for n in tree.walk() if n.task.executor}


def achieved_rate(tasks: list[Any]) -> float:
    """Starts per second between the first start and the last."""
    starts = sorted(t.started_at for t in tasks)
    return (len(starts) - 1) / (starts[-1] - starts[0]).total_seconds()


@pytest.mark.slow
async def test_an_executor_rate_limit(sqlite_url: str) -> None:
    tasks = await run(
        manager_on(sqlite_url), [{"key": f"t{i}", "executor": "rl.tick"} for i in range(16)]
    )
    assert all(t.status.value == "completed" for t in tasks.values())
    assert 8.0 <= achieved_rate(list(tasks.values())) <= 10.5


@pytest.mark.slow
async def test_a_task_rate_limit_and_a_global_one(sqlite_url: str) -> None:
    own = [{"key": f"o{i}", "executor": "rl.free", "rate_limit": "20/s"} for i in range(11)]
    tasks = await run(manager_on(sqlite_url), own)
    assert 16.0 <= achieved_rate(list(tasks.values())) <= 21.0
    free = [{"key": f"f{i}", "executor": "rl.free"} for i in range(11)]
    tasks = await run(manager_on(sqlite_url, rate_limit="600/m"), free)
    assert 8.0 <= achieved_rate(list(tasks.values())) <= 10.5


@pytest.mark.slow
async def test_a_task_held_back_holds_no_slot(sqlite_url: str) -> None:
    limited = [{"key": f"l{i}", "executor": "rl.tick", "priority": 0} for i in range(8)]
    free = [{"key": f"f{i}", "executor": "rl.free", "priority": 3} for i in range(30)]
    tasks = await run(manager_on(sqlite_url, concurrency=1), limited + free)
    last_limited = max(t.started_at for k, t in tasks.items() if k.startswith("l"))
    last_free = max(t.completed_at for k, t in tasks.items() if k.startswith("f"))
    assert last_free < last_limited  # the free ones ran while the limited ones waited
    assert achieved_rate([t for k, t in tasks.items() if k.startswith("l")]) <= 10.5


async def test_malformed_rate_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="rate_limit"):
        EngineSettings(rate_limit="fast")
    with pytest.raises(ConfigurationError, match=r"rate_limits\['x'\]"):
        EngineSettings(rate_limits={"x": "0/m"})
    manager = manager_on("memory://")
    try:
        with pytest.raises(DefinitionError, match="rate_limit"):
            await manager.create_tree(
                {
                    "name": "t",
                    "children": [{"key": "a", "executor": "rl.free", "rate_limit": "10/d"}],
                }
            )
    finally:
        await manager.close()
