"""What a running executor asks of the engine, and a tree run's periodic upkeep.

`Upkeep` is the `RunControl` that every `ExecutionContext` of a tree run talks to: progress
(persisted, rolled up to parent groups), log lines, and `wait` — which parks the task without
holding a concurrency slot until `notify` sends it data. Its `run` loop renews the tree's lease,
picks up cancel requests made from other processes, and wakes parked tasks whose signal came
from another process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from taskflow.events import EventType
from taskflow.executors import ExecutionContext
from taskflow.models import TaskStatus, utcnow
from taskflow.storage import TaskQuery

if TYPE_CHECKING:
    from taskflow.engine.graph import Node
    from taskflow.engine.scheduler import TreeRun

logger = logging.getLogger("taskflow.engine")
_UNFINISHED = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)


class Upkeep:
    """Progress, logs and waits for one tree run, and its periodic upkeep."""

    def __init__(self, run: TreeRun) -> None:
        self.run_ = run
        self._parked: dict[str, tuple[str, asyncio.Future[None]]] = {}

    # -- RunControl ---------------------------------------------------------------------------

    def report_progress(
        self, context: ExecutionContext, fraction: float, message: str | None
    ) -> None:
        """Persist progress, roll it up to parent groups, publish an event."""
        node = self.run_.graph.nodes[context.task_id]
        self.run_.touch()
        self.run_.update(node, progress=fraction)
        data: dict[str, Any] = {"key": node.task.key, "progress": fraction}
        if message:
            data["message"] = message
        self.run_.emit(node, EventType.PROGRESS, data)

    def log(self, context: ExecutionContext, message: str, fields: Mapping[str, Any]) -> None:
        """A log line as an event."""
        node = self.run_.graph.nodes[context.task_id]
        self.run_.touch()
        safe = json.loads(json.dumps(dict(fields), default=str))  # a log line never breaks a write
        extra = {k: v for k, v in safe.items() if k not in ("key", "message")}
        self.run_.emit(node, EventType.LOG, {"key": node.task.key, "message": message, **extra})

    async def wait(self, context: ExecutionContext, key: str, timeout: float | None) -> Any:
        """Return the data of ``notify(task, key)``; park the task (no slot held) meanwhile."""
        signals = self.run_.repository.signals
        found = await signals.take(context.task_id, key)
        if found is not None:
            return found.data
        node = self.run_.graph.nodes[context.task_id]
        self._park(node, key, timeout)
        try:
            return await self._sleep_until_signal(context, key, timeout)
        finally:
            self._parked.pop(context.task_id, None)
            await self._unpark(node, context)

    async def _sleep_until_signal(
        self, context: ExecutionContext, key: str, timeout: float | None
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not context.is_cancelled:
            woken: asyncio.Future[None] = loop.create_future()
            self._parked[context.task_id] = (key, woken)
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                await asyncio.wait_for(woken, remaining)
            except TimeoutError:
                return None
            found = await self.run_.repository.signals.take(context.task_id, key)
            if found is not None:
                return found.data
        return None

    def _park(self, node: Node, key: str, timeout: float | None) -> None:
        run = self.run_
        run.touch()
        if node.task.id in run.holding:
            run.holding.discard(node.task.id)
            run.capacity.release(node.task.executor or "")
        run.emit(node, EventType.WAITING, {"key": node.task.key, "signal": key, "timeout": timeout})
        run.wake()

    async def _unpark(self, node: Node, context: ExecutionContext) -> None:
        run = self.run_
        if not context.is_cancelled and node.task.id in run.running:
            await run.capacity.acquire(node.task.executor or "")
            run.holding.add(node.task.id)
        run.touch()
        run.emit(node, EventType.RESUMED, {"key": node.task.key})
        run.wake()

    def wake_parked(self, task_id: str, key: str | None = None) -> None:
        """Wake a parked task (a notify for it arrived, or it is being cancelled)."""
        parked = self._parked.get(task_id)
        if parked is not None and (key is None or parked[0] == key) and not parked[1].done():
            parked[1].set_result(None)

    # -- upkeep -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Every ``poll_seconds``: renew the lease when due, act on requests from elsewhere."""
        settings = self.run_.settings
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(settings.poll_seconds)
            try:
                if loop.time() - renewed >= settings.lease_seconds / 3:
                    await self._renew()
                    renewed = loop.time()
                await self._take_cancel_requests()
                await self._wake_signalled()
            except Exception:
                logger.exception(
                    "upkeep of tree %s failed; trying again", self.run_.graph.root.task.key
                )

    async def _renew(self) -> None:
        run = self.run_
        expires = utcnow() + timedelta(seconds=run.settings.lease_seconds)
        if await run.repository.leases.renew(run.graph.root.task.tree_id, run.owner, expires) == 0:
            logger.error("lost the lease on tree %s; stopping", run.graph.root.task.key)
            run.stopping = True
            run.wake()

    async def _take_cancel_requests(self) -> None:
        run = self.run_
        query = TaskQuery(
            tree_id=run.graph.root.task.tree_id, statuses=_UNFINISHED, cancel_requested=True
        )
        for task in await run.repository.select(query):
            node = run.graph.nodes[task.id]
            if not node.task.is_terminal:
                run.update(node, cancel_requested=None)
                run.cancel(node, task.cancel_requested or "cancelled")

    async def _wake_signalled(self) -> None:
        if self._parked:
            for task_id, key in await self.run_.repository.signals.waiting(list(self._parked)):
                self.wake_parked(task_id, key)
