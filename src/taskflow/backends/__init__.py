"""Execution backends: where attempts run (this process, a script for tests, other machines)."""

from __future__ import annotations

from taskflow.backends.base import ABANDON_SECONDS, FORCED_STOP, Attempt, ExecutionBackend, Reports
from taskflow.backends.local import LocalBackend
from taskflow.backends.scripted import ScriptedBackend

__all__ = [
    "ABANDON_SECONDS",
    "FORCED_STOP",
    "Attempt",
    "ExecutionBackend",
    "LocalBackend",
    "Reports",
    "ScriptedBackend",
]
