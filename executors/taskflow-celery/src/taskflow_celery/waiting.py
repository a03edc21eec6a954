"""Waiting for a Celery task's outcome: a long poll on its stream, or the result backend.

The stream is read with blocking ``XREAD`` from its start (``0-0``), so that an outcome
published before the wait began is seen. Each read blocks for at most `MAX_BLOCK_SECONDS`
(less near the deadline), and a stop request interrupts it at once. After a read that brought
nothing, the result backend is asked whether the task has finished anyway (a task that
publishes no stream); blocks start short and double, so such a task is noticed within a
second or so while a long one costs one backend read every few seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from taskflow_celery.client import BackendState, finished_state
from taskflow_celery.stream import DONE, ERROR, StreamEntry, stream_key

logger = logging.getLogger("taskflow_celery.waiting")

MAX_BLOCK_SECONDS = 5.0  # one XREAD blocks at most this long
FIRST_BLOCK_SECONDS = 0.1  # then doubled after each empty read, up to MAX_BLOCK_SECONDS
BACKEND_FIRST_POLL_SECONDS = 0.005  # result-backend polling: doubled up to the next value
BACKEND_MAX_POLL_SECONDS = 1.0
DONE_RESULT_WAIT_SECONDS = 10.0  # after "done" without a result, for the backend to have it
XREAD_COUNT = 100  # entries per read
ABANDON_SECONDS = 0.1  # how long a cancelled read may take to end before it is left behind

Kind = Literal["done", "error", "timeout", "stopped", "revoked"]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Finished:
    """How the wait ended.

    Attributes:
        kind: ``done``, ``error``, ``timeout``, ``stopped`` (cancelled) or ``revoked``.
        result: The Celery task's result (done).
        source: Where the result came from: ``stream``, ``result_backend`` or ``none``.
        error_type: The remote exception's class name (error).
        error: Its message.
        traceback: The end of its traceback.
    """

    kind: Kind
    result: Any = None
    source: str = "none"
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None

    @classmethod
    def from_backend(cls, state: BackendState) -> Finished:
        """The outcome the result backend reports."""
        if state.state == "SUCCESS":
            return cls("done", result=state.result, source="result_backend")
        kind: Kind = "revoked" if state.state == "REVOKED" else "error"
        return cls(kind, error_type=state.error_type, error=state.error, traceback=state.traceback)


class StopSignal:
    """Set when the run must stop: either of the events (``cancel()``, the context's flag)."""

    def __init__(self, *events: asyncio.Event | None) -> None:
        self._events = [event for event in events if event is not None]

    def is_set(self) -> bool:
        """Whether a stop was asked."""
        return any(event.is_set() for event in self._events)

    async def race(self, work: Callable[[], Coroutine[Any, Any, T]]) -> tuple[bool, T | None]:
        """Run ``work()`` until it ends or a stop is asked: ``(stopped, result)``."""
        if self.is_set():
            return True, None
        task = asyncio.ensure_future(work())
        waiters = [asyncio.ensure_future(event.wait()) for event in self._events]
        try:
            await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            if not task.done():
                await _abandon(task)
        if task.done() and not task.cancelled() and task.exception() is None:
            return False, task.result()
        if self.is_set() or task.cancelled():
            return True, None
        return False, task.result()  # raises the work's error

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless a stop is asked first; return whether it was."""
        stopped, _ = await self.race(functools.partial(asyncio.sleep, seconds))
        return stopped


async def _abandon(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and give it a moment to end. A Redis command cancelled while it is
    being sent may not notice (redis-py finishes the command): it is then left to end by
    itself, up to one block later, and its outcome dropped."""
    task.cancel()
    await asyncio.wait([task], timeout=ABANDON_SECONDS)
    if not task.done():
        task.add_done_callback(_drop_outcome)


def _drop_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: not logged as never retrieved


ProgressSink = Callable[[StreamEntry], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class Waiter:
    """Waits for one Celery task's outcome until a deadline (event-loop time).

    Attributes:
        redis: A ``redis.asyncio`` client (``decode_responses=True``) for the stream.
        app: The client Celery application (for the result backend).
        celery_task_id: The task waited for.
        deadline: Event-loop time when the wait gives up (``timeout``).
        stop: Stops the wait (``stopped``).
        on_progress: Called with each progress or retry entry.
    """

    redis: Any
    app: Any
    celery_task_id: str
    deadline: float
    stop: StopSignal
    on_progress: ProgressSink
    backend_errors: int = 0

    def _remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    async def follow_stream(self) -> Finished:
        """Long-poll the stream from its start; fall back to the result backend when quiet."""
        key, last, block = stream_key(self.celery_task_id), "0-0", FIRST_BLOCK_SECONDS
        while True:
            remaining = self._remaining()
            if remaining <= 0:
                return Finished("timeout")
            seconds = min(block, remaining, MAX_BLOCK_SECONDS)
            stopped, entries = await self.stop.race(
                functools.partial(self._read, key, last, seconds)
            )
            if stopped or entries is None:
                return Finished("stopped")
            for entry_id, entry in entries:
                last = entry_id
                if entry.is_final:
                    return await self._final(entry)
                await self.on_progress(entry)
            if not entries:
                state = await self._backend(quiet=True)
                if state is not None:
                    return Finished.from_backend(state)
                block = min(block * 2, MAX_BLOCK_SECONDS)

    async def poll_backend(self, limit: float | None = None) -> Finished | None:
        """Poll the result backend until the task has finished, a stop, or ``limit`` (event-loop
        time; default the deadline, then `Finished` ``timeout``; ``None`` at an earlier limit)."""
        until = self.deadline if limit is None else min(limit, self.deadline)
        delay = BACKEND_FIRST_POLL_SECONDS
        while True:
            state = await self._backend(quiet=False)
            if state is not None:
                return Finished.from_backend(state)
            remaining = until - asyncio.get_running_loop().time()
            if remaining <= 0:
                return Finished("timeout") if until >= self.deadline else None
            if await self.stop.sleep(min(delay, remaining)):
                return Finished("stopped")
            delay = min(delay * 2, BACKEND_MAX_POLL_SECONDS)

    async def _final(self, entry: StreamEntry) -> Finished:
        if entry.status == ERROR:
            return Finished(
                "error",
                error_type=entry.error_type or "Exception",
                error=entry.error or "",
                traceback=entry.traceback,
            )
        assert entry.status == DONE
        if entry.has_result:
            return Finished("done", result=entry.result, source="stream")
        # The notifier publishes "done" as the body returns: Celery stores the result right
        # after, in the result backend.
        limit = asyncio.get_running_loop().time() + DONE_RESULT_WAIT_SECONDS
        found = await self.poll_backend(limit)
        return found if found is not None else Finished("done", source="none")

    async def _read(self, key: str, last: str, seconds: float) -> list[tuple[str, StreamEntry]]:
        block = max(1, int(seconds * 1000))
        response = await self.redis.xread({key: last}, count=XREAD_COUNT, block=block)
        return [
            (entry_id, StreamEntry.from_fields(fields)) for entry_id, fields in _entries(response)
        ]

    async def _backend(self, *, quiet: bool) -> BackendState | None:
        """The backend's word on the task; with ``quiet``, a failing backend is logged (the
        stream may still bring the outcome) instead of raised."""
        try:
            return await asyncio.to_thread(finished_state, self.app, self.celery_task_id)
        except Exception as exc:
            if not quiet:
                raise
            self.backend_errors += 1
            if self.backend_errors == 1:
                logger.warning(
                    "the result backend could not be read (waiting on the stream): %s", exc
                )
            return None


def _entries(response: Any) -> list[tuple[str, Any]]:
    """The ``(id, fields)`` pairs of an XREAD reply (RESP2 list or RESP3 dict)."""
    if not response:
        return []
    streams = response.values() if isinstance(response, dict) else (item[1] for item in response)
    found: list[tuple[str, Any]] = []
    for entries in streams:
        found.extend((entry_id, fields) for entry_id, fields in entries)
    return found
