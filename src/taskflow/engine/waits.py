"""Waits of a tree run's attempts: an executor's ``wait(key)`` is answered from a signal
already stored, or its task is parked — its slot given back — until the signal comes or the
wait times out; then it takes a slot again and the backend hands the data to the executor.

A task that its previous manager had parked, followed again after a takeover, stays parked:
the backend reads on from the stored cursor and will not report that wait again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, Protocol

from taskflow.engine.graph import Node
from taskflow.engine.running import RunHost, Running
from taskflow.models import utcnow
from taskflow.storage import Signal, SignalUse

logger = logging.getLogger("taskflow.engine")


class Attempts(Protocol):
    """What `Waits` needs of the attempts it parks and resumes (`Dispatch`)."""

    host: RunHost

    def current(self, running: Running) -> bool: ...

    def find(self, node: Node) -> Running | None: ...

    def release(self, running: Running) -> None: ...

    def retake(self, running: Running) -> None: ...

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None: ...


class Waits:
    """Parks and resumes the attempts of one tree run that wait for a signal."""

    def __init__(self, attempts: Attempts) -> None:
        self._attempts = attempts
        self._host = attempts.host

    def reported(self, running: Running, key: str, timeout: float | None) -> None:
        """The executor waits for ``key``: look for a stored signal, else park the task."""
        running.looking = True
        self._attempts.spawn(self._wait(running, key, timeout))

    def still_parked(self, running: Running) -> bool:
        """Whether a task followed again was parked by its previous manager; if so it stays
        parked: no slot, and what remains of its wait's timeout armed again."""
        waiting = running.node.waiting
        key = waiting.get("key") if waiting is not None else None
        if waiting is None or not isinstance(key, str):
            return False
        running.wait_key = key
        running.holds_slot = False
        timeout = waiting.get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool):
            left = float(timeout)
            since = _time(waiting.get("since"))
            if since is not None:
                left -= (utcnow() - since) / timedelta(seconds=1)
            self._arm_timeout(running, max(left, 0.0))
        return True

    def deliver(self, node: Node, signal: Signal) -> bool:
        """A signal for ``node``: resume it if it is parked waiting for it."""
        running = self._attempts.find(node)
        if running is None or running.wait_key != signal.key or signal.id in running.used_signals:
            return False
        running.used_signals.add(signal.id)
        self._attempts.spawn(self._resume(running, signal.data, signal.id))
        return True

    async def _stored_signal(self, running: Running, key: str) -> Signal | None:
        node = running.node
        found = await self._host.context.storage.signals.pending(
            [node.base.tree_id], task_id=node.id, key=key
        )
        return next((s for s in found if s.id not in running.used_signals), None)

    async def _wait(self, running: Running, key: str, timeout: float | None) -> None:
        try:
            signal = await self._stored_signal(running, key)
        except Exception:
            logger.exception("looking for a %r signal for task %s failed", key, running.node.key)
            signal = None
        finally:
            running.looking = False
        if not self._attempts.current(running):
            return  # it ended meanwhile
        if signal is not None:
            self._hand_over(running, key, signal.data, signal.id)
        else:
            self._park(running, key, timeout)
        cursor, running.held_cursor = running.held_cursor, None
        if cursor is not None:
            self._host.changes.tick()
            self._host.changes.position(running.node, cursor)

    def _park(self, running: Running, key: str, timeout: float | None) -> None:
        running.wait_key = key
        self._host.changes.tick()
        self._host.changes.waiting(running.node, key, timeout)
        if running.holds_slot:
            self._attempts.release(running)
        if timeout is not None:
            self._arm_timeout(running, timeout)

    def _arm_timeout(self, running: Running, delay: float) -> None:
        """Resume the parked task with no data (the wait timed out) in ``delay`` seconds."""
        if running.wait_timer is not None:
            running.wait_timer.cancel()
        running.wait_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._attempts.spawn(self._resume(running, None, None))
        )

    async def _resume(self, running: Running, data: Any, signal_id: int | None) -> None:
        key = running.wait_key
        if key is None:
            return
        running.wait_key = None
        if running.wait_timer is not None:
            running.wait_timer.cancel()
            running.wait_timer = None
        executor = running.node.base.executor or ""
        slots = self._host.context.slots
        await slots.acquire(executor, running.node.id)
        if not self._attempts.current(running):  # it ended while it waited for a slot
            slots.release(executor, running.node.id)
            return
        self._attempts.retake(running)
        self._host.changes.tick()
        self._host.changes.resumed(running.node, timed_out=signal_id is None)
        self._hand_over(running, key, data, signal_id)

    def _hand_over(self, running: Running, key: str, data: Any, signal_id: int | None) -> None:
        if signal_id is not None:
            running.used_signals.add(signal_id)
            self._host.batch.signals.append(SignalUse(signal_id, running.node.attempt))
            self._host.wake()
        self._host.context.backend.signal(running.dispatch_id, key, data)


def _time(value: Any) -> datetime | None:
    """The ``since`` of a stored wait (ISO 8601), or ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None
