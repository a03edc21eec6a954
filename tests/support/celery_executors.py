"""Executors the Celery backend tests run on real workers (``TASKFLOW_IMPORT=celery_executors``).

Side effects are counted in Redis (``INCR`` of the key a task names), so that a test sees how
many times an attempt really ran, whichever worker ran it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis

from taskflow import BaseTask, executor_register


def _count(inputs: dict[str, Any]) -> None:
    key = inputs.get("counter")
    if key:
        client = redis.Redis.from_url(os.environ["TASKFLOW_REDIS_URL"])
        try:
            with client.pipeline(transaction=True) as both:  # whoever sees the count sees the pid
                both.rpush(f"{key}:pids", os.getpid())
                both.incr(key)
                both.execute()
        finally:
            client.close()


@executor_register()
class CtNoop(BaseTask):
    """Does nothing (counts itself if asked)."""

    id = "ct.noop"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        await self.context.report_progress(1.0, "done")
        return {"pid": os.getpid(), "n": inputs.get("n")}


@executor_register()
class CtSleep(BaseTask):
    """Counts itself, then sleeps ``seconds`` reporting progress; its result names its pid."""

    id = "ct.sleep"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        seconds = float(inputs.get("seconds", 1.0))
        steps = 10
        for step in range(steps):
            await asyncio.sleep(seconds / steps)
            await self.context.report_progress((step + 1) / steps, f"step {step + 1}")
        self.context.log("slept", seconds=seconds)
        return {"pid": os.getpid()}


@executor_register()
class CtSpan(BaseTask):
    """Sleeps ``seconds``; its result says when it ran (wall clock: the workers share one)."""

    id = "ct.span"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        began = time.time()
        await asyncio.sleep(float(inputs.get("seconds", 0.3)))
        return {"began": began, "ended": time.time(), "pid": os.getpid()}


@executor_register()
class CtBlock(BaseTask):
    """Blocks its process (``time.sleep``): it answers neither the cancel flag nor asyncio."""

    id = "ct.block"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        time.sleep(float(inputs.get("seconds", 60.0)))  # noqa: ASYNC251 (the point of it)
        return {"pid": os.getpid()}


@executor_register()
class CtPolite(BaseTask):
    """Runs until cancelled; its ``cancel()`` hands back a partial result."""

    id = "ct.polite"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        self.done = 0
        while not self.context.is_cancelled:
            self.done += 1
            await asyncio.sleep(0.05)
        return {"done": self.done}

    async def cancel(self) -> dict[str, Any]:
        return {"partial": True, "pid": os.getpid()}


@executor_register()
class CtWait(BaseTask):
    """Waits for the signal ``approval`` and returns what it carried."""

    id = "ct.wait"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        data = await self.context.wait("approval", timeout=inputs.get("timeout"))
        return {"approved": data, "pid": os.getpid()}


@executor_register()
class CtBig(BaseTask):
    """Returns ``size`` bytes of text."""

    id = "ct.big"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"text": "x" * int(inputs["size"])}


@executor_register()
class CtUnsafe(BaseTask):
    """Like ct.sleep, but must not run twice."""

    id = "ct.unsafe"
    rerun_safe = False

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        await asyncio.sleep(float(inputs.get("seconds", 1.0)))
        return {"pid": os.getpid()}


@executor_register()
class CtChatty(BaseTask):
    """Counts itself, then ``steps`` times, ``seconds`` apart: progress ``step N`` and the log
    line ``line N``. Not safe to re-run: after a takeover it must be followed."""

    id = "ct.chatty"
    rerun_safe = False

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _count(inputs)
        steps = int(inputs.get("steps", 10))
        for step in range(1, steps + 1):
            await self.context.report_progress(step / steps, f"step {step}")
            self.context.log(f"line {step}")
            await asyncio.sleep(float(inputs.get("seconds", 0.2)))
        return {"pid": os.getpid()}


@executor_register()
class CtHere(BaseTask):
    """Runs in the orchestrating process (``runs_locally``)."""

    id = "ct.here"
    runs_locally = True

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}
