"""The local backend lets go of a finished attempt at once.

A run that keeps pointing at itself after it ended (its execution context's control is the
run; its asyncio task's context holds the execution context) lives until a garbage
collection: nine objects per attempt for the collector to trace (a 10,000-task fan-out spent
twice as long in collections as it does without them).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from taskflow import BaseTask, TaskStatus
from taskflow.backends import Attempt, LocalBackend
from taskflow.executors import ExecutionContext, ExecutorRegistry, Outcome


class Sleepy(BaseTask):
    """Waits until cancelled, then hands back a partial result from ``cancel()``."""

    id = "sleepy"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await self.context.wait("never")
        return {"done": True}

    async def cancel(self) -> dict[str, Any]:
        return {"partial": True}


class Sink:
    """The reports of the backend: only the outcomes matter here."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self.ended = asyncio.Event()

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        pass

    def log(self, dispatch_id: str, message: str, fields: Mapping[str, Any]) -> None:
        pass

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        pass

    def position(self, dispatch_id: str, cursor: str) -> None:
        pass

    def finished(self, dispatch_id: str, outcome: Outcome) -> None:
        self.outcomes[dispatch_id] = outcome
        self.ended.set()


def attempt(executor: str, number: int = 1) -> Attempt:
    return Attempt(
        dispatch_id=f"t{number}.1",
        task_id=f"t{number}",
        tree_id="tree",
        key=f"t{number}",
        executor=executor,
        inputs={"n": number},
        attempt=1,
        cancel_grace=1.0,
    )


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """No garbage collection runs inside: what is freed is freed by its reference count."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def contexts_alive() -> int:
    return sum(isinstance(o, ExecutionContext) for o in gc.get_objects())


@pytest.fixture
def backend() -> LocalBackend:
    registry = ExecutorRegistry()
    registry.register(Sleepy)
    from taskflow.executors.builtin import Noop

    registry.register(Noop)
    return LocalBackend(registry)


async def test_a_completed_attempt_is_freed_without_a_collection(backend: LocalBackend) -> None:
    sink = Sink()
    with no_collections():
        before = contexts_alive()
        for number in range(20):
            backend.submit(attempt("noop", number), sink)
        while len(sink.outcomes) < 20:
            sink.ended.clear()
            await sink.ended.wait()
        await asyncio.sleep(0)  # the asyncio tasks finish after their last report
        assert {o.status for o in sink.outcomes.values()} == {TaskStatus.COMPLETED}
        assert len(backend) == 0
        assert contexts_alive() == before


async def test_a_cancelled_attempt_hands_back_its_partial_and_is_freed(
    backend: LocalBackend,
) -> None:
    sink = Sink()
    with no_collections():
        before = contexts_alive()
        backend.submit(attempt("sleepy"), sink)
        await asyncio.sleep(0.01)
        backend.cancel("t1.1", "enough")
        await asyncio.wait_for(sink.ended.wait(), 5)
        for _ in range(3):
            await asyncio.sleep(0)
        assert sink.outcomes["t1.1"].result == {"partial": True}  # the engine judges the rest
        assert contexts_alive() == before
