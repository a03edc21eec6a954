"""Executors for the execution-control tests; importable by test subprocesses too."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, ClassVar

import aiofiles

from taskflow import BaseTask, TaskCtl
from taskflow.executors import Retry

OBJECT: dict[str, Any] = {"type": "object"}
#: Keys of the tasks whose ``execute`` has begun (in this process): a test that must act on
#: a running executor waits for its key here, not merely for its ``in_progress`` state.
STARTED: set[str] = set()


class Append(BaseTask):
    """Appends its key to a file (one line per execution), after an optional sleep."""

    id = "test.append"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"file": {"type": "string"}, "seconds": {"type": "number", "default": 0}},
        "required": ["file"],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(inputs["seconds"])
        async with aiofiles.open(inputs["file"], "a") as out:
            await out.write(self.context.key + "\n")
        return {"key": self.context.key}


class Cooperative(BaseTask):
    """Sleeps in small steps and returns early when cancelled."""

    id = "test.cooperative"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"seconds": {"type": "number", "default": 30}},
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        STARTED.add(self.context.key)
        for step in range(int(inputs["seconds"] * 20)):
            if self.context.is_cancelled:
                return {"stopped_at_step": step}
            await asyncio.sleep(0.05)
        return {"stopped_at_step": None}


class WithCancel(BaseTask):
    """Works until its cancel() is called, which returns a partial result."""

    id = "test.with_cancel"

    def __init__(self) -> None:
        self.done = 0
        self.stop = asyncio.Event()

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        STARTED.add(self.context.key)
        while not self.stop.is_set():
            self.done += 1
            await asyncio.sleep(0.02)
        return {"finished": False}

    async def cancel(self) -> dict[str, Any]:
        self.stop.set()
        return {
            "status": "cancelled",
            "partial_result": {"items_done": self.done},
            "task": self.context.key,
        }  # cancel() sees the task's context too


class Stubborn(BaseTask):
    """Ignores the cancellation flag: only a forced stop ends it."""

    id = "test.stubborn"
    input_schema: ClassVar[dict[str, Any]] = OBJECT

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        STARTED.add(self.context.key)
        await asyncio.sleep(3600)
        return {}


class Steps(BaseTask):
    """An async generator reporting progress 25, 50, 75, then success."""

    id = "test.steps"

    async def execute(self, inputs: dict[str, Any]):  # type: ignore[override]
        for percent in (25, 50, 75):
            yield TaskCtl.report_progress(f"step {percent}", percent)
            await asyncio.sleep(0.01)
        yield TaskCtl.success("all steps done", data={"steps": 3})


class Flaky(BaseTask):
    """Fails until its attempt number reaches ``succeed_on``; ``mode`` picks how it fails."""

    id = "test.flaky"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "succeed_on": {"type": "integer", "default": 3},
            "mode": {"enum": ["raise", "retry"], "default": "raise"},
            "delay": {"type": "number", "default": 0.05},
        },
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        attempt = self.context.attempt
        if attempt < inputs["succeed_on"]:
            if inputs["mode"] == "retry":
                raise Retry(delay=inputs["delay"], reason=f"not yet ({attempt})")
            raise ConnectionError(f"attempt {attempt} failed")
        return {"attempt": attempt}


class Soft(BaseTask):
    """Works until its soft time limit, then returns what it has."""

    id = "test.soft"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        rounds = 0
        while not self.context.soft_timed_out:
            rounds += 1
            await asyncio.sleep(0.02)
        return {"rounds": rounds, "wrapped_up": True}


class Waiter(BaseTask):
    """Waits for a signal and returns its data."""

    id = "test.waiter"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "default": "approval"},
            "timeout": {"type": ["number", "null"], "default": None},
        },
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        data = await self.context.wait(inputs["key"], timeout=inputs["timeout"])
        return {"received": data}


class NotSafe(Append):
    """Like Append, but must not run twice."""

    id = "test.not_safe"
    rerun_safe = False


class Mark(BaseTask):
    """Sleeps, then appends ``PID TREE KEY`` to a file: who ran what, and how many times."""

    id = "test.mark"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"file": {"type": "string"}, "seconds": {"type": "number", "default": 0}},
        "required": ["file"],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(inputs["seconds"])
        line = f"{os.getpid()} {self.context.tree_id} {self.context.key}\n"
        await asyncio.to_thread(_append, inputs["file"], line)
        return {"pid": os.getpid()}


class SlowStop(BaseTask):
    """Runs until cancelled, then takes ``seconds`` to stop (it winds down, marking a file)."""

    id = "test.slow_stop"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"seconds": {"type": "number", "default": 5}, "file": {"type": "string"}},
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await self.context.cancel_requested.wait()
        await asyncio.sleep(inputs["seconds"])
        return {"wound_down": True}


class Blocker(BaseTask):
    """Blocks the event loop (``time.sleep``), then marks a file: a badly written executor."""

    id = "test.blocker"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"seconds": {"type": "number"}, "file": {"type": "string"}},
        "required": ["seconds", "file"],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        time.sleep(inputs["seconds"])  # noqa: ASYNC251 - the point of this executor
        _append(inputs["file"], f"{os.getpid()} {self.context.tree_id} {self.context.key}\n")
        return {"blocked_for": inputs["seconds"]}


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:  # one write: lines stay whole
        out.write(line)


ALL = (
    Append,
    Cooperative,
    WithCancel,
    Stubborn,
    Steps,
    Flaky,
    Soft,
    Waiter,
    NotSafe,
    Mark,
    SlowStop,
    Blocker,
)
