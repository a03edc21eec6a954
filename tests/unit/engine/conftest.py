"""The engine on its in-memory siblings: `ScriptedBackend` and `MemoryRepository`.

No executor runs and no database is opened: each test scripts how attempts end and looks at
the engine's decisions (what was claimed, in which order, what was written).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar

import pytest

from taskflow import BaseTask, EngineSettings, MemoryRepository, TaskStatus
from taskflow.backends import ScriptedBackend
from taskflow.backends.permits import Permits
from taskflow.backends.scripted import Script
from taskflow.engine import Engine
from taskflow.executors import ExecutorRegistry


class Work(BaseTask):
    """Stands for any executor: the scripted backend decides how its attempts end."""

    id = "work"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
        raise AssertionError("a scripted backend runs nothing")


class Once(Work):
    """An executor that is not safe to run again after a crash."""

    id = "once"
    rerun_safe = False


class Limited(Work):
    """At most one of these at a time."""

    id = "limited"
    max_concurrency = 1


class Flaky(Work):
    """Retried by default."""

    id = "flaky"
    input_schema: ClassVar[Mapping[str, Any]] = {"type": "object"}


class Queued(Work):
    """Its attempts go to the queue ``io`` (on a distributed backend)."""

    id = "queued"
    queue = "io"


def registry() -> ExecutorRegistry:
    """A registry of the stand-in executors only (no plugins)."""
    found = ExecutorRegistry(discover_plugins=False)
    for executor in (Work, Once, Limited, Flaky, Queued):
        found.register(executor)
    return found


Make = Callable[..., Engine]


@pytest.fixture
async def make_engine() -> AsyncIterator[Make]:
    """Build engines on memory storage with a scripted backend; closed after the test."""
    made: list[Engine] = []

    def make(
        script: Mapping[str, Script] | None = None,
        *,
        repository: MemoryRepository | None = None,
        ignore_cancel: tuple[str, ...] = (),
        permits: Permits | None = None,
        elsewhere: tuple[str, ...] = (),
        **settings: Any,
    ) -> Engine:
        found = registry()
        repo = repository or MemoryRepository(registry=found)
        backend = ScriptedBackend(
            script, ignore_cancel=ignore_cancel, permits=permits, elsewhere=elsewhere
        )
        engine = Engine(repo, backend=backend, settings=EngineSettings(**settings), registry=found)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.close()


def scripted(engine: Engine) -> ScriptedBackend:
    """The engine's scripted backend."""
    backend = engine.backend
    assert isinstance(backend, ScriptedBackend)
    return backend


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 5) -> None:
    """Wait for ``check`` to hold (polling the loop, never sleeping a fixed time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def work(key: str, **fields: Any) -> dict[str, Any]:
    """A task of the stand-in executor."""
    return {"key": key, "executor": fields.pop("executor", "work"), **fields}


S = TaskStatus
