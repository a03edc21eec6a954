"""Concurrency slots shared by every tree one manager runs: a global cap and per-executor caps.

A running attempt holds one slot; a parked one (waiting in ``context.wait``) and a retry that
is not due yet hold none. When the backend shares `Permits` between managers (attempts run on
shared workers), an attempt of an executor with a limit holds that executor's permit too, so
that the limit holds across every manager: it is taken before the slot (`Slots.permit`, in
the order tasks asked), and given back with it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

from taskflow.backends.permits import Permits
from taskflow.engine.settings import EngineSettings
from taskflow.executors import ExecutorRegistry

logger = logging.getLogger("taskflow.engine")
Watcher = Callable[[str], None]
#: How often a manager asks again for a permit held elsewhere (backing off to the maximum).
PERMIT_POLL_SECONDS = (0.02, 0.5)


class Slots:
    """Counts running tasks per manager and per executor, and tells tree runs when a slot frees.

    Args:
        settings: The global cap (``concurrency``) and per-executor caps.
        registry: The executors (their own ``max_concurrency``).
        permits: Permits shared with other managers (``None``: this manager's count is all).
    """

    def __init__(
        self, settings: EngineSettings, registry: ExecutorRegistry, permits: Permits | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.permits = permits
        self.running = 0
        self.per_executor: collections.Counter[str] = collections.Counter()
        self._limits: dict[str, int | None] = {}
        self._watchers: list[Watcher] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._held: dict[str, str] = {}  # holder (task id) -> the executor it holds a permit of
        self._asking: dict[str, collections.deque[tuple[str, asyncio.Future[None]]]] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._freed: dict[str, asyncio.Event] = {}
        self._helpers: set[asyncio.Task[Any]] = set()

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

    def take(self, executor_id: str, holder: str | None = None) -> None:
        """Take a slot (and ``holder``'s permit) whatever the limits say: an attempt found
        running elsewhere, followed again after its manager died — it runs already."""
        self.running += 1
        self.per_executor[executor_id] += 1
        if holder is not None and self.shared(executor_id) and holder not in self._held:
            self._held[holder] = executor_id
            self._call(
                self._permits().take(_bucket(executor_id), holder), f"taking {holder}'s permit"
            )

    def release(self, executor_id: str, holder: str | None = None) -> None:
        """Give a slot (and ``holder``'s permit) back and tell every watching tree run."""
        self.running -= 1
        self.per_executor[executor_id] -= 1
        if holder is not None:
            self.release_permit(holder)
        for watcher in list(self._watchers):
            watcher(executor_id)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def acquire(self, executor_id: str, holder: str | None = None) -> None:
        """Wait for ``holder``'s permit, then for a slot (a parked task coming back)."""
        if holder is not None:
            await self.permit(executor_id, holder)
        try:
            while not self.try_acquire(executor_id):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
        except asyncio.CancelledError:
            if holder is not None:
                self.release_permit(holder)  # it will not run: its permit goes back
            raise

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher(executor_id)`` whenever a slot frees; returns the unwatch function."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    # -- permits shared with other managers ---------------------------------------------------

    def shared(self, executor_id: str) -> bool:
        """Whether a task of ``executor_id`` needs a permit (a limit shared with others)."""
        return self.permits is not None and self.limit(executor_id) is not None

    def holds_permit(self, holder: str) -> bool:
        """Whether ``holder`` holds a permit."""
        return holder in self._held

    async def permit(self, executor_id: str, holder: str) -> None:
        """Wait until ``holder`` holds a permit of ``executor_id`` (at once if it needs none
        or holds one); tasks asking for the same executor get theirs in the order they asked.
        """
        if not self.shared(executor_id) or holder in self._held:
            return
        future = asyncio.get_running_loop().create_future()
        self._asking.setdefault(executor_id, collections.deque()).append((holder, future))
        pump = self._pumps.get(executor_id)
        if pump is None or pump.done():
            self._pumps[executor_id] = asyncio.ensure_future(self._pump(executor_id))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release_permit(holder)  # granted as its waiter was cancelled
            raise

    def release_permit(self, holder: str) -> None:
        """Give ``holder``'s permit back, if it holds one."""
        executor_id = self._held.pop(holder, None)
        if executor_id is None:
            return
        release = self._permits().release(_bucket(executor_id), holder)
        self._call(release, f"releasing {holder}'s permit")
        freed = self._freed.get(executor_id)
        if freed is not None:
            freed.set()

    async def _pump(self, executor_id: str) -> None:
        """Ask for permits of one executor, for the first task in line, until none is left."""
        asking = self._asking[executor_id]
        freed = self._freed.setdefault(executor_id, asyncio.Event())
        bucket, pause = _bucket(executor_id), PERMIT_POLL_SECONDS[0]
        while asking:
            holder, future = asking[0]
            if future.done():
                asking.popleft()
                continue
            limit = self.limit(executor_id)
            assert limit is not None
            freed.clear()
            try:
                taken = await self._permits().try_take(bucket, holder, limit)
            except Exception:
                logger.exception("asking for a permit of %s failed; asking again", executor_id)
                taken = False
            if taken:
                asking.popleft()
                self._held[holder] = executor_id
                if future.done():
                    self.release_permit(holder)  # its task stopped asking meanwhile
                else:
                    future.set_result(None)
                pause = PERMIT_POLL_SECONDS[0]
                continue
            try:
                await asyncio.wait_for(freed.wait(), pause)
            except TimeoutError:
                pause = min(pause * 2, PERMIT_POLL_SECONDS[1])

    def _permits(self) -> Permits:
        assert self.permits is not None
        return self.permits

    def _call(self, coroutine: Any, what: str) -> None:
        async def call() -> None:
            try:
                await coroutine
            except Exception:
                logger.exception("%s failed", what)

        task = asyncio.ensure_future(call())
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def close(self) -> None:
        """Stop asking for permits; wait for the releases under way."""
        for pump in self._pumps.values():
            pump.cancel()
        for holder in list(self._held):
            self.release_permit(holder)
        if self._helpers:
            await asyncio.wait(list(self._helpers), timeout=5.0)


def _bucket(executor_id: str) -> str:
    return f"executor:{executor_id}"
