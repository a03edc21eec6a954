"""Plain values: tasks, their statuses and the allowed transitions, and tree views."""

from __future__ import annotations

from taskflow.models.attempt import NEVER_RETRIED, AttemptRecord, AttemptStatus, ErrorType
from taskflow.models.rate import RateLimit
from taskflow.models.record import (
    FINISHED_TREE_STATUSES,
    Lease,
    TaskTree,
    TreeStatus,
    rolled_up_status,
)
from taskflow.models.retry import RetryPolicy
from taskflow.models.schedule import FireKind, FireRecord, FireStatus, ScheduleRecord
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
    "FINISHED_TREE_STATUSES",
    "NEVER_RETRIED",
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_URGENT",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "AttemptRecord",
    "AttemptStatus",
    "Dependency",
    "ErrorType",
    "FireKind",
    "FireRecord",
    "FireStatus",
    "Lease",
    "RateLimit",
    "RetryPolicy",
    "ScheduleRecord",
    "Task",
    "TaskStatus",
    "TaskTree",
    "TaskTreeNode",
    "TreeStatus",
    "check_transition",
    "new_task_id",
    "rolled_up_status",
    "utcnow",
]
