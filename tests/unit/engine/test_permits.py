"""Concurrency limits shared by several managers (their attempts run on shared workers): each
attempt of a limited executor holds a permit of the backend's shared `Permits`, so that the
limit holds across managers; a parked, finished, cancelled or never-started task holds none."""

from __future__ import annotations

import asyncio

from conftest import Make, S, scripted, until, work  # type: ignore[import-not-found]
from taskflow.backends.permits import MemoryPermits
from taskflow.backends.scripted import HOLD, WaitFor
from taskflow.engine import Engine

BUCKET = "executor:limited"  # the stand-in executor with max_concurrency = 1


def running(engines: list[Engine]) -> list[str]:
    """The keys of the limited tasks the scripted backends run now."""
    return [
        key
        for engine in engines
        for key in ("a1", "a2", "b1", "b2")
        if scripted(engine).running(key) is not None
    ]


async def test_an_executors_limit_holds_across_managers(make_engine: Make) -> None:
    permits = MemoryPermits()
    script = {key: HOLD for key in ("a1", "a2", "b1", "b2")}
    engines = [make_engine(script, permits=permits) for _ in range(2)]
    ids = [
        await engine.launch({"key": "root", "children": [work(f"{p}1", executor="limited"),
                                                         work(f"{p}2", executor="limited")]})
        for engine, p in zip(engines, "ab", strict=True)
    ]  # fmt: skip
    finished: list[str] = []
    for _ in range(4):
        await until(lambda: len(running(engines)) == 1, "one limited task to run")
        (key,) = running(engines)
        assert permits.held[BUCKET] and len(permits.held[BUCKET]) == 1
        engine = engines[0] if key.startswith("a") else engines[1]
        scripted(engine).finish(key)
        finished.append(key)
    assert sorted(finished) == ["a1", "a2", "b1", "b2"]
    for engine, tree_id in zip(engines, ids, strict=True):
        assert (await engine.wait(tree_id)).task.status is S.COMPLETED
    assert permits.held[BUCKET] == set()


async def test_a_parked_task_gives_its_permit_back_and_takes_it_again(make_engine: Make) -> None:
    permits = MemoryPermits()
    first = make_engine({"a1": WaitFor("go")}, permits=permits)
    second = make_engine({"b1": HOLD}, permits=permits)
    a_tree = await first.launch({"key": "root", "children": [work("a1", executor="limited")]})
    await until(lambda: any(t.waiting for t in first.running_tasks()), "a1 to wait")
    b_tree = await second.launch({"key": "root", "children": [work("b1", executor="limited")]})
    await until(lambda: scripted(second).running("b1") is not None, "b1 to run while a1 waits")
    waiting = first.running_tasks()[0]
    await first.notify(waiting.id, "go", 1)
    await asyncio.sleep(0.1)  # time enough to resume, had it a permit
    assert not scripted(first).signalled  # a1 waits for the permit b1 holds
    scripted(second).finish("b1")
    assert (await second.wait(b_tree)).task.status is S.COMPLETED
    assert (await first.wait(a_tree)).task.status is S.COMPLETED
    assert permits.held[BUCKET] == set()


async def test_a_task_cancelled_while_it_waits_for_its_permit_holds_none(make_engine: Make) -> None:
    permits = MemoryPermits()
    first = make_engine({"a1": HOLD}, permits=permits)
    second = make_engine({"b1": HOLD, "free": HOLD}, permits=permits)
    a_tree = await first.launch({"key": "root", "children": [work("a1", executor="limited")]})
    await until(lambda: scripted(first).running("a1") is not None, "a1 to run")
    b_tree = await second.launch(
        {"key": "root", "children": [work("b1", executor="limited"), work("free")]}
    )
    await until(lambda: scripted(second).running("free") is not None, "an unlimited task to run")
    assert scripted(second).running("b1") is None  # waits for a1's permit, holding no slot
    await second.cancel(b_tree)
    tree = await second.wait(b_tree)
    assert tree.find("b1").task.status is S.CANCELLED  # type: ignore[union-attr]
    assert len(scripted(second).submitted) == 1  # b1 never started
    scripted(first).finish("a1")
    assert (await first.wait(a_tree)).task.status is S.COMPLETED
    assert permits.held[BUCKET] == set()


async def test_without_shared_permits_each_manager_counts_its_own(make_engine: Make) -> None:
    engines = [make_engine({"a1": HOLD, "b1": HOLD}) for _ in range(2)]
    for engine, key in zip(engines, ("a1", "b1"), strict=True):
        await engine.launch({"key": "root", "children": [work(key, executor="limited")]})
    await until(lambda: len(running(engines)) == 2, "one limited task per manager")
    scripted(engines[0]).finish("a1")
    scripted(engines[1]).finish("b1")


async def test_a_parked_task_stopped_while_it_waits_for_a_slot_gives_its_permit_back(
    make_engine: Make,
) -> None:
    permits = MemoryPermits()
    engine = make_engine({"a1": WaitFor("go"), "busy": HOLD}, permits=permits, concurrency=1)
    tree_id = await engine.launch({"key": "root", "children": [work("a1", executor="limited")]})
    await until(lambda: any(t.waiting for t in engine.running_tasks()), "a1 to park")
    other = await engine.launch({"key": "other", "children": [work("busy")]})
    await until(lambda: scripted(engine).running("busy") is not None, "busy to take the slot")
    waiting = next(t for t in engine.running_tasks() if t.key == "a1")
    await engine.notify(waiting.id, "go", 1)  # a1 takes its permit, then waits for the slot
    await until(lambda: bool(permits.held[BUCKET]), "a1 to hold its permit")
    await engine.cancel(tree_id)
    await engine.wait(tree_id)
    assert permits.held[BUCKET] == set()
    scripted(engine).finish("busy")
    await engine.wait(other)
