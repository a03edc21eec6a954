"""taskflow-shell: the ``shell.run`` executor.

Installing the package registers ``shell.run`` through the ``taskflow.executors`` entry point.
"""

from __future__ import annotations

from taskflow_shell.executor import ShellError, ShellRun, command_argv

__all__ = ["ShellError", "ShellRun", "command_argv"]
__version__ = "0.1.0"
