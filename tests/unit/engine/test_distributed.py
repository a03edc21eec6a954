"""What distributed backends need of the engine: a worker lost (``WorkerLost``) goes to the
retry policy, except for an executor not safe to re-run (``NotRerunSafe``); each attempt names
its queue; after a takeover, attempts still running elsewhere are followed from the cursor
stored with their reports, and one that was parked stays parked."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from conftest import Make, S, scripted, until, work  # type: ignore[import-not-found]
from taskflow.backends.scripted import DONE, HOLD, WaitFor
from taskflow.engine import Engine
from taskflow.events import EventType
from taskflow.executors import Outcome
from taskflow.models import Task, utcnow
from taskflow.storage import TreeBatch

LOST = Outcome(S.FAILED, error="no heartbeat for 10.2 s", error_type="WorkerLost")


async def test_a_lost_attempt_goes_to_the_retry_policy(make_engine: Make) -> None:
    engine = make_engine({"a": [LOST, DONE]})
    tree = await engine.run_tree({"key": "root", "children": [work("a", retry=2)]})
    node = next(n for n in tree.walk() if n.task.key == "a")
    assert node.task.status is S.COMPLETED
    assert [a.error_type for a in node.task.attempts] == ["WorkerLost", None]
    assert len(scripted(engine).submitted) == 2


async def test_a_lost_attempt_of_an_executor_not_safe_to_rerun_fails(make_engine: Make) -> None:
    engine = make_engine({"a": [LOST, DONE]})
    child = {**work("a", retry=2), "executor": "once"}
    tree = await engine.run_tree({"key": "root", "children": [child]})
    node = next(n for n in tree.walk() if n.task.key == "a")
    assert node.task.status is S.FAILED
    assert node.task.error_type == "NotRerunSafe"
    assert "not safe to re-run" in (node.task.error or "")
    assert len(scripted(engine).submitted) == 1


async def test_the_queue_of_an_attempt(make_engine: Make) -> None:
    engine = make_engine()
    children = [
        work("plain"),
        work("by_executor", executor="queued"),
        work("own", executor="queued", queue="gpu"),
    ]
    await engine.run_tree({"key": "root", "children": children})
    queues = {a.key: a.queue for a in scripted(engine).submitted}
    assert queues == {"plain": None, "by_executor": "io", "own": "gpu"}


# -- a takeover of attempts that run elsewhere ------------------------------------------------


class Written(list[TreeBatch]):
    """Every batch a storage commits, in order."""

    def __init__(self, storage: Any) -> None:
        super().__init__()
        self.commit, self.commit_now = storage.commit, storage.commit_now
        storage.commit, storage.commit_now = self._commit, self._commit_now

    async def _commit(self, batch: TreeBatch) -> None:
        await self.commit(batch)
        self.append(batch)

    def _commit_now(self, batch: TreeBatch) -> bool:
        done = bool(self.commit_now(batch))
        if done:
            self.append(batch)
        return done

    def with_cursor(self, cursor: str) -> TreeBatch | None:
        """The batch that stored ``cursor`` for a task, if one did."""
        return next((b for b in self if any(t.cursor == cursor for t in b.tasks)), None)


def die(engine: Engine, tree_id: str) -> None:
    """The manager dies: it writes nothing more, its lease is left behind."""
    engine.runs._active.clear()
    engine.runs.keeper.drop(tree_id)


async def take_over(survivor: Engine, tree_id: str) -> None:
    """``survivor`` takes the tree over, as once the dead manager's lease has run out."""
    later = utcnow() + timedelta(seconds=60)
    await survivor.storage.leases.acquire(tree_id, survivor.owner, later, later)
    await survivor.start(tree_id)


async def stored(engine: Engine, tree_id: str, key: str) -> Task:
    """The task ``key`` as stored."""
    tasks = await engine.task_repository.get_tree_tasks(tree_id)
    return next(task for task in tasks if task.key == key)


async def test_a_takeover_follows_a_remote_attempt_from_the_cursor_stored_with_its_reports(
    make_engine: Make,
) -> None:
    dead = make_engine({"far": HOLD}, elsewhere=("far",))
    written = Written(dead.storage)
    tree_id = await dead.launch({"key": "root", "children": [work("far")]})
    backend = scripted(dead)
    await until(lambda: backend.running("far") is not None, "far to run")
    backend.progress("far", 0.4, "step 2")
    backend.log("far", "line 1")
    backend.log("far", "line 2")
    backend.position("far", "1700000000000-3")
    await until(lambda: written.with_cursor("1700000000000-3") is not None, "the cursor stored")
    batch = written.with_cursor("1700000000000-3")
    assert batch is not None
    assert sorted(e.type.value for e in batch.events) == ["log", "progress"]  # one transaction
    assert (await stored(dead, tree_id, "far")).cursor == "1700000000000-3"

    die(dead, tree_id)
    survivor = make_engine({"far": HOLD}, repository=dead.task_repository, elsewhere=("far",))
    await take_over(survivor, tree_id)
    far = scripted(survivor)
    await until(lambda: bool(far.attached), "far to be followed again")
    assert [(a.key, a.attempt, cursor) for a, cursor in far.attached] == [
        ("far", 1, "1700000000000-3")
    ]
    assert far.submitted == []  # followed, not run again
    far.progress("far", 1.0, "step 5")
    far.log("far", "line 3")
    far.finish("far")
    task = (await survivor.wait(tree_id)).find("far").task  # type: ignore[union-attr]
    assert (task.status, task.attempt, task.cursor) == (S.COMPLETED, 1, None)
    events = await survivor.task_repository.events.read(tree_id, limit=1000)
    mine = [e for e in events if e.task_id == task.id]
    assert [e.data["message"] for e in mine if e.type is EventType.PROGRESS] == [
        "step 2",
        "step 5",
    ]
    lines = [ln for e in mine if e.type is EventType.LOG for ln in e.data["message"].split("\n")]
    assert lines == ["line 1", "line 2", "line 3"]


