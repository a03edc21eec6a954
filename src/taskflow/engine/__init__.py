"""The engine: readiness, dispatch, and the `TaskManager` that users drive."""

from __future__ import annotations

from taskflow.engine.hooks import TerminalOutcome
from taskflow.engine.manager import TaskManager
from taskflow.engine.settings import EngineSettings

__all__ = ["EngineSettings", "TaskManager", "TerminalOutcome"]
