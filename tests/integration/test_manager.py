"""The TaskManager running trees, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from taskflow import (
    BaseTask,
    DefinitionError,
    TaskManager,
    TaskStatus,
    TaskTreeNode,
    TreeStatus,
    UnknownExecutor,
)
from taskflow.executors import registered

S = TaskStatus


class Journal:
    """What the recording executors saw: start order, and how many ran at once."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = 0
        self.peak = 0
        self.peak_by_executor: dict[str, int] = {}
        self.running_by_executor: dict[str, int] = {}


JOURNAL = Journal()


class Record(BaseTask):
    """Records when it starts; sleeps a little; can fail on demand."""

    id = "test.record"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "default": 0.0},
            "fail": {"type": "boolean", "default": False},
            "value": {},
        },
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        journal, me = JOURNAL, self.context.key
        journal.started.append(me)
        journal.running += 1
        journal.peak = max(journal.peak, journal.running)
        per = journal.running_by_executor
        per[self.id] = per.get(self.id, 0) + 1
        journal.peak_by_executor[self.id] = max(
            journal.peak_by_executor.get(self.id, 0), per[self.id]
        )
        try:
            await asyncio.sleep(inputs["seconds"])
            if inputs["fail"]:
                raise RuntimeError(f"{me} was told to fail")
            return {
                "key": me,
                "value": inputs.get("value"),
                "deps": dict(self.context.dependency_results),
            }
        finally:
            journal.running -= 1
            per[self.id] -= 1


class Limited(Record):
    id = "test.limited"
    max_concurrency = 2


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    global JOURNAL
    JOURNAL = Journal()
    with registered(Record, Limited):
        yield


def statuses(tree: TaskTreeNode) -> dict[str, str]:
    return {node.task.key: node.task.status.value for node in tree.walk()}


def rec(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "executor": "test.record", **extra}


MUST_SHOW = {
    "key": "root",
    "name": "fan-out, fan-in, optional dependency on a failure, priorities",
    "children": [
        {
            "key": "fetch",
            "name": "fetch stage",
            "children": [
                rec("a", priority=3, inputs={"value": 1}),
                rec("b", priority=0, inputs={"value": 2}),
                rec("c", priority=1, inputs={"value": 3}),
            ],
        },
        rec("flaky", inputs={"fail": True}),
        rec("join", dependencies=["a", "b", "c"], inputs={"value": "${b.result.value}"}),
        rec(
            "report",
            dependencies=["join", {"id": "flaky", "required": False}],
            inputs={"value": "flaky ended ${flaky.status}: ${flaky.error}"},
        ),
        rec("needs_flaky", dependencies=["flaky"]),
        rec("after_needs", dependencies=["needs_flaky"]),
        {"key": "merge", "executor": "aggregate", "dependencies": ["fetch", "report"]},
    ],
}


async def test_must_show_tree_ends_with_the_documented_statuses(manager: TaskManager) -> None:
    tree = await manager.run_tree(MUST_SHOW, user_id="alice")
    assert statuses(tree) == {
        "root": "failed",
        "fetch": "completed",
        "a": "completed",
        "b": "completed",
        "c": "completed",
        "flaky": "failed",
        "join": "completed",
        "report": "completed",
        "needs_flaky": "cancelled",
        "after_needs": "cancelled",
        "merge": "completed",
    }
    by_key = {node.task.key: node.task for node in tree.walk()}
    assert by_key["join"].result == {
        "key": "join",
        "value": 2,
        "deps": {
            "a": {"key": "a", "value": 1, "deps": {}},
            "b": {"key": "b", "value": 2, "deps": {}},
            "c": {"key": "c", "value": 3, "deps": {}},
        },
    }
    assert by_key["report"].result is not None
    assert by_key["report"].result["value"] == "flaky ended failed: flaky was told to fail"
    assert by_key["needs_flaky"].error == "required dependency 'flaky' ended failed"
    assert by_key["needs_flaky"].error_type == "DependencyFailed"
    assert by_key["after_needs"].error == "required dependency 'needs_flaky' ended cancelled"
    assert by_key["flaky"].error_type == "RuntimeError" and "Traceback" in (
        by_key["flaky"].traceback or ""
    )
    assert by_key["root"].error_type == "ChildrenFailed" and "flaky" in (by_key["root"].error or "")
    assert set(by_key["merge"].result or {}) == {"fetch", "report"}
    assert by_key["fetch"].result is None  # a group's result is not stored: it is its children's
    assert tree.find("fetch").result == {k: by_key[k].result for k in "abc"}  # type: ignore[union-attr]
    # The database says exactly what the returned tree says.
    stored = await manager.task_repository.get_task_tree(tree.task.id)
    assert [n.task for n in stored.walk()] == [n.task for n in tree.walk()]
    for task in stored.tasks():
        assert task.is_terminal and task.user_id == "alice"
        assert task.completed_at is not None and task.updated_at >= task.created_at
        if task.executor is not None and task.status is not S.CANCELLED:
            assert task.started_at is not None and task.attempt == 1


