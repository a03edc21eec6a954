"""Hundreds of generated trees with random failures, raises, hangs, cancels and odd values.

After each tree the invariants the engine promises are checked against what is stored: every
task terminal, the tree's record finished with its status rolled up from all of them and its
lease let go, no completed task run to completion twice, and events consistent with states.
The random seed is printed with any failure, so a failing case can be replayed
(``TASKFLOW_FUZZ_SEED``). On a SQLite file; bounded to well under a minute.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from taskflow import BaseTask, EngineSettings, TaskManager, TaskStatus, create_session
from taskflow.events import EventType
from taskflow.executors import Retry, registered
from taskflow.models import TERMINAL_STATUSES, rolled_up_status

S = TaskStatus
TREES = 240
AT_ONCE = 24
RETURNED: collections.Counter[str] = collections.Counter()  # task id -> successful returns
BEHAVIOURS = ["ok"] * 6 + ["fail", "raise", "exit", "hang", "nan", "nul", "slow", "retry", "bigkey"]
_END_EVENT = {
    EventType.COMPLETED: S.COMPLETED,
    EventType.FAILED: S.FAILED,
    EventType.CANCELLED: S.CANCELLED,
}


class Chaos(BaseTask):
    """Does what its ``behaviour`` input says."""

    id = "test.chaos"
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    async def execute(self, inputs: dict[str, Any]) -> Any:
        behaviour = inputs["behaviour"]
        await asyncio.sleep(inputs.get("delay", 0))
        if behaviour == "fail":
            return {"status": "failed", "error": "asked to fail"}
        if behaviour == "raise":
            raise ValueError("asked to raise")
        if behaviour == "exit":
            raise SystemExit(3)
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if behaviour == "slow":
            await asyncio.sleep(0.2)
        if behaviour == "retry" and self.context.attempt < 2:
            raise Retry(delay=0.01)
        result: dict[Any, Any] = {"attempt": self.context.attempt}
        if behaviour == "nan":
            result["x"] = float("nan")
        elif behaviour == "nul":
            result["x"] = "a\x00b"
        elif behaviour == "bigkey":
            result[7] = "int key"
        RETURNED[self.context.task_id] += 1
        return result


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    RETURNED.clear()
    with registered(Chaos):
        yield


def generate(rng: random.Random, name: str) -> dict[str, Any]:
    """A random tree: nested groups, dependencies, retries, time limits, a deadline."""
    counter = iter(range(10_000))

    def task(depth: int, siblings: list[str]) -> dict[str, Any]:
        key = f"k{next(counter)}"
        if depth < 2 and rng.random() < 0.25:
            children: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 4)):
                children.append(task(depth + 1, [c["key"] for c in children]))
            spec: dict[str, Any] = {"key": key, "children": children}
        else:
            behaviour = rng.choice(BEHAVIOURS)
            spec = {
                "key": key,
                "executor": "test.chaos",
                "inputs": {"behaviour": behaviour, "delay": rng.choice([0, 0, 0.01, 0.03])},
            }
            if behaviour == "hang" or rng.random() < 0.2:
                spec["timeout"] = rng.choice([0.05, 0.1, 0.3])
            if rng.random() < 0.3:
                spec["retry"] = {"max_retries": rng.randint(1, 2), "backoff": 0.01, "jitter": False}
        if siblings and rng.random() < 0.4:
            spec["dependencies"] = [
                {"id": dep, "required": rng.random() < 0.7}
                for dep in rng.sample(siblings, rng.randint(1, min(2, len(siblings))))
            ]
        return spec

    children = []
    for _ in range(rng.randint(2, 8)):
        children.append(task(1, [c["key"] for c in children]))
    tree: dict[str, Any] = {"key": name, "children": children}
    if rng.random() < 0.15:
        tree["deadline"] = rng.choice([0.1, 0.3, 1.0])
    return tree


async def run_one(manager: TaskManager, rng: random.Random, index: int) -> str:
    tree_id = await manager.launch(generate(rng, f"t{index}"))
    if rng.random() < 0.2:  # a cancel at a random moment, of the tree or of one of its tasks
        await asyncio.sleep(rng.choice([0, 0.01, 0.05, 0.15]))
        tasks = await manager.task_repository.get_tree_tasks(tree_id)
        await manager.cancel(rng.choice(tasks).id, "chaos cancel")
    await manager.wait(tree_id)
    return tree_id


async def check(manager: TaskManager, tree_id: str) -> None:
    repository = manager.task_repository
    tasks = await repository.get_tree_tasks(tree_id)
    record = await repository.require_tree(tree_id)
    unfinished = [t.key for t in tasks if t.status not in TERMINAL_STATUSES]
    assert unfinished == [], f"left unfinished: {unfinished}"
    assert record.status == rolled_up_status(t.status for t in tasks)
    assert record.lease.owner is None and record.finished_at is not None
    for task in tasks:
        returned = RETURNED[task.id]
        assert returned <= 1, f"{task.key} ran to completion {returned} times"
        if task.status is S.COMPLETED and not task.is_group:
            assert returned == 1, f"{task.key} completed without its executor returning"
    events = await repository.events.read(tree_id, limit=100_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    last_end: dict[str, TaskStatus] = {}
    for event in events:
        if event.type in _END_EVENT:
            last_end[event.task_id] = _END_EVENT[event.type]
    for task in tasks:
        assert last_end.get(task.id) is task.status, (task.key, task.status, last_end.get(task.id))


@pytest.mark.slow
async def test_generated_trees_keep_every_promise(sqlite_url: str) -> None:
    seed = int(os.environ.get("TASKFLOW_FUZZ_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    print(f"fuzz seed {seed} (TASKFLOW_FUZZ_SEED={seed} repeats this run)")  # shown on failure
    settings = EngineSettings(concurrency=60, cancel_grace_seconds=0.2, poll_seconds=0.2)
    manager = TaskManager(create_session(sqlite_url), settings=settings)
    failures: list[str] = []
    try:
        for start in range(0, TREES, AT_ONCE):
            batch = [run_one(manager, rng, i) for i in range(start, min(start + AT_ONCE, TREES))]
            for tree_id in await asyncio.wait_for(asyncio.gather(*batch), 60):
                try:
                    await check(manager, tree_id)
                except AssertionError as exc:
                    failures.append(f"tree {tree_id}: {exc}")
    finally:
        await manager.close()
    assert failures == [], f"seed {seed}: " + "; ".join(failures[:5])
