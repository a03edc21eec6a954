"""`LeaseKeeper`: renews a manager's leases from a thread of its own, and watches its loop.

An executor that blocks the event loop (``time.sleep(45)`` in ``execute``) must not cost its
manager the leases on its trees — or another manager takes them over and runs the same tasks
again while they still run here. So leases are renewed from a separate thread, with its own
event loop and database connection, whatever the main loop is doing. The same thread notices a
blocked loop and logs which task blocked it, and for how long.

A loop blocked for longer than `MAX_BLOCKED_LEASES` lease periods is taken for hung: its leases
are no longer renewed, so that another manager can finish its trees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from taskflow.models import utcnow
from taskflow.storage import LeaseStore

logger = logging.getLogger("taskflow.engine")

BEAT_SECONDS = 0.1  # how often the main loop says it is alive
BLOCKED_SECONDS = 1.0  # a loop silent for longer is reported as blocked
MAX_BLOCKED_LEASES = 10  # stop renewing after the loop was blocked this many lease periods

LostCallback = Callable[[str], None]


class LeaseKeeper:
    """Renews the leases of one manager every third of ``lease_seconds``.

    Args:
        owner: The manager's identity.
        lease_seconds: How long each renewal extends a lease.
        renewer: A `LeaseStore` usable from another thread's loop (``None``: renew on the main
            loop, for storage that lives in this process only).
        main: The leases as the main loop sees them (used when ``renewer`` is ``None``).
        on_lost: Called on the main loop with a tree id whose lease was found lost.
    """

    def __init__(
        self,
        owner: str,
        lease_seconds: float,
        renewer: LeaseStore | None,
        main: LeaseStore,
        on_lost: LostCallback,
    ) -> None:
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.renewer = renewer
        self.main = main
        self.on_lost = on_lost
        self._tokens: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beat = time.monotonic()
        self._beat_handle: asyncio.TimerHandle | None = None

    def hold(self, tree_id: str, token: int) -> None:
        """Keep renewing this tree's lease (starts the thread on first use)."""
        with self._lock:
            self._tokens[tree_id] = token
        if self._thread is None:
            self._start()

    def drop(self, tree_id: str) -> None:
        """Stop renewing this tree's lease."""
        with self._lock:
            self._tokens.pop(tree_id, None)

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._beat_now()
        self._thread = threading.Thread(
            target=self._thread_main, name="taskflow-lease-keeper", daemon=True
        )
        self._thread.start()

    def _beat_now(self) -> None:
        self._beat = time.monotonic()
        assert self._loop is not None
        self._beat_handle = self._loop.call_later(BEAT_SECONDS, self._beat_now)

    async def close(self) -> None:
        """Stop the thread (and the loop's heartbeat)."""
        self._stop.set()
        if self._beat_handle is not None:
            self._beat_handle.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None

    # -- the thread -----------------------------------------------------------------------------

    def _thread_main(self) -> None:
        asyncio.run(self._keep())

    async def _keep(self) -> None:
        interval = self.lease_seconds / 3
        next_renewal = time.monotonic() + interval
        blocked_since: float | None = None
        try:
            while not self._stop.is_set():
                await asyncio.sleep(min(BEAT_SECONDS * 2, interval))
                now = time.monotonic()
                lag = now - self._beat
                blocked_since = self._watch_loop(lag, now, blocked_since)
                if now >= next_renewal:
                    next_renewal = now + interval
                    if lag < self.lease_seconds * MAX_BLOCKED_LEASES:
                        await self._renew()
        finally:
            if self.renewer is not None:
                with contextlib.suppress(Exception):
                    await self.renewer.close()  # type: ignore[attr-defined]

    def _watch_loop(self, lag: float, now: float, blocked_since: float | None) -> float | None:
        if lag > BLOCKED_SECONDS and blocked_since is None:
            logger.warning(
                "the event loop is blocked (for %.1f s so far) by %s: an executor is running "
                "blocking code; leases are still renewed",
                lag,
                self._culprit(),
            )
            return now - lag
        if lag <= BLOCKED_SECONDS and blocked_since is not None:
            logger.warning("the event loop was blocked for %.1f s", now - blocked_since)
            return None
        return blocked_since

    def _culprit(self) -> str:
        """The asyncio task running on the main loop now (our tasks are named after keys)."""
        assert self._loop is not None
        task = asyncio.current_task(self._loop)
        if task is None:
            return "code outside any task"
        name = task.get_name()
        return f"task {name.removeprefix('taskflow:')!r}" if name.startswith("taskflow:") else name

    async def _renew(self) -> None:
        with self._lock:
            tokens = dict(self._tokens)
        if not tokens:
            return
        expires = utcnow() + timedelta(seconds=self.lease_seconds)
        try:
            lost = await self._renew_tokens(tokens, expires)
        except Exception:
            logger.exception("renewing the leases of %s failed; trying again", self.owner)
            return
        assert self._loop is not None
        for tree_id in lost:
            with self._lock:
                still_held = self._tokens.get(tree_id) == tokens[tree_id]
            if still_held:
                self._loop.call_soon_threadsafe(self.on_lost, tree_id)

    async def _renew_tokens(self, tokens: dict[str, int], expires: object) -> set[str]:
        if self.renewer is not None:
            return await self.renewer.renew(self.owner, tokens, expires)  # type: ignore[arg-type]
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self.main.renew(self.owner, tokens, expires),  # type: ignore[arg-type]
            self._loop,
        )
        return await asyncio.wrap_future(future)
