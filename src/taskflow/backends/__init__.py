"""Execution backends: where executors run."""

from __future__ import annotations

from taskflow.backends.base import ExecutionBackend, OnDone, TaskRun
from taskflow.backends.local import LocalBackend

__all__ = ["ExecutionBackend", "LocalBackend", "OnDone", "TaskRun"]
