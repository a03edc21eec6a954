"""The engine's scheduling decisions, on a scripted backend and memory storage."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from conftest import Make, S, scripted, until, work  # type: ignore[import-not-found]
from taskflow import LeaseLost, StorageError, TreeStatus
from taskflow.backends.scripted import DONE, HOLD, WaitFor
from taskflow.events import EventType
from taskflow.executors import Outcome
from taskflow.models import utcnow

FAIL = Outcome(S.FAILED, error="boom", error_type="ValueError")


async def test_ready_tasks_start_by_priority_then_in_order(make_engine: Make) -> None:
    engine = make_engine(concurrency=1)
    children = [work(f"t{i}", priority=p) for i, p in enumerate([2, 3, 0, 2, 1])]
    await engine.run_tree({"key": "root", "children": children})
    assert [a.key for a in scripted(engine).submitted] == ["t2", "t4", "t0", "t3", "t1"]


async def test_dependencies_order_runs_and_a_failure_cancels_what_requires_it(
    make_engine: Make,
) -> None:
    engine = make_engine({"a": FAIL})
    tree = await engine.run_tree(
        {
            "key": "root",
            "children": [
                work("a"),
                work("b", dependencies=["a"]),
                work("c", dependencies=[{"id": "a", "required": False}]),
            ],
        }
    )
    by_key = {n.task.key: n.task for n in tree.walk()}
    assert (by_key["b"].status, by_key["b"].error_type) == (S.CANCELLED, "DependencyFailed")
    assert by_key["c"].status is S.COMPLETED  # an optional dependency: any end will do
    assert [a.key for a in scripted(engine).submitted] == ["a", "c"]
    assert (await engine.get_tree(tree.task.id)).status is TreeStatus.FAILED


async def test_the_concurrency_limit_holds_and_a_finish_starts_the_next(make_engine: Make) -> None:
    engine = make_engine({"a": HOLD, "b": HOLD, "c": HOLD}, concurrency=2)
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work(k) for k in "abc"]})
    await until(lambda: len(backend.submitted) == 2, "two to start")
    assert backend.running("c") is None
    backend.finish("a")
    await until(lambda: backend.running("c") is not None, "c to start once a slot freed")
    backend.finish("b")
    backend.finish("c")
    assert (await engine.wait(tree_id)).task.status is S.COMPLETED


async def test_an_executors_own_limit_holds(make_engine: Make) -> None:
    engine = make_engine({"l1": HOLD, "l2": HOLD, "w": HOLD})
    backend = scripted(engine)
    children = [work("l1", executor="limited"), work("l2", executor="limited"), work("w")]
    tree_id = await engine.launch({"key": "root", "children": children})
    await until(lambda: {a.key for a in backend.submitted} == {"l1", "w"}, "l1 and w to start")
    backend.finish("l1")
    await until(lambda: backend.running("l2") is not None, "l2 after l1")
    backend.finish("l2")
    backend.finish("w")
    await engine.wait(tree_id)


async def test_a_retry_waits_without_holding_a_slot(make_engine: Make) -> None:
    engine = make_engine({"flaky": [FAIL, DONE], "other": HOLD}, concurrency=1)
    backend = scripted(engine)
    flaky = work("flaky", retry={"max_retries": 1, "backoff": 0.2, "jitter": False})
    tree_id = await engine.launch({"key": "root", "children": [flaky, work("other")]})
    await until(lambda: backend.running("other") is not None, "other to run while flaky waits")
    backend.finish("other")
    tree = await engine.wait(tree_id)
    task = tree.find("flaky").task  # type: ignore[union-attr]
    assert (task.status, task.attempt, [a.status for a in task.attempts]) == (
        S.COMPLETED,
        2,
        ["retrying", "completed"],
    )


async def test_cancelling_the_root_cancels_pending_and_stops_running_tasks(
    make_engine: Make,
) -> None:
    engine = make_engine({"run": HOLD}, concurrency=1)
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("run"), work("later")]})
    await until(lambda: backend.running("run") is not None, "run to start")
    await engine.cancel(tree_id, "no longer needed")
    tree = await engine.wait(tree_id)
    by_key = {n.task.key: n.task for n in tree.walk()}
    assert by_key["later"].error == "parent 'root' was cancelled: no longer needed"
    assert by_key["run"].status is S.CANCELLED
    assert list(backend.cancelled.values()) == ["parent 'root' was cancelled: no longer needed"]
    assert (await engine.get_tree(tree_id)).status is TreeStatus.CANCELLED
    assert by_key["root"].progress == 1.0  # every child ended: no stale rolled-up progress


async def test_a_task_that_ignores_cancellation_is_stopped_by_force(make_engine: Make) -> None:
    engine = make_engine({"stubborn": HOLD}, ignore_cancel=("stubborn",), cancel_grace_seconds=0.1)
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("stubborn")]})
    await until(lambda: backend.running("stubborn") is not None, "it to start")
    await engine.cancel(tree_id)
    task = (await engine.wait(tree_id)).find("stubborn").task  # type: ignore[union-attr]
    assert task.status is S.CANCELLED
    assert task.error == "parent 'root' was cancelled: cancelled by user (stopped by force)"


async def test_a_wait_parks_the_task_without_a_slot_until_notify(make_engine: Make) -> None:
    engine = make_engine({"approve": WaitFor("approval"), "busy": HOLD}, concurrency=1)
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("approve"), work("busy")]})
    await until(lambda: backend.running("busy") is not None, "busy to run while approve waits")
    waiting = next(t for t in engine.running_tasks() if t.key == "approve")
    assert waiting.waiting is not None and waiting.waiting["key"] == "approval"
    backend.finish("busy")
    await engine.notify(waiting.id, "approval", {"by": "ann"})
    task = (await engine.wait(tree_id)).find("approve").task  # type: ignore[union-attr]
    assert (task.status, task.result, task.waiting) == (S.COMPLETED, {"data": {"by": "ann"}}, None)


async def test_a_notify_before_the_wait_is_delivered_when_it_waits(make_engine: Make) -> None:
    engine = make_engine({"gate": HOLD, "approve": WaitFor("go")})
    backend = scripted(engine)
    tree = await engine.create_tree(
        {"key": "root", "children": [work("gate"), work("approve", dependencies=["gate"])]}
    )
    approve = tree.find("approve").task  # type: ignore[union-attr]
    await engine.start(tree)
    await engine.notify(approve.id, "go", 7)  # stored: nothing waits yet
    await until(lambda: backend.running("gate") is not None, "gate to start")
    backend.finish("gate")
    done = (await engine.wait(tree.task.id)).find("approve").task  # type: ignore[union-attr]
    assert done.result == {"data": 7}


async def test_a_wait_times_out_into_the_executor(make_engine: Make) -> None:
    engine = make_engine({"approve": WaitFor("go", timeout=0.05)})
    tree = await engine.run_tree({"key": "root", "children": [work("approve")]})
    assert tree.find("approve").task.result == {"data": None}  # type: ignore[union-attr]


async def test_a_root_with_an_executor_does_not_finish_its_tree(make_engine: Make) -> None:
    """Defect 1 of the engine-core issue: the tree's status was its root's."""
    engine = make_engine({"child": HOLD})
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "executor": "work", "children": [work("child")]})
    await until(lambda: backend.running("child") is not None, "the child to run")
    root = await engine.get_state(tree_id)
    await until(lambda: root.status is S.COMPLETED or backend.running("root") is None, "root")
    assert (await engine.get_state(tree_id)).status is S.COMPLETED  # the root ran first
    assert (await engine.get_tree(tree_id)).status is TreeStatus.IN_PROGRESS
    stored = await engine.task_repository.require_tree(tree_id)
    assert stored.status is TreeStatus.IN_PROGRESS and stored.lease.owner == engine.owner
    backend.finish("child")
    await engine.wait(tree_id)
    assert (await engine.task_repository.require_tree(tree_id)).status is TreeStatus.COMPLETED


async def test_a_subscriber_sees_every_end_after_the_root_ends(make_engine: Make) -> None:
    """Defect 5: subscribe() stopped when the root ended, missing a child's later end."""
    engine = make_engine({"slow": HOLD}, ignore_cancel=("slow",), cancel_grace_seconds=0.2)
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("slow")]})
    await until(lambda: backend.running("slow") is not None, "slow to run")
    seen: list[tuple[str, EventType]] = []

    async def collect() -> None:
        async for event in engine.subscribe(tree_id):
            seen.append((event.data["key"], event.type))

    collector = asyncio.ensure_future(collect())
    await engine.cancel(tree_id)  # the root ends now; slow only after its grace period
    await asyncio.wait_for(collector, 5)
    assert seen[-1] == ("slow", EventType.CANCELLED)
    assert seen.index(("root", EventType.CANCELLED)) < len(seen) - 1


