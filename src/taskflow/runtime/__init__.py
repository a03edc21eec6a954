"""The composition root: settings, and the one place concrete storage and backends are chosen.

`create_session` picks the storage for a database URL; `TaskManager` is the engine with its
backend chosen by the settings; `Worker` is the service loop that runs queued and orphaned
trees (``taskflow worker``).
"""

from __future__ import annotations

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
