"""Storage: the storage interface, its SQL and in-memory implementations, and typed records."""

from __future__ import annotations

from taskflow.storage.base import Storage
from taskflow.storage.control import EventLog, LeaseStore, SignalBox, WorkerRegistry
from taskflow.storage.memory import MemoryStorage
from taskflow.storage.records import (
    CANCEL,
    NOTIFY,
    LeaseClaim,
    Signal,
    SignalUse,
    TaskEdit,
    TaskQuery,
    TaskState,
    TreeBatch,
    TreeQuery,
    TreeState,
    WorkerInfo,
)

__all__ = [
    "CANCEL",
    "NOTIFY",
    "EventLog",
    "LeaseClaim",
    "LeaseStore",
    "MemoryStorage",
    "Signal",
    "SignalBox",
    "SignalUse",
    "Storage",
    "TaskEdit",
    "TaskQuery",
    "TaskState",
    "TreeBatch",
    "TreeQuery",
    "TreeState",
    "WorkerInfo",
    "WorkerRegistry",
]
