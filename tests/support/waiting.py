"""Waiting for a condition in tests: poll it with a timeout (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Check = Callable[[], object | Awaitable[object]]


async def until(check: Check, what: str = "the condition", timeout: float = 10) -> None:
    """Return once ``check()`` (sync or async) is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)
