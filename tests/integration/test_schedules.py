"""Schedules in the database (issue 15): fired once per time, with every policy, on memory, a
SQLite file and PostgreSQL, with an injected clock (the scheduler reads none of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskflow import ScheduleError, TaskManager, TreeStatus, create_session
from taskflow.exceptions import AmbiguousId
from taskflow.executors import ExecutorRegistry, get_registry
from taskflow.models.schedule import FireKind, FireStatus
from taskflow.runtime.scheduler import Scheduler
from taskflow.storage import TreeQuery

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TREE = {"key": "job", "executor": "noop", "inputs": {"n": 1}}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def managers(any_url: str) -> AsyncIterator[list[TaskManager]]:
    """Two managers on one database (two workers, as far as schedules go)."""
    first = TaskManager(create_session(any_url))
    second = (
        TaskManager(first.task_repository)
        if any_url == "memory://"
        else TaskManager(create_session(any_url))
    )
    yield [first, second]
    await first.close()
    if second is not first:
        await second.close()


@pytest.fixture
def scheduler(managers: list[TaskManager]) -> Scheduler:
    return managers[0].schedules


async def add(scheduler: Scheduler, name: str = "job", **spec: Any) -> Any:
    return await scheduler.add(TREE, {"every": 10, **spec}, name=name, now=T0)


async def started_trees(manager: TaskManager) -> list[Any]:
    return await manager.storage.select_trees(TreeQuery(statuses=[TreeStatus.QUEUED]))


async def test_add_get_and_names(scheduler: Scheduler) -> None:
    record = await add(scheduler)
    assert record.next_fire_at == at(10) and record.watermark is None
    assert (await scheduler.get("job")).id == record.id
    assert (await scheduler.get(record.id[:6])).id == record.id
    with pytest.raises(ScheduleError, match="exists already"):
        await add(scheduler)
    with pytest.raises(ScheduleError, match="no schedule 'nope'"):
        await scheduler.get("nope")
    others = [(await add(scheduler, f"other{i}")).id for i in range(16)]
    digit = next(
        d for d in "0123456789abcdef" if sum(i.startswith(d) for i in [record.id, *others]) > 1
    )
    with pytest.raises(AmbiguousId):  # 17 ids over 16 first digits: two share one
        await scheduler.get(digit)
    with pytest.raises(ScheduleError, match=r"schedule\.every"):
        await scheduler.add(TREE, {"every": "soon"}, name="bad", now=T0)
    with pytest.raises(Exception, match="unknown executor"):
        await scheduler.add({"key": "x", "executor": "nope"}, {"every": 10}, name="bad", now=T0)
    assert [s.name for s in await scheduler.all()][:2] == ["job", "other0"]


async def test_on_time_fires_start_queued_trees_and_move_the_watermark(
    scheduler: Scheduler, managers: list[TaskManager]
) -> None:
    await add(scheduler, overlap="allow")
    assert await scheduler.fire_due(at(5)) == []  # not due yet
    (evaluation,) = await scheduler.fire_due(at(25))
    assert [f.nominal for f in evaluation.fires] == [at(10), at(20)]  # both within grace
    assert {f.status for f in evaluation.fires} == {FireStatus.STARTED}
    queued = await started_trees(managers[0])
    assert {t.id for t in queued} == {f.tree_id for f in evaluation.fires}
    record = await scheduler.get("job")
    assert (record.watermark, record.next_fire_at) == (at(20), at(30))
    assert await scheduler.fire_due(at(26)) == []
    fires = await scheduler.fires("job")
    assert [f.nominal for f in fires] == [at(20), at(10)]  # newest first


async def test_two_workers_racing_fire_each_time_once(managers: list[TaskManager]) -> None:
    await add(managers[0].schedules, overlap="allow")
    for second in range(10, 200, 10):
        results = await asyncio.gather(*(m.schedules.fire_due(at(second + 1)) for m in managers))
        committed = [e for result in results for e in result if e.committed]
        assert len(committed) <= 1
    fires = await managers[0].schedules.fires("job", limit=100)
    assert sorted(f.nominal for f in fires) == [at(s) for s in range(10, 200, 10)]
    queued = await started_trees(managers[0])
    assert len(queued) == len(fires) == len({f.tree_id for f in fires})


async def test_misfire_policies(scheduler: Scheduler) -> None:
    await add(scheduler, "skip", misfire="skip", overlap="allow")
    await add(scheduler, "latest", misfire="latest", overlap="allow")
    await add(scheduler, "all", misfire="all", catch_up=35, overlap="allow")
    evaluations = {e.schedule.name: e for e in await scheduler.fire_due(at(100))}
    # due: 10..100; on time (grace 60): 40..100; all with catch_up 35 (> grace): the same.
    assert [f.nominal for f in evaluations["skip"].fires] == [at(s) for s in range(40, 101, 10)]
    assert evaluations["skip"].missed == 3
    assert [f.nominal for f in evaluations["latest"].fires] == [at(s) for s in range(40, 101, 10)]
    long_down = await scheduler.fire_due(at(1000))  # 900 s down: everything misfired
    by_name = {e.schedule.name: e for e in long_down}
    assert [f.nominal for f in by_name["skip"].fires] == [at(s) for s in range(940, 1001, 10)]
    latest = [f for f in by_name["latest"].fires if f.status is FireStatus.STARTED]
    assert latest and latest[0].nominal == at(940)  # on-time ones run; nothing replayed
    assert (await scheduler.get("skip")).missed == 3 + 83


async def test_overlap_skip_buffer_and_cancel_previous(
    scheduler: Scheduler, managers: list[TaskManager]
) -> None:
    await add(scheduler, "skip", overlap="skip", grace=1)
    await add(scheduler, "buffer", overlap="buffer_one", grace=1)
    await add(scheduler, "cancel", overlap="cancel_previous", grace=1)
    await scheduler.fire_due(at(10))  # each starts a tree, left unfinished (queued)
    second = {e.schedule.name: e for e in await scheduler.fire_due(at(20))}
    (skipped,) = second["skip"].fires
    assert skipped.status is FireStatus.SKIPPED and "overlap=skip" in str(skipped.reason)
    (buffered,) = second["buffer"].fires
    assert buffered.status is FireStatus.BUFFERED
    third = {e.schedule.name: e for e in await scheduler.fire_due(at(30))}
    assert third["buffer"].fires[0].status is FireStatus.SKIPPED  # one waits at most
    (newest,) = third["cancel"].fires
    assert newest.status is FireStatus.STARTED
    cancel_fires = await scheduler.fires("cancel", limit=10)
    first_tree = next(f.tree_id for f in cancel_fires if f.nominal == at(10))
    second_tree = next(f.tree_id for f in cancel_fires if f.nominal == at(20))
    for tree_id in (first_tree, second_tree):
        record = await managers[0].task_repository.require_tree(str(tree_id))
        assert record.status is TreeStatus.CANCELLED
    # the buffered fire starts once the run it waited for has finished
    buffer_first = next(
        f.tree_id for f in await scheduler.fires("buffer") if f.status is FireStatus.STARTED
    )
    await _finish(managers[0], str(buffer_first))
    promoted = {e.schedule.name: e for e in await scheduler.fire_due(at(30.5))}
    assert promoted["buffer"].promoted is not None
    assert promoted["buffer"].promoted.nominal == at(20)
    assert promoted["buffer"].promoted.status is FireStatus.STARTED


async def _finish(manager: TaskManager, tree_id: str) -> None:
    await manager.start(tree_id)
    await manager.wait(tree_id)


async def test_pause_and_unpause_with_and_without_replay(scheduler: Scheduler) -> None:
    await add(scheduler, "plain", misfire="all", catch_up=3600, grace=1, overlap="allow")
    await add(scheduler, "replayed", misfire="all", catch_up=3600, grace=1, overlap="allow")
    await scheduler.fire_due(at(10))
    for name in ("plain", "replayed"):
        paused = await scheduler.pause(name, now=at(12))
        assert paused.is_paused
    assert await scheduler.fire_due(at(45)) == []  # paused: nothing fires
    plain = await scheduler.unpause("plain", now=at(45))
    assert plain.fires == () and plain.missed == 3  # 20, 30, 40 passed over
    replayed = await scheduler.unpause("replayed", replay=True, now=at(45))
    assert [f.nominal for f in replayed.fires] == [at(20), at(30), at(40)]
    assert not (await scheduler.get("plain")).is_paused
    assert [f.nominal for e in await scheduler.fire_due(at(50)) for f in e.fires] == [
        at(50),
        at(50),
    ]


async def test_trigger_backfill_and_delete(
    scheduler: Scheduler, managers: list[TaskManager]
) -> None:
    await add(scheduler)
    fire = await scheduler.trigger("job", now=at(3))
    assert (fire.kind, fire.status, fire.nominal) == (FireKind.TRIGGER, FireStatus.STARTED, at(3))
    filled = await scheduler.backfill("job", at(-100), at(-60), now=at(4))
    assert [f.nominal for f in filled] == [at(s) for s in range(-100, -59, 10)]
    assert await scheduler.backfill("job", at(-100), at(-50), now=at(5)) != []
    again = await scheduler.backfill("job", at(-100), at(-50), now=at(6))
    assert again == []  # every time of the range has fired: nothing twice
    with pytest.raises(ScheduleError, match="more than 1000"):
        await scheduler.backfill("job", at(-100000), at(0))
    queued = await started_trees(managers[0])
    assert len(queued) == 1 + 6
    deleted = await scheduler.delete("job")
    assert deleted.name == "job"
    assert await scheduler.all() == []
    assert len(await started_trees(managers[0])) == 7  # its trees stay


async def test_a_tree_that_no_longer_checks_is_a_failed_fire(
    managers: list[TaskManager], any_url: str
) -> None:
    registry = ExecutorRegistry()
    registry.register(type(get_registry().get("noop").create()))  # noop only
    await managers[0].schedules.add(
        {"key": "x", "executor": "sleep", "inputs": {"seconds": 0}},
        {"every": 10},
        name="sleepy",
        now=T0,
    )
    poor = TaskManager(managers[0].task_repository, registry=registry)
    (evaluation,) = await poor.schedules.fire_due(at(10))
    (fire,) = evaluation.fires
    assert fire.status is FireStatus.FAILED and "unknown executor 'sleep'" in str(fire.reason)
    assert fire.tree_id is None
