"""Plain values: tasks, their statuses and the allowed transitions, and tree views."""

from __future__ import annotations

from taskflow.models.retry import NEVER_RETRIED, RetryPolicy
from taskflow.models.task import (
    PRIORITY_DEFAULT,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_URGENT,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Dependency,
    Task,
    TaskStatus,
    check_transition,
    new_task_id,
    utcnow,
)
from taskflow.models.tree import TaskTreeNode

__all__ = [
    "NEVER_RETRIED",
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_URGENT",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Dependency",
    "RetryPolicy",
    "Task",
    "TaskStatus",
    "TaskTreeNode",
    "check_transition",
    "new_task_id",
    "utcnow",
]