async def test_stop_all_says_how_many_attempts_it_stopped(make_engine: Make) -> None:
    """Defect 7: stop_all returned None."""
    engine = make_engine({"a": HOLD, "b": HOLD})
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("a"), work("b")]})
    await until(lambda: len(backend.submitted) == 2, "both to run")
    assert await engine.stop_all() == 2
    tree = await engine.task_repository.require_tree(tree_id)
    assert (tree.status, tree.lease.owner) == (TreeStatus.IN_PROGRESS, None)  # resumable
    tasks = await engine.task_repository.get_tree_tasks(tree_id)
    assert {t.key: t.status for t in tasks} == {
        "root": S.IN_PROGRESS,
        "a": S.PENDING,
        "b": S.PENDING,
    }


async def test_a_manager_that_lost_its_lease_stops_and_writes_nothing_more(
    make_engine: Make,
) -> None:
    """Defect 2: a lost lease was not fenced; both managers ran and wrote."""
    first = make_engine({"t": HOLD}, lease_seconds=0.3, poll_seconds=0.1)
    repository = first.task_repository
    tree_id = await first.launch({"key": "root", "children": [work("t"), work("u")]})
    await until(lambda: scripted(first).running("t") is not None, "t to run in the first")
    later = utcnow() + timedelta(seconds=60)  # as if the first manager had paused for a minute
    second = make_engine({"t": HOLD}, repository=repository)  # type: ignore[arg-type]
    taken = await repository.storage.leases.acquire(
        tree_id, second.owner, later, later + timedelta(seconds=30)
    )
    assert taken is not None and taken.owner == second.owner
    await second.start(tree_id)
    with pytest.raises(LeaseLost, match=second.owner):
        await asyncio.wait_for(first.wait(tree_id), 5)
    assert scripted(first).running("t") is None  # its attempt was stopped at once
    await until(lambda: scripted(second).running("t") is not None, "t to run in the second")
    scripted(second).finish("t")
    done = await second.wait(tree_id)
    assert {n.task.key: n.task.status for n in done.walk()} == {
        "root": S.COMPLETED,
        "t": S.COMPLETED,
        "u": S.COMPLETED,
    }
    events = await repository.events.read(tree_id, limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # one writer at a time


class FailingStorage:
    """Wraps a storage's commit: fails it for chosen trees, a number of times."""

    def __init__(self, engine: Any, failures: dict[str, int]) -> None:
        self.commit = engine.storage.commit
        self.failures = failures
        engine.storage.commit = self
        engine.storage.commit_now = lambda batch: False  # every commit comes through here

    async def __call__(self, batch: Any) -> None:
        left = self.failures.get(batch.tree_id, 0)
        if left:
            self.failures[batch.tree_id] = left - 1
            raise StorageError("disk I/O error (injected)")
        await self.commit(batch)


async def test_a_failing_commit_is_retried(make_engine: Make) -> None:
    engine = make_engine()
    tree = await engine.create_tree({"key": "root", "children": [work("a")]})
    FailingStorage(engine, {tree.task.id: 3})
    done = await engine.distribute_task_tree(tree)
    assert done.find("a").task.status is S.COMPLETED  # type: ignore[union-attr]


async def test_a_commit_that_keeps_failing_gives_the_tree_up_and_frees_its_slots(
    make_engine: Make,
) -> None:
    """Defect 3: a failed commit orphaned attempts; with concurrency=1 nothing ran again."""
    engine = make_engine({"a": HOLD}, concurrency=1, commit_retry_seconds=0.2)
    backend = scripted(engine)
    broken = await engine.create_tree({"key": "broken", "children": [work("a")]})
    fine = await engine.create_tree({"key": "fine", "children": [work("b")]})
    await engine.start(broken)
    await until(lambda: backend.running("a") is not None, "a to run")
    FailingStorage(engine, {broken.task.id: 1_000})
    backend.finish("a")
    with pytest.raises(StorageError, match="injected"):
        await asyncio.wait_for(engine.wait(broken.task.id), 5)
    assert engine.slots.running == 0
    done = await asyncio.wait_for(engine.distribute_task_tree(fine), 5)  # the next tree runs
    assert done.find("b").task.status is S.COMPLETED  # type: ignore[union-attr]


async def test_tasks_left_running_by_a_dead_manager_run_again_or_fail(make_engine: Make) -> None:
    dead = make_engine({"w": HOLD, "o": HOLD})
    repository = dead.task_repository
    tree_id = await dead.launch(
        {"key": "root", "children": [work("w"), work("o", executor="once")]}
    )
    await until(lambda: len(scripted(dead).submitted) == 2, "both to run")
    dead.runs._active.clear()  # it dies: nothing more is written, its lease is left behind
    dead.runs.keeper.drop(tree_id)
    survivor = make_engine(repository=repository)  # type: ignore[arg-type]
    later = utcnow() + timedelta(seconds=60)
    await repository.storage.leases.acquire(tree_id, survivor.owner, later, later)
    await survivor.start(tree_id)
    tree = await survivor.wait(tree_id)
    by_key = {n.task.key: n.task for n in tree.walk()}
    assert (by_key["w"].status, by_key["w"].attempt) == (S.COMPLETED, 2)
    assert [a.status for a in by_key["w"].attempts] == ["interrupted", "completed"]
    assert (by_key["o"].status, by_key["o"].error_type) == (S.FAILED, "NotRerunSafe")


async def test_log_lines_of_a_task_are_coalesced_into_bounded_events(make_engine: Make) -> None:
    engine = make_engine({"chatty": HOLD})
    backend = scripted(engine)
    tree_id = await engine.launch({"key": "root", "children": [work("chatty")]})
    await until(lambda: backend.running("chatty") is not None, "it to run")
    for i in range(5000):
        backend.log("chatty", f"line {i}", stream="stdout")
    backend.finish("chatty")
    await engine.wait(tree_id)
    events = await engine.task_repository.events.read(tree_id, limit=100_000)
    logs = [e for e in events if e.type is EventType.LOG]
    lines = [line for e in logs for line in e.data["message"].split("\n")]
    assert lines == [f"line {i}" for i in range(5000)]
    assert len(logs) <= 10 and all(e.data["stream"] == "stdout" for e in logs)


async def test_the_deadline_cancels_the_tree(make_engine: Make) -> None:
    engine = make_engine({"slow": HOLD})
    tree = await engine.run_tree({"key": "root", "deadline": 0.1, "children": [work("slow")]})
    slow = tree.find("slow").task  # type: ignore[union-attr]
    assert (slow.status, slow.error_type) == (S.CANCELLED, "DeadlineExceeded")


async def test_a_tree_limits_its_own_concurrency(make_engine: Make) -> None:
    engine = make_engine({k: HOLD for k in "abc"})
    backend = scripted(engine)
    tree_id = await engine.launch(
        {"key": "root", "concurrency": 1, "children": [work(k) for k in "abc"]}
    )
    await until(lambda: len(backend.submitted) == 1, "one to start")
    for key in "abc":
        await until(lambda key=key: backend.running(key) is not None, f"{key} to run")
        assert len([a for a in backend.submitted if backend.running(a.key)]) == 1
        backend.finish(key)
    await engine.wait(tree_id)
