"""PostgreSQL connections that die under a running tree: the engine's batches are written as
single statements straight through the driver, and a connection killed by the server
(``pg_terminate_backend``, as a restart or a failover does) must cost a retry, not the tree."""

from __future__ import annotations

import asyncio
import collections
from datetime import timedelta
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


async def test_a_batch_looks_its_tasks_up_by_key_in_a_tree_just_inserted(
    postgres_url: str,
) -> None:
    """Until the next ANALYZE a freshly inserted tree looks small to the planner; a batch
    must still find its tasks by primary key, not by scanning the whole table each time."""
    from taskflow import build_tree
    from taskflow.engine.graph import Node
    from taskflow.models import TaskTree, TreeStatus, utcnow
    from taskflow.storage import LeaseClaim, TreeBatch, TreeState

    repository = create_session(postgres_url)
    storage: Any = repository.storage
    try:
        await repository.create_task(name="warm-up", executor=None)  # plan on a tiny table
        tasks = build_tree({"name": "big", "children": [{"key": f"t{i}"} for i in range(3000)]})
        await storage.insert(tasks, TaskTree.of(tasks[0], status=TreeStatus.QUEUED))
        now = utcnow()
        lease = await storage.leases.acquire(tasks[0].id, "m", now, now + timedelta(seconds=30))
        nodes = [Node(task) for task in tasks[1:201]]
        for node in nodes:
            node.touched(now)
            node.status = TaskStatus.IN_PROGRESS
        state = TreeState(
            status=TreeStatus.IN_PROGRESS, started_at=now, finished_at=None, updated_at=now,
            lease_expires_at=now + timedelta(seconds=30),
        )  # fmt: skip
        batch = TreeBatch(
            tree_id=tasks[0].id, claim=LeaseClaim("m", lease.token), tree=state,
            tasks=[n.written() for n in nodes],
        )  # fmt: skip
        step = storage._whole_batch(batch)
        direct = storage._writer.direct
        async with direct._connection() as conn:
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + step.sql, *step.rows))
    finally:
        await repository.close()
    assert "Seq Scan on taskflow_tasks" not in plan, plan
    assert "Index Scan using taskflow_tasks_pkey" in plan, plan
