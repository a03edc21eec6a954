"""The engine-core issue's defects, each on a SQLite file and on PostgreSQL, real executors.

(The same decisions are unit-tested on memory storage in tests/unit/engine; here they go
through the real storage and the local backend.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from taskflow import (
    BaseTask,
    EngineSettings,
    LeaseLost,
    StorageError,
    TaskCtl,
    TaskManager,
    TaskStatus,
    TerminalOutcome,
    TreeStatus,
    create_session,
)
from taskflow.events import EventType
from taskflow.executors import registered
from taskflow.models import utcnow

S = TaskStatus


class Gate:
    """Events the test opens to let executors go on."""

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.completed: list[str] = []

    def of(self, name: str) -> tuple[asyncio.Event, asyncio.Event]:
        return (
            self.started.setdefault(name, asyncio.Event()),
            self.release.setdefault(name, asyncio.Event()),
        )


GATE = Gate()


class Gated(BaseTask):
    """Says it started, waits for the test to release it, then completes."""

    id = "test.gated"
    input_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {"name": {}}}

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        started, release = GATE.of(inputs.get("name") or self.context.key)
        started.set()
        await release.wait()
        GATE.completed.append(self.context.key)
        return {"done": self.context.key}


class WaitsThenFails(BaseTask):
    """Waits for a signal; when the wait comes back empty (cancelled), it reports a failure."""

    id = "test.waits_then_fails"

    async def execute(self, inputs: dict[str, Any]) -> Any:
        data = await self.context.wait("go")
        if data is None:
            yield TaskCtl.fail("the wait came back empty")
        yield TaskCtl.success("done", data={"data": data})


class Slow(BaseTask):
    """Takes a moment to stop once cancelled."""

    id = "test.slow_stop"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await self.context.cancel_requested.wait()
        await asyncio.sleep(0.3)
        return {"stopped": True}


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    global GATE
    GATE = Gate()
    with registered(Gated, WaitsThenFails, Slow):
        yield


def gated(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "executor": "test.gated", **fields}


async def until(check: Any, what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (await check() if asyncio.iscoroutinefunction(check) else check()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_a_root_with_an_executor_leaves_its_tree_unfinished_until_every_task_ends(
    make_manager: Any,
) -> None:
    manager = make_manager()
    tree_id = await manager.launch(
        {"key": "root", "executor": "noop", "children": [gated("child")]}
    )
    started, release = GATE.of("child")
    await asyncio.wait_for(started.wait(), 10)

    async def root_done() -> bool:
        return bool((await manager.get_state(tree_id)).status is S.COMPLETED)

    await until(root_done, "the root to complete")
    stored = await manager.task_repository.require_tree(tree_id)
    assert stored.status is TreeStatus.IN_PROGRESS and stored.lease.owner == manager.owner
    listed = await manager.task_repository.list_trees()
    assert [(t.id, t.status) for t in listed] == [(tree_id, TreeStatus.IN_PROGRESS)]
    release.set()
    await manager.wait(tree_id)
    final = await manager.task_repository.require_tree(tree_id)
    assert (final.status, final.lease.owner) == (TreeStatus.COMPLETED, None)
    assert final.finished_at is not None and final.started_at is not None


async def test_a_stale_manager_is_fenced_off_and_stops_its_attempts(
    make_manager: Any, database_url: str
) -> None:
    first = make_manager(lease_seconds=0.6, poll_seconds=0.1)
    tree_id = await first.launch({"key": "root", "children": [gated("t", inputs={"name": "t"})]})
    started, release = GATE.of("t")
    await asyncio.wait_for(started.wait(), 10)
    second = make_manager()
    later = utcnow() + timedelta(seconds=60)  # as if the first manager had paused a minute
    taken = await second.storage.leases.acquire(
        tree_id, second.owner, later, later + timedelta(seconds=60)
    )
    assert taken is not None and taken.owner == second.owner
    GATE.started["t"] = asyncio.Event()  # watch for the second attempt
    await second.start(tree_id)
    with pytest.raises(LeaseLost, match=second.owner):
        await asyncio.wait_for(first.wait(tree_id), 10)
    await asyncio.wait_for(GATE.started["t"].wait(), 10)
    release.set()
    done = await second.wait(tree_id)
    task = done.find("t").task  # type: ignore[union-attr]
    assert task.status is S.COMPLETED
    assert GATE.completed == ["t"]  # the first manager's attempt was stopped before it finished
    events = await second.task_repository.events.read(tree_id, limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_a_commit_that_keeps_failing_gives_up_one_tree_and_the_next_runs(
    make_manager: Any,
) -> None:
    manager = make_manager(concurrency=1, commit_retry_seconds=0.3)
    broken = await manager.create_tree({"key": "broken", "children": [gated("a")]})
    fine = await manager.create_tree(
        {"key": "fine", "children": [{"key": "b", "executor": "noop"}]}
    )
    await manager.start(broken)
    started, release = GATE.of("a")
    await asyncio.wait_for(started.wait(), 10)
    commit = manager.storage.commit

    async def failing(batch: Any) -> None:
        if batch.tree_id == broken.task.id:
            raise StorageError("disk I/O error (injected)")
        await commit(batch)

    manager.storage.commit = failing
    manager.storage.commit_now = lambda batch: False  # every commit through the failing one
    release.set()
    with pytest.raises(StorageError, match="injected"):
        await asyncio.wait_for(manager.wait(broken.task.id), 10)
    assert manager.slots.running == 0
    done = await asyncio.wait_for(manager.distribute_task_tree(fine), 10)
    assert done.find("b").task.status is S.COMPLETED  # type: ignore[union-attr]
    manager.storage.commit = commit
    left = await manager.task_repository.require_tree(broken.task.id)
    assert left.status is TreeStatus.IN_PROGRESS  # resumable once its lease runs out


async def test_a_subscriber_gets_the_ends_committed_after_the_roots(make_manager: Any) -> None:
    manager = make_manager(cancel_grace_seconds=5)
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "slow", "executor": "test.slow_stop"}]}
    )
    await until(manager.running_tasks, "slow to run")
    ends: list[tuple[str, EventType]] = []

    async def follow() -> None:
        async for event in manager.subscribe(tree_id):
            if event.type.is_terminal:
                ends.append((event.data["key"], event.type))

    follower = asyncio.ensure_future(follow())
    await manager.cancel(tree_id)
    await asyncio.wait_for(follower, 10)
    assert ends == [("root", EventType.CANCELLED), ("slow", EventType.CANCELLED)]


async def test_a_cancel_requested_while_it_waits_wins_over_the_failure_it_reports(
    make_manager: Any,
) -> None:
    manager = make_manager()
    outcomes: list[TerminalOutcome] = []
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "w", "executor": "test.waits_then_fails"}]},
        on_terminal=outcomes.append,
    )
    await until(
        lambda: any(t.waiting for t in manager.running_tasks()), "the task to wait", timeout=10
    )
    await manager.cancel(tree_id, "not needed any more")
    task = (await manager.wait(tree_id)).find("w").task  # type: ignore[union-attr]
    assert (task.status, task.error) == (
        S.CANCELLED,
        "parent 'root' was cancelled: not needed any more",
    )
    assert {o.task.key: o.signal for o in outcomes}["w"] == "cancel"


async def test_stop_all_counts_and_a_cancelled_group_ends_at_full_progress(
    make_manager: Any,
) -> None:
    manager = make_manager()
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "g", "children": [gated("a"), gated("b")]}]}
    )
    await until(lambda: len(manager.running_tasks()) == 2, "both to run")
    assert await manager.stop_all() == 2
    again = make_manager()
    assert await again.resume() == [tree_id]
    await until(lambda: len(again.running_tasks()) == 2, "both to run again")
    await again.cancel(tree_id)
    tree = await again.wait(tree_id)
    group = tree.find("g").task  # type: ignore[union-attr]
    assert (group.status, group.progress) == (S.CANCELLED, 1.0)
    assert TaskCtl.success("ok").progress is None and TaskCtl.fail("no").progress is None


async def test_resume_takes_over_from_a_dead_owner_on_this_host_at_once(
    make_manager: Any, database_url: str
) -> None:
    manager = make_manager()
    tree = await manager.create_tree(
        {"key": "root", "children": [{"key": "a", "executor": "noop"}]}
    )
    # a manager of a process that no longer exists holds the tree for another 30 s
    dead = "/".join((manager.owner.split("/")[0], "999999999", "1", "deadbeef"))
    now = utcnow()
    await manager.storage.leases.acquire(tree.task.id, dead, now, now + timedelta(seconds=30))
    started = asyncio.get_running_loop().time()
    assert await manager.resume() == [tree.task.id]
    assert asyncio.get_running_loop().time() - started < 2
    done = await manager.wait(tree.task.id)
    assert done.find("a").task.status is S.COMPLETED  # type: ignore[union-attr]
    other = TaskManager(create_session(database_url), settings=EngineSettings())
    try:
        elsewhere = "/".join(("another-host", "1", "1", "cafe"))
        second = await other.create_tree({"key": "r2", "executor": "noop"})
        await other.storage.leases.acquire(
            second.task.id, elsewhere, now, utcnow() + timedelta(seconds=30)
        )
        result = await other.resume()
        assert result == [] and [t.lease.owner for t in result.held] == [elsewhere]
    finally:
        await other.close()


async def test_a_cancel_that_arrives_while_the_run_starts_up_numbers_its_events_once(
    make_manager: Any,
) -> None:
    """A cancel right after `start` reached the run while it still read the tree's last event
    number; the events it emitted were then numbered again from there, and the tree's next
    commit failed on the events' unique key, over and over, leaving the tree unfinished."""
    manager = make_manager()
    for name in ("a", "b"):
        GATE.of(name)[1].set()  # these two complete at once
    created = await manager.create_tree(
        {"key": "root", "children": [gated("a"), gated("b"), gated("c")]}
    )
    victim = created.find("c").task  # type: ignore[union-attr]
    tree_id = await manager.start(created.task.id)
    await manager.cancel(victim.id, "changed my mind")  # no pause: the run is starting up
    tree = await asyncio.wait_for(manager.wait(tree_id), 10)
    statuses = {node.task.key: node.task.status for node in tree.walk()}
    assert statuses == {"root": S.CANCELLED, "a": S.COMPLETED, "b": S.COMPLETED, "c": S.CANCELLED}
    events = await manager.task_repository.events.read(tree_id, limit=1000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
