"""Callbacks around task runs: pre- and post-execution hooks, and terminal callbacks.

A hook or callback that raises is logged and changes nothing: it never breaks scheduling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from taskflow.models import Task, TaskStatus

logger = logging.getLogger("taskflow.hooks")

_SIGNALS = {
    TaskStatus.COMPLETED: "success",
    TaskStatus.FAILED: "fail",
    TaskStatus.CANCELLED: "cancel",
}


@dataclasses.dataclass(frozen=True, slots=True)
class TerminalOutcome:
    """How a task ended, as `on_terminal` callbacks receive it.

    Attributes:
        task: The task in its final state (committed).
        signal: ``"success"``, ``"fail"`` or ``"cancel"``.
        message: The error or cancellation reason, or a success message.
        data: The result (success), the partial result if any (cancel), or ``None``.
    """

    task: Task
    signal: str
    message: str
    data: Any

    @classmethod
    def of(cls, task: Task, message: str | None = None) -> TerminalOutcome:
        """The outcome of a terminal task."""
        signal = _SIGNALS[task.status]
        text = message or task.error or ("completed" if signal == "success" else signal)
        return cls(task, signal, text, task.result)


PreHook = Callable[[Task, Mapping[str, Any]], Any]
PostHook = Callable[[Task], Any]
TerminalCallback = Callable[[TerminalOutcome], Any]


def call_safely(what: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function``; log and swallow its exception. Coroutines are scheduled."""
    try:
        result = function(*args)
    except Exception:
        logger.exception("%s %r failed", what, function)
        return None
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        task.add_done_callback(lambda t: _log_failure(what, function, t))
        return None
    return result


def _log_failure(what: str, function: Callable[..., Any], task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s %r failed: %r", what, function, task.exception())


@dataclasses.dataclass(slots=True)
class Hooks:
    """The hooks of one manager; ``on_terminal`` callbacks may be added per tree."""

    pre: list[PreHook] = dataclasses.field(default_factory=list)
    post: list[PostHook] = dataclasses.field(default_factory=list)

    async def before(self, task: Task, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
        """Run pre-hooks in order; a hook may return replacement inputs."""
        for hook in self.pre:
            try:
                replaced = hook(task, inputs)
                if inspect.isawaitable(replaced):
                    replaced = await replaced
            except Exception:
                logger.exception("pre-execution hook %r failed for task %s", hook, task.key)
                continue
            if isinstance(replaced, Mapping):
                inputs = replaced
        return inputs

    def after(self, task: Task, terminal: list[TerminalCallback], message: str | None) -> None:
        """A task reached a terminal status (committed): post-hooks, then terminal callbacks."""
        for hook in self.post:
            call_safely("post-execution hook", hook, task)
        outcome = TerminalOutcome.of(task, message)
        for callback in terminal:
            call_safely("on_terminal callback", callback, outcome)
