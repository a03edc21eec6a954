"""The engine: readiness, dispatch, decisions, leases, and the `Engine` users drive.

`taskflow.TaskManager` is this engine with its storage and backend chosen by
`taskflow.runtime`, the one place concrete parts are picked.
"""

from __future__ import annotations

from taskflow.engine.hooks import TerminalOutcome
from taskflow.engine.manager import Engine
from taskflow.engine.settings import EngineSettings
from taskflow.engine.takeover import ResumeResult

__all__ = ["Engine", "EngineSettings", "ResumeResult", "TerminalOutcome"]
