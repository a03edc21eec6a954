"""`Worker`: the service loop that runs trees for anyone (``taskflow worker``).

A worker takes over trees that need a manager — queued ones (``taskflow run --detach``,
``create_tree(queued=True)``, schedules), ones handed back by a manager that stopped, ones
whose manager died — up to a limit of trees at once, and keeps doing so until it is stopped.
On every poll it also fires the schedules that are due (`taskflow.runtime.scheduler`). Any number of
workers may share one database: a tree is claimed by one of them at a time (the claim is one
atomic update, fenced by the lease token). A worker announces itself with heartbeats, so that
``taskflow run --detach`` knows whether someone will pick its tree up.

Stopping (SIGTERM, as systemd, Docker and Kubernetes send, or Ctrl-C): no new trees are taken;
the running ones get ``stop_grace_seconds`` to finish, then they are stopped and handed back
resumable — another worker (or this one, restarted) finishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from datetime import timedelta

from taskflow.engine import Engine
from taskflow.exceptions import ConfigurationError
from taskflow.identity import host_name
from taskflow.models import utcnow
from taskflow.storage import WorkerInfo

logger = logging.getLogger("taskflow.worker")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """How a worker behaves.

    Attributes:
        max_trees: At most this many trees at once.
        poll_seconds: How often to look for trees that need a manager.
        heartbeat_seconds: How often to announce that it is alive.
        stop_grace_seconds: On stop, how long running trees may take to finish before they
            are handed back.
        idle_exit_seconds: Exit after this long without a tree (``None``: never).
        fire_schedules: Whether to fire the due schedules on every poll (every worker does,
            by default; any number may: each fire time starts one tree).
    """

    max_trees: int = 10
    poll_seconds: float = 1.0
    heartbeat_seconds: float = 5.0
    stop_grace_seconds: float = 10.0
    idle_exit_seconds: float | None = None
    fire_schedules: bool = True

    def __post_init__(self) -> None:
        if self.max_trees < 1:
            raise ConfigurationError(f"max_trees must be at least 1, not {self.max_trees}")
        for name in ("poll_seconds", "heartbeat_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.stop_grace_seconds < 0:
            raise ConfigurationError("stop_grace_seconds must be >= 0")


class Worker:
    """Runs trees that need a manager, with ``manager``, until stopped.

    Args:
        manager: The engine that runs the trees (its owner id is the worker's id).
        settings: Limits and timings.
    """

    def __init__(self, manager: Engine, settings: WorkerSettings | None = None) -> None:
        self.manager = manager
        self.settings = settings or WorkerSettings()
        self.started_at = utcnow()
        self.trees_run = 0
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # look for trees now, not at the next poll
        self._hurry = asyncio.Event()  # a second signal: hand the trees back now

    @property
    def id(self) -> str:
        """The worker's identity (its manager's owner id)."""
        return self.manager.owner

    def wake(self) -> None:
        """Look for trees that need a manager now (a tree was just queued here)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the loop to stop (it finishes or hands back its trees)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stop.is_set()

    def handle_signals(self) -> None:
        """Stop on SIGTERM and SIGINT (call from the running loop)."""
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._on_signal, number)

    def _on_signal(self, number: int) -> None:
        name = signal.Signals(number).name
        if self.stopping:
            logger.warning("%s again: handing the trees back now", name)
            self._hurry.set()
            return
        logger.warning(
            "%s: taking no new trees; %d running get %.0f s to finish, then are handed back",
            name,
            len(self.manager.active_trees),
            self.settings.stop_grace_seconds,
        )
        self.stop()

    async def run(self) -> None:
        """Take and run trees until stopped; then finish or hand back the running ones."""
        loop = asyncio.get_running_loop()
        beat_at = 0.0
        idle_since = loop.time()
        logger.info("worker %s started (up to %d trees)", self.id, self.settings.max_trees)
        try:
            while not self.stopping:
                if loop.time() >= beat_at:
                    await self._beat()
                    beat_at = loop.time() + self.settings.heartbeat_seconds
                await self._fire()
                await self._take()
                if self.manager.active_trees:
                    idle_since = loop.time()
                elif self._idle_too_long(loop.time() - idle_since):
                    logger.info(
                        "worker %s: idle for %.0f s, exiting", self.id, loop.time() - idle_since
                    )
                    break
                await self._pause()
        finally:
            await self._finish()

    async def _pause(self) -> None:
        """Wait ``poll_seconds``, or less if stopped or woken."""
        if not self._wake.is_set():
            waits = [
                asyncio.ensure_future(self._stop.wait()),
                asyncio.ensure_future(self._wake.wait()),
            ]
            _, pending = await asyncio.wait(
                waits, timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for waiting in pending:
                waiting.cancel()
        self._wake.clear()

    def _idle_too_long(self, idle: float) -> bool:
        limit = self.settings.idle_exit_seconds
        return limit is not None and idle >= limit

    async def _take(self) -> None:
        free = self.settings.max_trees - len(self.manager.active_trees)
        if free <= 0:
            return
        try:
            taken = await self.manager.take_over(free)
        except Exception:
            logger.exception("worker %s: looking for trees failed; trying again", self.id)
            return
        self.trees_run += len(taken)
        for tree_id in taken:
            logger.info("worker %s: running tree %s", self.id, tree_id)

    async def _fire(self) -> None:
        if not self.settings.fire_schedules:
            return
        from taskflow.runtime.scheduler import Scheduler

        try:
            await Scheduler(self.manager).fire_due()
        except Exception:
            logger.exception("worker %s: firing schedules failed; trying again", self.id)

    async def _beat(self) -> None:
        info = WorkerInfo(
            self.id,
            host_name(),
            os.getpid(),
            self.started_at,
            utcnow(),
            len(self.manager.active_trees),
        )
        try:
            await self.manager.storage.workers.beat(info)
        except Exception:
            logger.exception("worker %s: heartbeat failed", self.id)

    async def _finish(self) -> None:
        running = self.manager.active_trees
        if running and self.settings.stop_grace_seconds > 0 and not self._hurry.is_set():
            waits = [asyncio.ensure_future(self.manager.wait(tree_id)) for tree_id in running]
            hurry = asyncio.ensure_future(self._hurry.wait())
            all_done = asyncio.ensure_future(asyncio.wait(waits))
            await asyncio.wait(
                [all_done, hurry],
                timeout=self.settings.stop_grace_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for pending in (*waits, hurry, all_done):
                pending.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        stopped = await self.manager.stop_all()
        if stopped:
            logger.warning("worker %s: handed back trees with %d running tasks", self.id, stopped)
        with contextlib.suppress(Exception):
            await self.manager.storage.workers.remove(self.id)


async def alive_workers(manager: Engine, *, within_seconds: float = 15.0) -> list[WorkerInfo]:
    """Workers that sent a heartbeat within ``within_seconds``."""
    since = utcnow() - timedelta(seconds=within_seconds)
    return await manager.storage.workers.alive(since)