async def test_priority_orders_the_ready_queue_and_ties_are_fifo(make_manager: Any) -> None:
    manager = make_manager(concurrency=1)
    children = [
        rec("low1", priority=3),
        rec("norm1"),
        rec("urgent", priority=0),
        rec("norm2"),
        rec("low2", priority=3),
        rec("high", priority=1),
        rec("first_dep", priority=3),
        rec("urgent_after", priority=0, dependencies=["first_dep"]),
    ]
    await manager.run_tree({"name": "r", "children": children})
    assert JOURNAL.started == [
        "urgent",
        "high",
        "norm1",
        "norm2",
        "low1",
        "low2",
        "first_dep",
        "urgent_after",
    ]


async def test_priority_is_a_queue_not_a_barrier(make_manager: Any) -> None:
    manager = make_manager(concurrency=2)
    await manager.run_tree(
        {
            "name": "r",
            "children": [
                rec("urgent_long", priority=0, inputs={"seconds": 0.3}),
                rec("low", priority=3, inputs={"seconds": 0.05}),
            ],
        }
    )
    assert JOURNAL.peak == 2  # the low-priority task ran beside the urgent one


async def test_global_and_per_executor_concurrency_limits(make_manager: Any) -> None:
    manager = make_manager(concurrency=4, executor_limits={"test.record": 3})
    children = [rec(f"r{i}", inputs={"seconds": 0.05}) for i in range(8)]
    children += [
        {"key": f"l{i}", "executor": "test.limited", "inputs": {"seconds": 0.05}} for i in range(6)
    ]
    tree = await manager.run_tree({"name": "r", "children": children})
    assert tree.calculate_status() is S.COMPLETED
    assert JOURNAL.peak == 4
    assert JOURNAL.peak_by_executor == {"test.record": 3, "test.limited": 2}


async def test_independent_tasks_run_concurrently(manager: TaskManager) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await manager.run_tree(
        {"name": "r", "children": [rec(f"t{i}", inputs={"seconds": 0.3}) for i in range(8)]}
    )
    assert loop.time() - started < 1.2  # eight 0.3 s tasks, concurrency 8: not 2.4 s
    assert JOURNAL.peak == 8


async def test_groups_wait_for_children_and_dependents_wait_for_groups(
    manager: TaskManager,
) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                {"key": "stage1", "children": [rec("s1a", inputs={"seconds": 0.05}), rec("s1b")]},
                {"key": "stage2", "dependencies": ["stage1"], "children": [rec("s2a")]},
                rec("final", dependencies=["stage2"]),
            ],
        }
    )
    assert JOURNAL.started.index("final") > JOURNAL.started.index("s1a")
    assert statuses(tree) == dict.fromkeys(
        ["root", "stage1", "s1a", "s1b", "stage2", "s2a", "final"], "completed"
    )
    # Children of stage2 do not wait for stage2's dependency: structure is not order.
    assert JOURNAL.started.index("s2a") < JOURNAL.started.index("s1a") + 3


async def test_a_cancelled_group_cancels_its_subtree(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                rec("boom", inputs={"fail": True}),
                {
                    "key": "group",
                    "dependencies": ["boom"],
                    "children": [rec("inner", dependencies=["boom"])],
                },
            ],
        }
    )
    assert statuses(tree) == {
        "root": "failed",
        "boom": "failed",
        "group": "cancelled",
        "inner": "cancelled",
    }


async def test_a_child_may_depend_on_its_parent(manager: TaskManager) -> None:
    tree = await manager.run_tree(rec("parent", children=[rec("child", dependencies=["parent"])]))
    assert JOURNAL.started == ["parent", "child"]
    assert statuses(tree) == {"parent": "completed", "child": "completed"}


async def test_seed_style_single_task_and_tree_by_id(manager: TaskManager) -> None:
    repo = manager.task_repository
    root = await repo.create_task(name="root", executor=None, user_id="u")
    first = await repo.create_task(
        name="test.record", parent_id=root.id, key="first", inputs={"value": 5}
    )
    await repo.create_task(
        name="test.record",
        parent_id=root.id,
        key="second",
        dependencies=["first"],
        inputs={"value": "${first.result.value}"},
    )
    tree = await manager.distribute_task_tree(TaskTreeNode(first))  # the whole tree runs
    assert statuses(tree) == {root.key: "completed", "first": "completed", "second": "completed"}
    assert tree.find("second").task.result["value"] == 5  # type: ignore[union-attr]
    again = await manager.distribute_task_tree(root.id)  # finished: nothing runs again
    assert JOURNAL.started == ["first", "second"] and statuses(again) == statuses(tree)


