"""The execution backend interface: where a ready task's executor actually runs."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from taskflow.executors import ExecutionContext, ExecutorInfo, Outcome
from taskflow.models import Task


@dataclasses.dataclass(slots=True)
class TaskRun:
    """One attempt at one task, as handed to a backend.

    Attributes:
        task: The task, as claimed.
        executor: The registered executor that runs it.
        inputs: Resolved inputs (validated by the backend's `invoke`).
        context: The execution context the executor sees.
        timeout: Hard time limit of the attempt, in seconds (``None``: none).
    """

    task: Task
    executor: ExecutorInfo
    inputs: Mapping[str, Any]
    context: ExecutionContext
    timeout: float | None = None


OnDone = Callable[[TaskRun, Outcome], None]

#: The error of a run that was stopped by force (`ExecutionBackend.kill`).
FORCED_STOP = "stopped by force"


class ExecutionBackend(abc.ABC):
    """Runs executors and reports each run's `Outcome` through the ``on_done`` callback."""

    @abc.abstractmethod
    def submit(self, run: TaskRun, on_done: OnDone) -> None:
        """Start ``run``; call ``on_done(run, outcome)`` exactly once when it ends."""

    @abc.abstractmethod
    def request_stop(self, task_id: str) -> None:
        """Ask the run to stop: call its executor's ``cancel()`` if it has one.

        What ``cancel()`` returns becomes the run's result (a partial result). The caller sets
        the context's cancellation flag; a run that ignores both is stopped by `kill`.
        """

    @abc.abstractmethod
    def kill(self, task_id: str) -> bool:
        """Stop the run by force; return whether it was running here."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every run and release resources."""
