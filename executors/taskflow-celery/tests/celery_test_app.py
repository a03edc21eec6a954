"""The Celery application the tests' worker runs.

``my_task`` is written exactly in the pattern's style (pydantic schemas shared with the caller,
``bind=True, pydantic=True``, the body wrapped in ``task_stream_notifier``); the other tasks
misbehave on purpose. Broker, result backend and Redis come from the environment, as the
tests set it for the worker.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from typing import Any

import redis
import redis.asyncio
from celery import Celery, Task
from pydantic import BaseModel
from taskflow_celery import report_progress, task_stream_notifier

REDIS_URL = os.environ["TASKFLOW_REDIS_URL"]

celery = Celery(
    "taskflow_celery_tests",
    broker=os.environ.get("TASKFLOW_CELERY_BROKER_URL", REDIS_URL),
    backend=os.environ.get("TASKFLOW_CELERY_RESULT_BACKEND", REDIS_URL),
)
celery.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_track_started=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

STEP_SECONDS = 0.02  # how long the slow tasks sleep between checks


@functools.cache
def get_redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


# -- the pattern, verbatim but for names ------------------------------------------------------


class MyTaskInput(BaseModel):
    """Input schema for my_task."""

    field1: str
    field2: int


class MyTaskOutput(BaseModel):
    """Output schema for my_task."""

    result: str
    token_consumption: dict[str, str | int | None] | None = None


def run_my_task(arg: MyTaskInput) -> MyTaskOutput:
    """Your task logic here."""
    result = " ".join([arg.field1] * arg.field2)
    return MyTaskOutput(result=result, token_consumption={"words": arg.field2})


@celery.task(name="my_task", bind=True, pydantic=True)
def run(self: Task, arg: MyTaskInput) -> MyTaskOutput:
    """Celery task wrapper."""
    task_id = self.request.id
    redis_client = get_redis_client()

    # Context manager automatically handles stream notifications
    with task_stream_notifier(redis_client, task_id):
        return run_my_task(arg)


# -- tasks for the other cases ----------------------------------------------------------------


class QuotaExceeded(Exception):
    """An error class the caller cannot import: only its name travels."""


@celery.task(name="tests.fails", bind=True)
def fails(self: Task, message: str) -> None:
    with task_stream_notifier(get_redis_client(), self.request.id):
        raise QuotaExceeded(message)


@celery.task(name="tests.with_result", bind=True)
def with_result(self: Task, value: Any) -> Any:
    """Hands its result to the notifier: it travels in the done entry."""
    with task_stream_notifier(get_redis_client(), self.request.id) as notifier:
        notifier.result = {"echo": value}
        return {"echo": value}


@celery.task(name="tests.no_stream")
def no_stream(value: Any) -> Any:
    """Publishes nothing: the caller falls back to the result backend."""
    return {"plain": value}


@celery.task(name="tests.progress", bind=True)
def progress(self: Task, steps: int) -> dict[str, int]:
    client = get_redis_client()
    with task_stream_notifier(client, self.request.id):
        for step in range(1, steps + 1):
            report_progress(client, self.request.id, step / steps, f"step {step} of {steps}")
        report_progress(client, self.request.id, None, "all steps done")
        return {"steps": steps}


@celery.task(name="tests.hold", bind=True)
def hold(self: Task, marker: str, seconds: float) -> dict[str, Any]:
    """Counts its runs, says it started, then waits for ``release:{marker}`` (or ``seconds``);
    records ``finished:{marker}`` if it gets to the end."""
    client = get_redis_client()
    client.incr(f"runs:{marker}")
    with task_stream_notifier(client, self.request.id):
        report_progress(client, self.request.id, 0.1, "started")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not client.exists(f"release:{marker}"):
            time.sleep(STEP_SECONDS)
        client.set(f"finished:{marker}", "1", ex=600)
        return {"marker": marker}


@celery.task(name="tests.async_notifier", bind=True)
def async_notifier(self: Task, value: int) -> dict[str, int]:
    """The notifier with a redis.asyncio client, inside a coroutine."""

    async def body() -> dict[str, int]:
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            async with task_stream_notifier(client, self.request.id) as notifier:
                await report_progress(client, self.request.id, 0.5, "half way, async")
                notifier.result = {"doubled": value * 2}
                return {"doubled": value * 2}
        finally:
            await client.aclose()

    return asyncio.run(body())
