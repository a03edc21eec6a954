"""Execution control (issue 3): progress, cancellation, time limits, retries, waits, callbacks.

Every test runs on a SQLite file and on PostgreSQL. Cross-process behaviour is exercised with
real subprocesses (tests/support/run_tree.py) in test_processes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from control_executors import ALL, STARTED

from taskflow import BaseTask, TaskManager, TaskStatus, TerminalOutcome, TreeBusy
from taskflow.events import EventType
from taskflow.executors import registered
from taskflow.models import utcnow

S = TaskStatus


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    with registered(*ALL):
        yield


def task(key: str, executor: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "executor": executor, **extra}


async def test_async_generator_progress_is_seen_in_order_by_a_subscriber(
    manager: TaskManager,
) -> None:
    tree = await manager.create_tree({"key": "root", "children": [task("steps", "test.steps")]})
    seen: list[tuple[str, Any]] = []

    async def watch() -> None:
        async for event in manager.subscribe(tree.task.id):
            seen.append((event.type.value, event.data.get("progress", event.data.get("key"))))

    watcher = asyncio.create_task(watch())
    final = await manager.distribute_task_tree(tree.task.id)
    await asyncio.wait_for(watcher, 5)
    steps = final.find("steps").task  # type: ignore[union-attr]
    assert (steps.status, steps.result, steps.progress) == (S.COMPLETED, {"steps": 3}, 1.0)
    progress = [value for kind, value in seen if kind == "progress"]
    assert progress == [0.25, 0.5, 0.75]
    kinds = [kind for kind, _ in seen]
    assert kinds.index("started") < kinds.index("progress") < kinds.index("completed")
    events = await manager.task_repository.events.read(tree.task.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    late = [e.seq async for e in manager.subscribe(tree.task.id, after=2)]
    assert late == list(range(3, len(events) + 1))  # a late subscriber misses nothing


async def _until_running(manager: TaskManager, task_id: str) -> None:
    for _ in range(200):
        if (await manager.get_state(task_id)).status is S.IN_PROGRESS:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the task never started")


@pytest.mark.parametrize(
    ("executor", "expected_result", "forced"),
    [
        ("test.cooperative", None, False),
        ("test.with_cancel", "partial", False),
        ("test.stubborn", None, True),
    ],
)
async def test_cancel_during_a_run(
    make_manager: Any, executor: str, expected_result: str | None, forced: bool
) -> None:
    manager = make_manager(concurrency=4, cancel_grace_seconds=0.5)
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task("victim", executor),
                task("after", "noop", dependencies=["victim"]),
                task("optional_after", "noop", dependencies=[{"id": "victim", "required": False}]),
            ],
        }
    )
    outcomes: list[TerminalOutcome] = []
    STARTED.discard("victim")
    tree_id = await manager.start(tree.task.id, on_terminal=outcomes.append)
    for _ in range(500):  # its executor runs (a cancel before it starts stops it at once)
        if "victim" in STARTED:
            break
        await asyncio.sleep(0.01)
    victim_id = tree.find("victim").task.id  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await manager.cancel(victim_id, "the user changed their mind")
    final = await manager.wait(tree_id)
    took = loop.time() - started
    by_key = {n.task.key: n.task for n in final.walk()}
    victim = by_key["victim"]
    assert victim.status is S.CANCELLED and victim.error is not None
    assert victim.error.startswith("the user changed their mind")
    assert (by_key["after"].status, by_key["after"].error_type) == (S.CANCELLED, "DependencyFailed")
    assert by_key["optional_after"].status is S.COMPLETED
    assert all(t.is_terminal for t in by_key.values())
    if expected_result == "partial":
        assert victim.result is not None and victim.result["partial_result"]["items_done"] > 0
        assert victim.result["task"] == "victim"
    if forced:
        assert took >= 0.5
        assert victim.error == "the user changed their mind (stopped by force)"
    else:
        assert took < 0.5
    assert sorted(o.task.key for o in outcomes) == sorted(by_key)  # once per task
    assert {o.signal for o in outcomes if o.task.key == "victim"} == {"cancel"}


async def test_cancelling_the_root_cancels_the_tree(manager: TaskManager) -> None:
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task("a", "test.cooperative"),
                task("b", "test.cooperative"),
                task("c", "noop", dependencies=["a"]),
            ],
        }
    )
    tree_id = await manager.start(tree.task.id)
    await _until_running(manager, tree.find("a").task.id)  # type: ignore[union-attr]
    await manager.cancel(tree_id)
    final = await manager.wait(tree_id)
    assert {n.task.key: n.task.status.value for n in final.walk()} == {
        "root": "cancelled",
        "a": "cancelled",
        "b": "cancelled",
        "c": "cancelled",
    }


async def test_cancelling_a_tree_that_nobody_runs(manager: TaskManager) -> None:
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task("a", "noop"),
                task("b", "noop", dependencies=["a"]),
                task("c", "noop"),
            ],
        }
    )
    await manager.cancel(tree.find("a").task.id, "not needed")  # type: ignore[union-attr]
    stored = {t.key: t for t in await manager.task_repository.get_tree_tasks(tree.task.id)}
    assert (stored["a"].status, stored["a"].error) == (S.CANCELLED, "not needed")
    assert (stored["b"].status, stored["b"].error_type) == (S.CANCELLED, "DependencyFailed")
    assert stored["c"].status is S.PENDING and stored["root"].status is S.PENDING
    assert await manager.resume() == []  # a tree never started is not "resumable"
    final = {n.task.key: n.task for n in (await manager.distribute_task_tree(tree.task.id)).walk()}
    assert final["c"].status is S.COMPLETED and final["root"].status is S.CANCELLED


async def test_hard_timeout_fails_the_attempt(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {"key": "root", "children": [task("slow", "test.stubborn", timeout=0.2)]}
    )
    slow = tree.find("slow").task  # type: ignore[union-attr]
    assert (slow.status, slow.error_type) == (S.FAILED, "TaskTimeout")
    assert "0.2 s time limit" in (slow.error or "")


async def test_soft_timeout_lets_the_executor_wrap_up(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {"key": "root", "children": [task("soft", "test.soft", soft_timeout=0.2, timeout=5)]}
    )
    soft = tree.find("soft").task  # type: ignore[union-attr]
    assert (
        soft.status is S.COMPLETED and soft.result is not None and soft.result["wrapped_up"] is True
    )


async def test_retries_with_backoff_keep_every_attempt(manager: TaskManager) -> None:
    policy = {"max_retries": 3, "backoff": 0.1, "factor": 2, "jitter": False}
    loop = asyncio.get_running_loop()
    started = loop.time()
    tree = await manager.run_tree(
        {"key": "root", "children": [task("flaky", "test.flaky", retry=policy)]}
    )
    took = loop.time() - started
    flaky = (await manager.task_repository.get_tree_tasks(tree.task.id))[1]
    assert (flaky.status, flaky.attempt, flaky.result) == (S.COMPLETED, 3, {"attempt": 3})
    assert [(a.attempt, a.status, a.error) for a in flaky.attempts] == [
        (1, "retrying", "attempt 1 failed"),
        (2, "retrying", "attempt 2 failed"),
        (3, "completed", None),
    ]
    assert took >= 0.3  # 0.1 s, then 0.2 s of backoff
    retrying = [
        e
        for e in await manager.task_repository.events.read(tree.task.id)
        if e.type is EventType.RETRYING
    ]
    assert len(retrying) == 2


async def test_retries_run_out(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                task(
                    "flaky",
                    "test.flaky",
                    retry={"max_retries": 1, "backoff": 0.01},
                    inputs={"succeed_on": 5},
                )
            ],
        }
    )
    flaky = tree.find("flaky").task  # type: ignore[union-attr]
    assert (flaky.status, flaky.attempt, flaky.error) == (S.FAILED, 2, "attempt 2 failed")
    assert [a.status for a in flaky.attempts] == ["retrying", "failed"]


async def test_only_listed_error_types_are_retried(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                task(
                    "flaky",
                    "test.flaky",
                    retry={"max_retries": 3, "backoff": 0.01, "retry_on": ["TimeoutError"]},
                )
            ],
        }
    )
    assert tree.find("flaky").task.attempt == 1  # type: ignore[union-attr]


async def test_explicit_retry_with_delay(manager: TaskManager) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                task(
                    "flaky", "test.flaky", inputs={"mode": "retry", "succeed_on": 3, "delay": 0.15}
                )
            ],
        }
    )
    flaky = tree.find("flaky").task  # type: ignore[union-attr]
    assert (flaky.status, flaky.attempt) == (S.COMPLETED, 3)
    assert loop.time() - started >= 0.3
    assert [a.error_type for a in flaky.attempts[:2]] == ["Retry", "Retry"]


async def test_a_retry_waits_without_holding_a_slot(make_manager: Any) -> None:
    manager = make_manager(concurrency=1)
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                task(
                    "flaky", "test.flaky", inputs={"mode": "retry", "succeed_on": 2, "delay": 0.3}
                ),
                task("other", "test.cooperative", inputs={"seconds": 0.1}),
            ],
        }
    )
    by_key = {n.task.key: n.task for n in tree.walk()}
    assert by_key["other"].completed_at is not None and by_key["flaky"].completed_at is not None
    assert by_key["other"].completed_at < by_key["flaky"].completed_at  # ran during the backoff


async def test_wait_released_by_notify_and_wait_timeout(make_manager: Any) -> None:
    manager = make_manager(concurrency=1)
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task("approve", "test.waiter"),
                task("quiet", "test.waiter", inputs={"key": "never", "timeout": 0.2}),
                task("busy", "test.cooperative", inputs={"seconds": 0.05}),
            ],
        }
    )
    approve_id = tree.find("approve").task.id  # type: ignore[union-attr]
    tree_id = await manager.start(tree.task.id)
    for _ in range(100):  # both waiters park; with one slot, "busy" can only run because they do
        if (await manager.get_state(tree.find("busy").task.id)).status is S.COMPLETED:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.02)
    await manager.notify(approve_id, "approval", {"by": "alice"})
    final = {n.task.key: n.task for n in (await manager.wait(tree_id)).walk()}
    assert final["approve"].result == {"received": {"by": "alice"}}
    assert final["quiet"].result == {"received": None}
    assert final["busy"].status is S.COMPLETED


async def test_a_notify_before_the_wait_is_kept(manager: TaskManager) -> None:
    tree = await manager.create_tree({"key": "root", "children": [task("approve", "test.waiter")]})
    await manager.notify(tree.find("approve").task.id, "approval", "early")  # type: ignore[union-attr]
    final = await manager.distribute_task_tree(tree.task.id)
    assert final.find("approve").task.result == {"received": "early"}  # type: ignore[union-attr]


async def test_on_terminal_fires_once_per_task_for_every_way_to_end(make_manager: Any) -> None:
    manager = make_manager(concurrency=8, cancel_grace_seconds=0.2)
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task("ok", "noop"),
                task("exception", "test.flaky", inputs={"succeed_on": 9}),
                task("timeout", "test.stubborn", timeout=0.1),
                task("external", "test.cooperative"),
                task("dependent", "noop", dependencies=["exception"]),
                task("generator", "test.steps"),
            ],
        }
    )
    outcomes: list[TerminalOutcome] = []
    tree_id = await manager.start(tree.task.id, on_terminal=outcomes.append)
    await _until_running(manager, tree.find("external").task.id)  # type: ignore[union-attr]
    await manager.cancel(tree.find("external").task.id)  # type: ignore[union-attr]
    await manager.wait(tree_id)
    signals = {o.task.key: o.signal for o in outcomes}
    assert len(outcomes) == len(signals) == 7
    assert signals == {
        "ok": "success",
        "exception": "fail",
        "timeout": "fail",
        "external": "cancel",
        "dependent": "cancel",
        "generator": "success",
        "root": "fail",
    }
    generator = next(o for o in outcomes if o.task.key == "generator")
    assert (generator.message, generator.data) == ("all steps done", {"steps": 3})


async def test_a_failing_callback_changes_nothing(manager: TaskManager) -> None:
    def explode(outcome: TerminalOutcome) -> None:
        raise RuntimeError("callback bug")

    manager.register_post_hook(lambda t: 1 / 0)
    tree_id = await manager.start(
        (await manager.create_tree({"key": "r", "children": [task("a", "noop")]})).task.id,
        on_terminal=explode,
    )
    assert (await manager.wait(tree_id)).calculate_status() is S.COMPLETED


async def test_pre_hook_may_replace_inputs(manager: TaskManager) -> None:
    manager.register_pre_hook(lambda task, inputs: {**inputs, "added": task.key})
    tree = await manager.run_tree({"key": "r", "children": [task("a", "noop", inputs={"x": 1})]})
    assert tree.find("a").task.result == {"x": 1, "added": "a"}  # type: ignore[union-attr]


async def test_deadline_cancels_the_tree(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "deadline": 0.3,
            "children": [
                task("long", "test.cooperative"),
                task("later", "noop", dependencies=["long"]),
            ],
        }
    )
    assert tree.task.status is S.CANCELLED and tree.task.error_type == "DeadlineExceeded"
    for key in ("long", "later"):  # running or pending, the same reason
        cancelled = tree.find(key).task  # type: ignore[union-attr]
        assert (cancelled.status, cancelled.error_type) == (S.CANCELLED, "DeadlineExceeded")
    assert tree.find("long").task.error.endswith("the tree's deadline passed")  # type: ignore[union-attr]


async def test_a_tree_started_after_its_deadline_starts_nothing(manager: TaskManager) -> None:
    tree = await manager.create_tree(
        {"key": "root", "deadline": 0.05, "children": [task("a", "noop")]}
    )
    await asyncio.sleep(0.1)
    final = await manager.distribute_task_tree(tree.task.id)
    a = final.find("a").task  # type: ignore[union-attr]
    assert (a.status, a.error_type, a.started_at) == (S.CANCELLED, "DeadlineExceeded", None)


async def test_log_fields_that_are_not_json_are_kept_as_text(manager: TaskManager) -> None:
    class Logs(BaseTask):
        id = "test.logs"

        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            self.context.log("odd fields", when=object.__new__(object), key="not the task key")
            return {}

    with registered(Logs):
        tree = await manager.run_tree({"key": "root", "children": [task("a", "test.logs")]})
    assert tree.task.status is S.COMPLETED
    log = next(
        e
        for e in await manager.task_repository.events.read(tree.task.id)
        if e.type is EventType.LOG
    )
    assert (log.data["key"], log.data["message"]) == ("a", "odd fields")
    assert log.data["when"].startswith("<object object at")


async def test_retry_task_refuses_a_tree_another_manager_runs(make_manager: Any) -> None:
    manager = make_manager()
    tree = await manager.run_tree(
        {"key": "root", "children": [task("flaky", "test.flaky", inputs={"succeed_on": 2})]}
    )
    flaky_id = tree.find("flaky").task.id  # type: ignore[union-attr]
    now = utcnow()  # another (live) manager holds the tree
    await manager.storage.leases.acquire(
        tree.task.id, "someone-else", now, now + timedelta(seconds=30)
    )
    with pytest.raises(TreeBusy):
        await manager.retry_task(flaky_id)
    assert (
        await manager.task_repository.require_task(flaky_id)
    ).status is S.FAILED  # nothing written


async def test_stop_all_leaves_the_tree_resumable(make_manager: Any) -> None:
    manager = make_manager(concurrency=2, lease_seconds=30)
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                task(f"t{i}", "test.cooperative", inputs={"seconds": 0.3}) for i in range(4)
            ],
        }
    )
    tree_id = await manager.start(tree.task.id)
    await _until_running(manager, tree.find("t0").task.id)  # type: ignore[union-attr]
    await manager.stop_all()
    stored = {t.key: t for t in await manager.task_repository.get_tree_tasks(tree_id)}
    assert {t.status for k, t in stored.items() if k != "root"} == {S.PENDING}
    other = make_manager(concurrency=4)
    assert await other.resume() == [tree_id]
    final = await other.wait(tree_id)
    assert final.calculate_status() is S.COMPLETED
    assert {n.task.attempt for n in final.walk() if n.task.key in ("t0", "t1")} == {2}


async def test_retry_task_runs_a_failed_task_again(manager: TaskManager) -> None:
    tree = await manager.run_tree(
        {
            "key": "root",
            "children": [
                task("flaky", "test.flaky", inputs={"succeed_on": 2}),
                task("after", "noop", dependencies=["flaky"]),
            ],
        }
    )
    assert tree.find("after").task.status is S.CANCELLED  # type: ignore[union-attr]
    tree_id = await manager.retry_task(tree.find("flaky").task.id, with_dependents=True)  # type: ignore[union-attr]
    final = {n.task.key: n.task for n in (await manager.wait(tree_id)).walk()}
    assert (final["flaky"].status, final["flaky"].attempt) == (S.COMPLETED, 2)
    assert final["after"].status is S.COMPLETED and final["root"].status is S.COMPLETED
    assert [a.status for a in final["flaky"].attempts] == ["failed", "completed"]


class SharedEcho(BaseTask):
    """Registered as one shared instance: the context must still be each task's own."""

    id = "test.shared_echo"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        before = self.context.task_id
        await asyncio.sleep(0.01 * inputs["n"])
        await self.context.report_progress(0.5, f"half of {self.context.key}")
        self.context.log("checked", n=inputs["n"])
        return {"before": before, "after": self.context.task_id, "key": self.context.key}


