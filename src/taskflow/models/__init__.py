"""Plain values: tasks, their statuses and the allowed transitions, and tree views."""

from __future__ import annotations

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
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_URGENT",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Dependency",
    "Task",
    "TaskStatus",
    "TaskTreeNode",
    "check_transition",
    "new_task_id",
    "utcnow",
]
