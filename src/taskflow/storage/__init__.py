"""Storage: the repository interface and its SQL and in-memory implementations."""

from __future__ import annotations

from taskflow.storage.base import EDITABLE_FIELDS, Change, TaskQuery, TaskRepository
from taskflow.storage.memory import MemoryRepository

__all__ = ["EDITABLE_FIELDS", "Change", "MemoryRepository", "TaskQuery", "TaskRepository"]
