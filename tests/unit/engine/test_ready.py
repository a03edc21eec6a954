"""The ready queue: lowest priority first, then first come; slot-blocked tasks keep their place."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from taskflow.engine.ready import ReadyQueue


def task(name: str, priority: int = 2) -> Any:
    return SimpleNamespace(name=name, base=SimpleNamespace(priority=priority))


def drain(queue: ReadyQueue) -> list[str]:
    names = []
    while queue:
        names.append(queue.pop()[2].name)
    return names


def test_lowest_priority_first_then_first_come() -> None:
    queue = ReadyQueue()
    for node in [task("a", 3), task("b", 1), task("c", 3), task("d", 0), task("e", 1)]:
        queue.push(node)
    assert drain(queue) == ["d", "b", "e", "a", "c"]
    assert not queue.waiting


def test_a_task_blocked_on_its_executor_goes_back_to_its_place() -> None:
    queue = ReadyQueue()
    for name in "abc":
        queue.push(task(name))
    queue.block("x", queue.pop())  # a found no slot of x
    assert queue.waiting
    queue.push(task("d"))
    queue.unblock("x")
    assert drain(queue) == ["a", "b", "c", "d"]


def test_blocked_tasks_come_back_in_their_order_across_executors() -> None:
    queue = ReadyQueue()
    for name in "abcd":
        queue.push(task(name))
    queue.block("x", queue.pop())  # a
    queue.block("y", queue.pop())  # b
    queue.unblock("y")
    queue.unblock("x")  # a was found ready before b: it goes first again
    assert drain(queue) == ["a", "b", "c", "d"]


def test_only_blocked_tasks_still_count_as_waiting_until_cleared() -> None:
    queue = ReadyQueue()
    queue.unblock("x")  # nobody waits for x: nothing changes
    assert not queue.waiting
    queue.push(task("a"))
    queue.block("x", queue.pop())
    assert not queue
    assert queue.waiting
    queue.clear()
    assert not queue.waiting
