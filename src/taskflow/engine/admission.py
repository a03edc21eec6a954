"""`Admission`: rate limits and shared permits, applied to ready tasks before they take a slot.

A ready task of a rate-limited kind reserves its start time with the backend's `RateLimiter`
— its executor's bucket (the task's own ``rate_limit``, else the settings' ``rate_limits``,
else the executor's ``rate_limit``) and the settings' global ``rate_limit`` — and waits here
until then, holding no concurrency slot, so that tasks of other kinds run meanwhile. A task of
an executor whose concurrency limit is shared with other managers (`Slots.shared`) then waits
here for its permit. Then it is ready again, admitted, and takes a slot like any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from taskflow.engine.context import RunContext
from taskflow.engine.graph import Node
from taskflow.models import RateLimit

logger = logging.getLogger("taskflow.engine")
GLOBAL_BUCKET = "global"


class Admission:
    """The rate limits of one tree run.

    Args:
        context: The manager's parts (settings, registry, backend).
        ready: Called with a task once its reserved start time has come.
    """

    def __init__(self, context: RunContext, ready: Callable[[Node], None]) -> None:
        self.context = context
        self.ready = ready
        self._admitted: set[tuple[str, int]] = set()  # (task, attempts before this one)
        self._held: dict[str, asyncio.Task[None] | asyncio.TimerHandle] = {}
        settings = context.settings
        self._global = RateLimit.parse(settings.rate_limit) if settings.rate_limit else None
        self._by_executor: dict[str, RateLimit | None] = {}

    @property
    def pending(self) -> bool:
        """Whether tasks are held back."""
        return bool(self._held)

    def holds(self, node: Node) -> bool:
        """Whether ``node`` must wait for its rate limits or its permit first (it is then
        held here)."""
        if (node.id, node.attempt) in self._admitted:
            return False  # admitted (it may still wait for a slot: it is not held again)
        limits = self._limits(node)
        executor = node.base.executor or ""
        slots = self.context.slots
        needs_permit = slots.shared(executor) and not slots.holds_permit(node.id)
        if not limits and not needs_permit:
            return False
        if node.id not in self._held:
            if limits:
                self._held[node.id] = asyncio.ensure_future(self._reserve(node, limits))
            else:
                self._held[node.id] = asyncio.ensure_future(self._permit(node))
        return True

    def _limits(self, node: Node) -> list[tuple[str, float]]:
        executor = node.base.executor or ""
        own = node.base.params.get("rate_limit")
        limit = RateLimit.parse(own) if own else self._executor_limit(executor)
        limits = [(f"executor:{executor}", limit.interval)] if limit is not None else []
        if self._global is not None:
            limits.append((GLOBAL_BUCKET, self._global.interval))
        return limits

    def _executor_limit(self, executor: str) -> RateLimit | None:
        if executor not in self._by_executor:
            text = self.context.settings.rate_limits.get(executor)
            if text is None:
                info = self.context.registry.get(executor)
                text = info.cls.rate_limit if info is not None else None
            self._by_executor[executor] = RateLimit.parse(text) if text else None
        return self._by_executor[executor]

    async def _reserve(self, node: Node, limits: list[tuple[str, float]]) -> None:
        limiter = self.context.backend.rate_limiter
        try:
            delays = [await limiter.reserve(bucket, interval) for bucket, interval in limits]
        except Exception:
            logger.exception("task %s: the rate limiter failed; it starts unlimited", node.key)
            delays = [0.0]
        delay = max(delays)
        if self.context.slots.shared(node.base.executor or ""):
            if delay > 0:
                await asyncio.sleep(delay)
            await self._permit(node)
        elif delay <= 0:
            self._admit(node)
        else:
            self._held[node.id] = asyncio.get_running_loop().call_later(delay, self._admit, node)

    async def _permit(self, node: Node) -> None:
        await self.context.slots.permit(node.base.executor or "", node.id)
        self._admit(node)

    def _admit(self, node: Node) -> None:
        self._held.pop(node.id, None)
        self._admitted.discard((node.id, node.attempt - 1))  # its previous attempt's, if any
        self._admitted.add((node.id, node.attempt))
        self.ready(node)

    def drop(self, node: Node) -> None:
        """``node`` will not start (it was cancelled): stop holding it, and give back its
        permit."""
        held = self._held.pop(node.id, None)
        if held is not None:
            held.cancel()
        self.context.slots.release_permit(node.id)

    def close(self, running: Collection[str] = ()) -> None:
        """Drop every held task (the run ended), and the permits of the tasks admitted that
        are not ``running`` (ids)."""
        for held in self._held.values():
            held.cancel()
        self._held.clear()
        for task_id, _ in self._admitted:
            if task_id not in running:
                self.context.slots.release_permit(task_id)
