"""What every handler reaches through its application: the manager, settings, limits."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from taskflow.api.limits import RateLimits
from taskflow.api.settings import ApiSettings
from taskflow.repository import TaskRepository
from taskflow.runtime.manager import TaskManager

MANAGER = web.AppKey("manager", TaskManager)
#: Where reads go: on a SQLite file, a reader through the standard library's sqlite3 (no
#: thread hop per query); elsewhere the manager's repository.
READER = web.AppKey("reader", TaskRepository)
SETTINGS = web.AppKey("settings", ApiSettings)
LIMITS = web.AppKey("limits", RateLimits)
#: Called after a tree is queued: the worker in this process (if any) looks for it now.
WAKE: web.AppKey[Callable[[], None]] = web.AppKey("wake")

__all__ = ["LIMITS", "MANAGER", "READER", "SETTINGS", "WAKE"]
