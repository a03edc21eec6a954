"""The default backend: executors run as asyncio tasks in this process."""

from __future__ import annotations

import asyncio

from taskflow.backends.base import ExecutionBackend, OnDone, TaskRun
from taskflow.executors import Outcome, invoke
from taskflow.models import TaskStatus


class LocalBackend(ExecutionBackend):
    """Runs each task as an `asyncio.Task` on the running loop."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[None]] = {}

    async def _run(self, run: TaskRun, on_done: OnDone) -> None:
        try:
            outcome = await invoke(run.executor, run.inputs, run.context)
        except asyncio.CancelledError:
            outcome = Outcome(
                TaskStatus.CANCELLED, error="stopped by force", error_type="Cancelled"
            )
        finally:
            self._running.pop(run.task.id, None)
        on_done(run, outcome)

    def submit(self, run: TaskRun, on_done: OnDone) -> None:
        """Start the run as an asyncio task."""
        self._running[run.task.id] = asyncio.create_task(
            self._run(run, on_done), name=f"taskflow:{run.task.key}"
        )

    def cancel(self, task_id: str) -> bool:
        """Cancel the asyncio task running ``task_id``."""
        running = self._running.get(task_id)
        if running is None:
            return False
        running.cancel()
        return True

    async def close(self) -> None:
        """Cancel every run and wait for them to end."""
        pending = list(self._running.values())
        for running in pending:
            running.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
