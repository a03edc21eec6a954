"""`Supervisor`: one thread per worker process, for the attempts that process runs.

It renews each attempt's claim and says it is alive (a heartbeat on its stream every
``heartbeat_seconds``), whatever the executor does — one that blocks its process does not stop
it — and reads the attempts' control streams (one blocking ``XREAD`` over them all), handing
cancels and signals to the event loop that runs the attempt. Attempts join and leave as they
start and end: no thread is made per attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from taskflow.backends.celery.protocol import (
    CANCEL,
    HEARTBEAT_SCRIPT,
    SIGNAL,
    STREAM_MAXLEN,
    Keys,
    decode,
)
from taskflow.backends.celery.settings import CelerySettings

logger = logging.getLogger("taskflow.celery.worker")
CONTROL_BLOCK_MS = 250  # the longest a new attempt waits to have its control stream read
IDLE_SECONDS = 1.0


class Controlled(Protocol):
    """What a cancel or a signal is handed to (the worker's local backend)."""

    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Cancel the attempt."""

    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Hand a signal to the attempt."""


@dataclasses.dataclass(slots=True, eq=False)
class Watched:
    """One attempt the supervisor looks after."""

    dispatch_id: str
    token: str
    loop: asyncio.AbstractEventLoop
    local: Controlled
    position: str = "0-0"
    next_beat: float = 0.0


class Supervisor(threading.Thread):
    """Heartbeats and control reads for one worker process.

    Args:
        redis: A synchronous Redis client (``decode_responses``).
        settings: The workers' settings.
    """

    def __init__(self, redis: Any, settings: CelerySettings) -> None:
        super().__init__(name="taskflow-supervisor", daemon=True)
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False

    def watch(self, watched: Watched) -> None:
        """Look after an attempt that has started."""
        watched.next_beat = time.monotonic() + self.settings.heartbeat_seconds
        with self._lock:
            self._watched[watched.dispatch_id] = watched
        self._wake.set()

    def unwatch(self, dispatch_id: str) -> None:
        """The attempt has ended."""
        with self._lock:
            self._watched.pop(dispatch_id, None)

    def stop(self) -> None:
        """Stop after the current read (at most `CONTROL_BLOCK_MS` later)."""
        self._stopped = True
        self._wake.set()

    def run(self) -> None:
        while not self._stopped:
            with self._lock:
                watched = list(self._watched.values())
            if not watched:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                continue
            try:
                self._beat(watched)
                self._read(watched)
            except Exception:
                logger.exception("the supervisor of this worker process failed; retrying")
                time.sleep(IDLE_SECONDS)

    def _beat(self, watched: list[Watched]) -> None:
        now, settings = time.monotonic(), self.settings
        for one in watched:
            if now < one.next_beat:
                continue
            one.next_beat = now + settings.heartbeat_seconds
            self.redis.eval(
                HEARTBEAT_SCRIPT,
                2,
                self.keys.claim(one.dispatch_id),
                self.keys.stream(one.dispatch_id),
                one.token,
                int(settings.worker_lost_seconds * 1000),
                settings.stream_ttl_seconds,
                STREAM_MAXLEN,
            )

    def _read(self, watched: list[Watched]) -> None:
        block = min(CONTROL_BLOCK_MS, int(self.settings.heartbeat_seconds * 500))
        streams = {self.keys.control(one.dispatch_id): one.position for one in watched}
        found = self.redis.xread(streams, block=max(block, 1))
        by_key = {self.keys.control(one.dispatch_id): one for one in watched}
        for key, entries in found or ():
            one = by_key[key]
            for entry_id, fields in entries:
                one.position = entry_id
                _apply(one, *decode(fields))


def _apply(one: Watched, op: str, data: Mapping[str, Any]) -> None:
    if op == CANCEL:
        grace = data.get("grace")
        reason = str(data.get("reason") or "cancelled")
        one.loop.call_soon_threadsafe(
            lambda: one.local.cancel(one.dispatch_id, reason, grace=grace)
        )
    elif op == SIGNAL:
        key, value = str(data.get("key")), data.get("data")
        one.loop.call_soon_threadsafe(one.local.signal, one.dispatch_id, key, value)
