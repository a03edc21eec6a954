"""The execution context: what a running executor can know and do about its task."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("taskflow.executor")

_current: contextvars.ContextVar[ExecutionContext] = contextvars.ContextVar("taskflow_context")


@dataclasses.dataclass(slots=True, kw_only=True)
class ExecutionContext:
    """The run of one task, as its executor sees it.

    It lives in a context variable, so an executor registered as a shared instance reads the
    context of the task it is running, even when many run at once.

    Attributes:
        task_id: The task being run.
        tree_id: Its tree (the root task's id).
        key: The task's key within the tree.
        user_id: The tree's owner.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        dependency_results: The results of the tasks it depends on, by their keys.
    """

    task_id: str
    tree_id: str
    key: str
    user_id: str | None = None
    attempt: int = 1
    dependency_results: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cancel_requested: asyncio.Event | None = None
    cancel_reason: str | None = None

    @property
    def is_cancelled(self) -> bool:
        """Whether the task has been asked to stop; long loops should check it and return."""
        return self.cancel_requested is not None and self.cancel_requested.is_set()

    def log(self, message: str, **fields: Any) -> None:
        """Log ``message`` with the task's ids and ``fields``."""
        logger.info(
            "%s", message, extra={"task_id": self.task_id, "tree_id": self.tree_id, **fields}
        )


def current_context() -> ExecutionContext:
    """The context of the task running in this asyncio task; `RuntimeError` outside a run."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "no task is running here: the execution context exists only inside execute()"
        ) from None


def set_context(context: ExecutionContext) -> contextvars.Token[ExecutionContext]:
    """Make ``context`` current (the engine calls this right before `execute`)."""
    return _current.set(context)


def reset_context(token: contextvars.Token[ExecutionContext]) -> None:
    """Undo `set_context`."""
    _current.reset(token)
