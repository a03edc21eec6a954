"""PostgreSQL connections that die under a running tree: the engine's batches are written as
single statements straight through the driver, and a connection killed by the server
(``pg_terminate_backend``, as a restart or a failover does) must cost a retry, not the tree."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from taskflow import BaseTask, EngineSettings, TaskManager, TaskStatus, create_session
from taskflow.executors import registered

pytestmark = pytest.mark.postgres
RUNS: collections.Counter[str] = collections.Counter()


class Tick(BaseTask):
    """Counts its runs, then takes a moment."""

    id = "test.tick"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        RUNS[self.context.key] += 1
        await asyncio.sleep(0.01)
        return {"key": self.context.key}


async def _kill_connections(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def test_connections_killed_mid_run_cost_a_retry_not_the_tree(postgres_url: str) -> None:
    RUNS.clear()
    chain = [{"key": "t0", "executor": "test.tick"}] + [
        {"key": f"t{i}", "executor": "test.tick", "dependencies": [f"t{i - 1}"]}
        for i in range(1, 60)
    ]
    with registered(Tick):
        manager = TaskManager(
            create_session(postgres_url), settings=EngineSettings(commit_retry_seconds=10)
        )
        try:
            tree_id = await manager.launch({"name": "killed", "children": chain})
            killed = 0
            for _ in range(4):
                await asyncio.sleep(0.15)
                killed += await _kill_connections(postgres_url)
            tree = await asyncio.wait_for(manager.wait(tree_id), 60)
        finally:
            await manager.close()
    assert killed >= 4  # the pool's connections were there, and were killed
    statuses = {n.task.key: n.task.status for n in tree.walk()}
    assert set(statuses.values()) == {TaskStatus.COMPLETED}, statuses
    assert sorted(RUNS.values()) == [1] * 60  # none ran twice