async def test_completed_tasks_are_not_run_again_when_a_tree_grows(manager: TaskManager) -> None:
    tree = await manager.run_tree({"key": "r", "children": [rec("done")]})
    done = tree.find("done").task  # type: ignore[union-attr]
    repo = manager.task_repository
    assert (await repo.require_tree(tree.task.id)).status is TreeStatus.COMPLETED
    await repo.create_task("test.record", parent_id=tree.task.id, key="todo", dependencies=["done"])
    assert (await repo.require_tree(tree.task.id)).status is TreeStatus.IN_PROGRESS  # reopened
    final = await manager.distribute_task_tree(tree.task.id)
    assert JOURNAL.started == ["done", "todo"]
    assert final.find("todo").task.result["deps"] == {"done": done.result}  # type: ignore[union-attr]
    assert (await repo.require_tree(tree.task.id)).status is TreeStatus.COMPLETED


async def test_unknown_executor_is_refused_before_anything_is_written(manager: TaskManager) -> None:
    repo = manager.task_repository
    root = await repo.create_task(name="root", executor=None)
    await repo.create_task(name="test.record", parent_id=root.id, key="fine")
    with pytest.raises(UnknownExecutor, match=r"did you mean 'test\.record'"):
        await repo.create_task(name="test.recrod", parent_id=root.id, key="typo")
    assert JOURNAL.started == []
    assert [t.key for t in await repo.get_tree_tasks(root.id)] == [root.key, "fine"]


async def test_bad_definition_writes_nothing(manager: TaskManager) -> None:
    before = await manager.task_repository.list_tasks(limit=1000)
    with pytest.raises(DefinitionError, match="not upstream"):
        await manager.create_tree(
            {"key": "r", "children": [rec("a"), rec("b", inputs={"v": "${a.result}"})]}
        )
    assert await manager.task_repository.list_tasks(limit=1000) == before


async def test_every_task_ends_terminal_in_a_wide_random_tree(manager: TaskManager) -> None:
    import random

    rng = random.Random(7)
    children = []
    for i in range(120):
        deps = [
            {"id": f"t{j}", "required": rng.random() < 0.7}
            for j in rng.sample(range(i), min(i, rng.randint(0, 3)))
        ]
        children.append(
            rec(
                f"t{i}",
                dependencies=deps,
                priority=rng.randint(0, 3),
                inputs={"fail": rng.random() < 0.1},
            )
        )
    tree = await manager.run_tree({"key": "root", "children": children})
    stored = await manager.task_repository.get_tree_tasks(tree.task.id)
    assert all(t.is_terminal for t in stored)
    by_key = {t.key: t for t in stored}
    for spec in children:
        task = by_key[spec["key"]]
        failed_required = [
            d["id"]
            for d in spec["dependencies"]
            if d["required"] and by_key[d["id"]].status is not S.COMPLETED
        ]
        if failed_required:
            assert task.status is S.CANCELLED and task.error_type == "DependencyFailed"
        else:
            assert task.status is (S.FAILED if spec["inputs"]["fail"] else S.COMPLETED)


async def test_escaped_reference_is_unescaped_even_without_real_references(
    manager: TaskManager,
) -> None:
    tree = await manager.run_tree(
        {"key": "r", "children": [rec("a", inputs={"value": "cost: $${x.result}"})]}
    )
    assert tree.find("a").task.result["value"] == "cost: ${x.result}"  # type: ignore[union-attr]


async def test_the_context_attempt_is_the_tasks_attempt(manager: TaskManager) -> None:
    class Attempt(BaseTask):
        id = "test.attempt"

        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            return {"attempt": self.context.attempt}

    with registered(Attempt):
        tree = await manager.run_tree(
            {"key": "r", "children": [{"key": "a", "executor": "test.attempt"}]}
        )
    task = tree.find("a").task  # type: ignore[union-attr]
    assert (task.attempt, task.result) == (1, {"attempt": 1})


async def test_the_concurrency_limit_is_shared_by_every_tree_of_a_manager(
    make_manager: Any,
) -> None:
    manager = make_manager(concurrency=3)
    trees = [
        {"key": f"tree{n}", "children": [rec(f"t{i}", inputs={"seconds": 0.05}) for i in range(4)]}
        for n in range(3)
    ]
    results = await asyncio.gather(*(manager.run_tree(tree) for tree in trees))
    assert all(tree.calculate_status() is S.COMPLETED for tree in results)
    assert JOURNAL.peak == 3