async def test_a_shared_instance_sees_each_tasks_own_context(make_manager: Any) -> None:
    manager = make_manager(concurrency=20)
    with registered(SharedEcho()):
        tree = await manager.run_tree(
            {
                "key": "root",
                "children": [
                    task(f"t{n}", "test.shared_echo", inputs={"n": 20 - n}) for n in range(20)
                ],
            }
        )
    for node in tree.children:
        assert node.task.result == {
            "before": node.task.id,
            "after": node.task.id,
            "key": node.task.key,
        }
    events = await manager.task_repository.events.read(tree.task.id)
    logs = [e for e in events if e.type is EventType.LOG]
    assert len(logs) == 20 and {e.data["n"] for e in logs} == set(range(1, 21))


async def test_progress_rolls_up_to_the_parent_group(make_manager: Any) -> None:
    manager = make_manager(concurrency=4)
    tree = await manager.create_tree(
        {
            "key": "root",
            "children": [
                {"key": "stage", "children": [task("a", "test.waiter"), task("b", "noop")]}
            ],
        }
    )
    tree_id = await manager.start(tree.task.id)
    stage_id = tree.find("stage").task.id  # type: ignore[union-attr]

    async def stage_progress() -> float:  # as persisted
        return (await manager.task_repository.require_task(stage_id)).progress

    for _ in range(100):  # b completes (1.0), a waits (0.0): the stage is half way
        if await stage_progress() == 0.5:
            break
        await asyncio.sleep(0.02)
    assert await stage_progress() == 0.5
    assert (await manager.get_state(stage_id)).progress == 0.5
    assert [t.key for t in manager.running_tasks()] == ["a"]
    await manager.notify(tree.find("a").task.id, "approval", True)  # type: ignore[union-attr]
    final = await manager.wait(tree_id)
    assert final.find("stage").task.progress == 1.0  # type: ignore[union-attr]
