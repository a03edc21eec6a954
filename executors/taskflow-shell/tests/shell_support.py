"""Helpers for the shell.run tests: is a process gone?"""

from __future__ import annotations

import asyncio

import psutil


def is_gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def assert_gone(pid: int) -> None:
    """The process ends within 5 s (a SIGKILLed process may take a moment to be reaped)."""
    for _ in range(100):
        if is_gone(pid):
            return
        await asyncio.sleep(0.05)
    psutil.Process(pid).kill()  # do not leave it behind
    raise AssertionError(f"process {pid} is still running")
