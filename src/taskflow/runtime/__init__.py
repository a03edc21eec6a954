"""The composition root: settings, and the one place concrete storage and backends are chosen.

`create_session` picks the storage for a database URL; `TaskManager` is the engine with its
backend chosen by the settings; `Worker` is the service loop that runs queued and orphaned
trees (``taskflow worker``). Names load on first use: reading the database from the command
line does not import the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskflow._lazy import lazy_exports

if TYPE_CHECKING:
    from taskflow.runtime.manager import TaskManager, build_backend
    from taskflow.runtime.session import (
        DATABASE_URL_VARIABLE,
        HOME_VARIABLE,
        MEMORY_URL,
        create_session,
        create_storage,
        default_database_path,
        default_database_url,
        normalise_url,
    )
    from taskflow.runtime.worker import Worker, WorkerSettings

_SESSION = "taskflow.runtime.session"
_WHERE = {
    "DATABASE_URL_VARIABLE": _SESSION,
    "HOME_VARIABLE": _SESSION,
    "MEMORY_URL": _SESSION,
    "TaskManager": "taskflow.runtime.manager",
    "Worker": "taskflow.runtime.worker",
    "WorkerSettings": "taskflow.runtime.worker",
    "build_backend": "taskflow.runtime.manager",
    "create_session": _SESSION,
    "create_storage": _SESSION,
    "default_database_path": _SESSION,
    "default_database_url": _SESSION,
    "normalise_url": _SESSION,
}
__all__ = [
    "DATABASE_URL_VARIABLE",
    "HOME_VARIABLE",
    "MEMORY_URL",
    "TaskManager",
    "Worker",
    "WorkerSettings",
    "build_backend",
    "create_session",
    "create_storage",
    "default_database_path",
    "default_database_url",
    "normalise_url",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
