"""The default backend: executors run as asyncio tasks in this process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from taskflow.backends.base import FORCED_STOP, ExecutionBackend, OnDone, TaskRun
from taskflow.executors import ExecutableTask, ExecutionContext, Outcome, invoke
from taskflow.executors.context import reset_context, set_context
from taskflow.models import TaskStatus

logger = logging.getLogger("taskflow.backend")


@dataclasses.dataclass(slots=True)
class _Running:
    task: asyncio.Task[None] | None = None
    executor: ExecutableTask | None = None
    partial: Mapping[str, Any] | None = None
    cancelling: asyncio.Task[None] | None = None
    context: ExecutionContext | None = None
    stop_requested: bool = False  # asked before the executor instance existed


class LocalBackend(ExecutionBackend):
    """Runs each task as an `asyncio.Task` on the running loop."""

    def __init__(self) -> None:
        self._running: dict[str, _Running] = {}

    async def _attempt(self, run: TaskRun, entry: _Running) -> Outcome:
        try:
            entry.executor = run.executor.create()
        except TypeError as exc:
            return Outcome.failure(exc)
        if entry.stop_requested:
            self.request_stop(run.task.id)
        if run.timeout is None:
            return await invoke(run.executor, run.inputs, run.context, entry.executor)
        limit = asyncio.timeout(run.timeout)
        try:
            async with limit:
                return await invoke(run.executor, run.inputs, run.context, entry.executor)
        except TimeoutError:
            if not limit.expired():
                raise
            error = f"the attempt took longer than its {run.timeout:g} s time limit"
            return Outcome(TaskStatus.FAILED, error=error, error_type="TaskTimeout")

    async def _run(self, run: TaskRun, on_done: OnDone) -> None:
        entry = self._running[run.task.id]
        try:
            outcome = await self._attempt(run, entry)
        except asyncio.CancelledError:
            outcome = Outcome(TaskStatus.CANCELLED, error=FORCED_STOP, error_type="Cancelled")
        finally:
            self._running.pop(run.task.id, None)
        if entry.cancelling is not None:  # let cancel() hand over its partial result first
            await asyncio.gather(entry.cancelling, return_exceptions=True)
        if entry.partial is not None:
            outcome = dataclasses.replace(outcome, result=entry.partial)
        on_done(run, outcome)

    def submit(self, run: TaskRun, on_done: OnDone) -> None:
        """Start the run as an asyncio task."""
        entry = self._running[run.task.id] = _Running(context=run.context)
        entry.task = asyncio.create_task(self._run(run, on_done), name=f"taskflow:{run.task.key}")

    def request_stop(self, task_id: str) -> None:
        """Call the executor's ``cancel()`` (if any) and keep what it returns."""
        entry = self._running.get(task_id)
        if entry is None:
            return
        if entry.executor is None:  # not created yet: _attempt calls us again once it is
            entry.stop_requested = True
            return
        cancel = getattr(entry.executor, "cancel", None)
        if cancel is not None and entry.cancelling is None:
            entry.cancelling = asyncio.create_task(self._call_cancel(entry, cancel, task_id))

    @staticmethod
    async def _call_cancel(entry: _Running, cancel: Any, task_id: str) -> None:
        token = set_context(entry.context) if entry.context is not None else None
        try:  # cancel() sees the same self.context as execute() (this task's own copy)
            partial = await cancel()
        except Exception:
            logger.exception("cancel() of task %s failed", task_id)
            return
        finally:
            if token is not None:
                reset_context(token)
        if isinstance(partial, Mapping):
            entry.partial = partial

    def kill(self, task_id: str) -> bool:
        """Cancel the asyncio task running ``task_id``."""
        entry = self._running.get(task_id)
        if entry is None or entry.task is None:
            return False
        entry.task.cancel()
        return True

    async def close(self) -> None:
        """Cancel every run and wait for them to end."""
        pending = [entry.task for entry in self._running.values() if entry.task is not None]
        for running in pending:
            running.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
