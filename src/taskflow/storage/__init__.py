"""Storage: the storage interface, its SQL and in-memory implementations, and typed records.

Names load on first use, so that a command reading a SQLite file imports only what it reads
with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskflow._lazy import lazy_exports

if TYPE_CHECKING:
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

_RECORDS = "taskflow.storage.records"
_CONTROL = "taskflow.storage.control"
_WHERE = {
    "CANCEL": _RECORDS,
    "NOTIFY": _RECORDS,
    "EventLog": _CONTROL,
    "LeaseClaim": _RECORDS,
    "LeaseStore": _CONTROL,
    "MemoryStorage": "taskflow.storage.memory",
    "Signal": _RECORDS,
    "SignalBox": _CONTROL,
    "SignalUse": _RECORDS,
    "Storage": "taskflow.storage.base",
    "TaskEdit": _RECORDS,
    "TaskQuery": _RECORDS,
    "TaskState": _RECORDS,
    "TreeBatch": _RECORDS,
    "TreeQuery": _RECORDS,
    "TreeState": _RECORDS,
    "WorkerInfo": _RECORDS,
    "WorkerRegistry": _CONTROL,
}
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

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
