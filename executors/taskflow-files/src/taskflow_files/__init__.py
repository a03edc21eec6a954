"""taskflow-files: executors for the files of one sandbox directory, on aiofiles.

``files.read``, ``files.write``, ``files.append``, ``files.list``, ``files.copy``,
``files.move`` and ``files.delete`` work inside a sandbox root, and nowhere else. Installing
the package registers them through the ``taskflow.executors`` entry point; their root is then
``$TASKFLOW_FILES_ROOT``. `register_sandbox` registers them configured with a root instead.
"""

from __future__ import annotations

import os

from taskflow import ExecutorInfo, ExecutorRegistry, get_registry
from taskflow_files.base import FilesTask
from taskflow_files.manage import CopyFile, DeletePath, MoveFile
from taskflow_files.read import ListDirectory, ReadFile
from taskflow_files.sandbox import ROOT_VARIABLE, FilesError, FileTooLarge, Sandbox, SandboxError
from taskflow_files.write import AppendFile, WriteFile

EXECUTORS: tuple[type[FilesTask], ...] = (
    ReadFile,
    WriteFile,
    AppendFile,
    ListDirectory,
    CopyFile,
    MoveFile,
    DeletePath,
)


def register_sandbox(
    root: str | os.PathLike[str], *, registry: ExecutorRegistry | None = None
) -> list[ExecutorInfo]:
    """Register every files executor configured to work inside ``root``.

    They replace the classes registered by the entry points (which read
    ``$TASKFLOW_FILES_ROOT``); one configured instance serves all tasks.

    Args:
        root: The sandbox root directory; it must exist.
        registry: Where to register them (default: the process-wide registry).

    Raises:
        SandboxError: ``root`` is not a directory.
    """
    Sandbox(root)  # fail now, not at the first task
    target = registry or get_registry()
    return [target.register(cls(root=root)) for cls in EXECUTORS]


__all__ = [
    "EXECUTORS",
    "ROOT_VARIABLE",
    "AppendFile",
    "CopyFile",
    "DeletePath",
    "FileTooLarge",
    "FilesError",
    "FilesTask",
    "ListDirectory",
    "MoveFile",
    "ReadFile",
    "Sandbox",
    "SandboxError",
    "WriteFile",
    "register_sandbox",
]
__version__ = "0.1.0"
