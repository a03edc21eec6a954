"""taskflow-shell: the ``shell.run`` executor.

Installing the package registers ``shell.run`` through the ``taskflow.executors`` entry point.
"""

from __future__ import annotations

from taskflow_shell.executor import ShellError, ShellRun, command_argv
from taskflow_shell.settings import ALLOW_VARIABLE, ShellSettings, current_settings, use_settings

__all__ = [
    "ALLOW_VARIABLE",
    "ShellError",
    "ShellRun",
    "ShellSettings",
    "command_argv",
    "current_settings",
    "use_settings",
]
__version__ = "0.1.0"