async def test_a_cursor_is_not_stored_past_a_wait_before_the_wait_is(make_engine: Make) -> None:
    engine = make_engine({"approve": HOLD}, elsewhere=("approve",))
    written = Written(engine.storage)
    tree_id = await engine.launch({"key": "root", "children": [work("approve")]})
    backend = scripted(engine)
    await until(lambda: backend.running("approve") is not None, "approve to run")
    looked_up = asyncio.Event()
    pending = engine.storage.signals.pending

    async def slow_lookup(*args: Any, **kwargs: Any) -> Any:
        await looked_up.wait()
        return await pending(*args, **kwargs)

    engine.storage.signals.pending = slow_lookup  # is a signal stored for the wait? not yet...
    backend.waiting("approve", "approval")  # one read: the wait, then the position after it
    backend.position("approve", "5-0")
    backend.progress("approve", 0.1, "meanwhile")  # a batch is written meanwhile
    await until(
        lambda: any(e.type is EventType.PROGRESS for b in written for e in b.events),
        "a batch with the progress",
    )
    assert written.with_cursor("5-0") is None  # a successor would not learn of the wait
    looked_up.set()
    await until(lambda: written.with_cursor("5-0") is not None, "the cursor stored")
    batch = written.with_cursor("5-0")
    assert batch is not None
    assert [t.waiting["key"] for t in batch.tasks if t.waiting] == ["approval"]
    assert [e.type for e in batch.events] == [EventType.WAITING]
    await engine.notify((await stored(engine, tree_id, "approve")).id, "approval", 1)
    await until(lambda: bool(backend.signalled), "the signal handed over")
    backend.finish("approve")
    await engine.wait(tree_id)


@pytest.mark.parametrize("notified", ["before the takeover", "after the takeover"])
async def test_a_remote_attempt_parked_before_a_takeover_stays_parked(
    make_engine: Make, notified: str
) -> None:
    script = {"approve": WaitFor("approval"), "next": HOLD}
    dead = make_engine(script, elsewhere=("approve",), concurrency=1)
    tree_id = await dead.launch({"key": "root", "children": [work("approve"), work("next")]})
    await until(lambda: scripted(dead).running("next") is not None, "next to run meanwhile")
    scripted(dead).position("approve", "8-0")
    approve = await stored(dead, tree_id, "approve")
    await until(lambda: _parked(dead, tree_id), "approve parked, with its cursor")
    die(dead, tree_id)
    if notified == "before the takeover":
        await dead.notify(approve.id, "approval", {"by": "ann"})  # stored: nobody runs the tree

    survivor = make_engine(
        script, repository=dead.task_repository, elsewhere=("approve",), concurrency=1
    )
    await take_over(survivor, tree_id)
    backend = scripted(survivor)
    await until(lambda: backend.running("next") is not None, "next to run: approve holds no slot")
    assert [(a.key, cursor) for a, cursor in backend.attached] == [("approve", "8-0")]
    backend.finish("next")
    if notified == "after the takeover":
        await survivor.notify(approve.id, "approval", {"by": "ann"})
    tree = await asyncio.wait_for(survivor.wait(tree_id), 5)
    task = tree.find("approve").task  # type: ignore[union-attr]
    assert (task.status, task.attempt, task.result) == (S.COMPLETED, 1, {"data": {"by": "ann"}})
    events = await survivor.task_repository.events.read(tree_id, limit=1000)
    kinds = [e.type for e in events if e.task_id == approve.id]
    assert kinds.count(EventType.WAITING) == 1 and kinds.count(EventType.RESUMED) == 1


async def _parked(engine: Engine, tree_id: str) -> bool:
    task = await stored(engine, tree_id, "approve")
    return task.waiting is not None and task.cursor == "8-0"


async def test_a_parked_remote_attempt_still_times_out_after_a_takeover(make_engine: Make) -> None:
    script = {"approve": WaitFor("approval", timeout=0.5)}
    dead = make_engine(script, elsewhere=("approve",))
    tree_id = await dead.launch({"key": "root", "children": [work("approve")]})
    await until(lambda: scripted(dead).running("approve") is not None, "approve to run")

    async def parked() -> bool:
        return (await stored(dead, tree_id, "approve")).waiting is not None

    await until(parked, "approve to be parked")
    die(dead, tree_id)
    survivor = make_engine(script, repository=dead.task_repository, elsewhere=("approve",))
    await take_over(survivor, tree_id)
    tree = await asyncio.wait_for(survivor.wait(tree_id), 5)
    task = tree.find("approve").task  # type: ignore[union-attr]
    assert (task.status, task.attempt, task.result) == (S.COMPLETED, 1, {"data": None})
    events = await survivor.task_repository.events.read(tree_id, limit=1000)
    resumed = [e.data for e in events if e.type is EventType.RESUMED]
    assert [data.get("timed_out") for data in resumed] == [True]
