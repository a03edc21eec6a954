"""Execution backends: where executors run."""

from __future__ import annotations

from taskflow.backends.base import FORCED_STOP, ExecutionBackend, OnDone, TaskRun
from taskflow.backends.local import LocalBackend

__all__ = ["FORCED_STOP", "ExecutionBackend", "LocalBackend", "OnDone", "TaskRun"]
