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
    """One attempt at one task, as handed to a backend."""

    task: Task
    executor: ExecutorInfo
    inputs: Mapping[str, Any]
    context: ExecutionContext


OnDone = Callable[[TaskRun, Outcome], None]


class ExecutionBackend(abc.ABC):
    """Runs executors and reports each run's `Outcome` through the ``on_done`` callback."""

    @abc.abstractmethod
    def submit(self, run: TaskRun, on_done: OnDone) -> None:
        """Start ``run``; call ``on_done(run, outcome)`` exactly once when it ends."""

    @abc.abstractmethod
    def cancel(self, task_id: str) -> bool:
        """Stop the run of ``task_id`` by force; return whether it was running here."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every run and release resources."""
