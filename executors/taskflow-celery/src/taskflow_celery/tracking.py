"""Which Celery task a taskflow task waits for, kept in Redis so that a re-run finds it.

A taskflow attempt sends its Celery task with an id of its own,
``taskflow-{taskflow task id}-{attempt}``, and records it in the hash
``taskflow:celery:{taskflow task id}`` (fields ``celery_task_id``, ``name``, ``state``):

- ``sent``: sent, and its outcome not yet taken by taskflow;
- ``collected``: its outcome (done or error) was read and handed to taskflow;
- ``abandoned``: taskflow gave up on it (cancelled, timed out, or it could not be sent) and
  revoked it.

When an attempt starts and the hash says ``sent`` for a task of the same name, the previous
attempt was interrupted (its process died) while the Celery task was in flight: the new
attempt waits for that Celery task — reading its stream from the start, so that an outcome
published meanwhile is not missed — instead of sending the work a second time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

TRACKING_KEY = "taskflow:celery:{task_id}"
SENT, COLLECTED, ABANDONED = "sent", "collected", "abandoned"


def celery_task_id(task_id: str, attempt: int) -> str:
    """The Celery task id of one taskflow attempt (the same if the attempt runs again)."""
    return f"taskflow-{task_id}-{attempt}"


@dataclasses.dataclass(slots=True)
class Tracker:
    """The tracking hash of one taskflow task.

    Attributes:
        redis: A ``redis.asyncio`` client with ``decode_responses=True``.
        task_id: The taskflow task id.
        ttl: Seconds the hash is kept after its last change.
    """

    redis: Any
    task_id: str
    ttl: int

    @property
    def key(self) -> str:
        """The hash's Redis key."""
        return TRACKING_KEY.format(task_id=self.task_id)

    async def claim(self, new_id: str, name: str) -> tuple[str, bool]:
        """The Celery task to wait for: one still in flight from an earlier attempt, if any
        (then ``True``), else ``new_id``, recorded as sent (then ``False``)."""
        known: dict[str, str] = await self.redis.hgetall(self.key)
        in_flight = known.get("celery_task_id")
        if known.get("state") == SENT and known.get("name") == name and in_flight:
            return in_flight, True
        await self._write({"celery_task_id": new_id, "name": name, "state": SENT})
        return new_id, False

    async def mark(self, state: str) -> None:
        """Record that the outcome was ``collected``, or that the task was ``abandoned``."""
        await self._write({"state": state})

    async def _write(self, fields: dict[str, str]) -> None:
        async with self.redis.pipeline() as pipe:
            pipe.hset(self.key, mapping=fields)
            pipe.expire(self.key, self.ttl)
            await pipe.execute()
