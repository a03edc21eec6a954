"""Concurrency slots shared by every tree one manager runs: a global cap and per-executor caps.

A running attempt holds one slot; a parked one (waiting in ``context.wait``) and a retry that
is not due yet hold none."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

from taskflow.engine.settings import EngineSettings
from taskflow.executors import ExecutorRegistry

Watcher = Callable[[str], None]


class Slots:
    """Counts running tasks per manager and per executor, and tells tree runs when a slot frees."""

    def __init__(self, settings: EngineSettings, registry: ExecutorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.running = 0
        self.per_executor: collections.Counter[str] = collections.Counter()
        self._limits: dict[str, int | None] = {}
        self._watchers: list[Watcher] = []
        self._waiters: list[asyncio.Future[None]] = []

    def limit(self, executor_id: str) -> int | None:
        """The smaller of the configured limit and the executor's own ``max_concurrency``."""
        if executor_id not in self._limits:
            info = self.registry.get(executor_id)
            own = info.max_concurrency if info is not None else None
            limits = [n for n in (self.settings.executor_limits.get(executor_id), own) if n]
            self._limits[executor_id] = min(limits) if limits else None
        return self._limits[executor_id]

    @property
    def has_room(self) -> bool:
        """Whether another task may start at all."""
        return self.running < self.settings.concurrency

    def try_acquire(self, executor_id: str) -> bool:
        """Take a slot for a task of ``executor_id`` if both limits allow it."""
        limit = self.limit(executor_id)
        if not self.has_room or (limit is not None and self.per_executor[executor_id] >= limit):
            return False
        self.running += 1
        self.per_executor[executor_id] += 1
        return True

    def take(self, executor_id: str) -> None:
        """Take a slot whatever the limits say (an attempt found running elsewhere, followed
        again after its manager died: it runs already)."""
        self.running += 1
        self.per_executor[executor_id] += 1

    def release(self, executor_id: str) -> None:
        """Give a slot back and tell every watching tree run."""
        self.running -= 1
        self.per_executor[executor_id] -= 1
        for watcher in list(self._watchers):
            watcher(executor_id)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def acquire(self, executor_id: str) -> None:
        """Wait for a slot (a parked task coming back takes one this way)."""
        while not self.try_acquire(executor_id):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher(executor_id)`` whenever a slot frees; returns the unwatch function."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)
