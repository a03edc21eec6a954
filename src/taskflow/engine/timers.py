"""Timers of a tree run: retries that are due later, and the tree's deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from taskflow.models import utcnow


class Timers:
    """Call-laters by name (a task id, or ``"deadline"``), cancelled together at the end."""

    def __init__(self) -> None:
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._handles

    def pending_retries(self) -> bool:
        """Whether a retry is still due (the deadline alone keeps nothing alive)."""
        return any(name != "deadline" for name in self._handles)

    def at(self, name: str, when: datetime, callback: Callable[[], None]) -> None:
        """Call ``callback`` at ``when`` (at once if it has passed), unless already set."""
        if name in self._handles:
            return
        delay = max(0.0, (when - utcnow()).total_seconds())

        def fire() -> None:
            self._handles.pop(name, None)
            callback()

        self._handles[name] = asyncio.get_running_loop().call_later(delay, fire)

    def cancel(self, name: str) -> None:
        """Drop one timer."""
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        """Drop every timer."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
