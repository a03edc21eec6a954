"""taskflow-files: executors for the files of one sandbox directory.

``files.read``, ``files.write``, ``files.append``, ``files.list``, ``files.copy``,
``files.move`` and ``files.delete`` work inside a sandbox root, and nowhere else: every path
is opened relative to a descriptor of the root, never through a symbolic link (see
`taskflow_files.sandbox`). Installing the package registers them through the
``taskflow.executors`` entry point; their root is then ``$TASKFLOW_FILES_ROOT``.
`register_sandbox` registers them configured with a root instead.
"""

from __future__ import annotations

import os

from taskflow import ExecutorInfo, ExecutorRegistry, get_registry
from taskflow_files.base import FilesTask
from taskflow_files.manage import CopyFile, DeletePath, MoveFile
from taskflow_files.read import ListDirectory, ReadFile
from taskflow_files.sandbox import (
    ALLOW_HARD_LINKS_VARIABLE,
    ROOT_VARIABLE,
    FilesError,
    FileTooLarge,
    Sandbox,
    SandboxError,
)
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
    root: str | os.PathLike[str],
    *,
    allow_hard_links: bool | None = None,
    registry: ExecutorRegistry | None = None,
) -> list[ExecutorInfo]:
    """Register every files executor configured to work inside ``root``.

    They replace the classes registered by the entry points (which read
    ``$TASKFLOW_FILES_ROOT``); one configured instance serves all tasks.

    Args:
        root: The sandbox root directory; it must exist.
        allow_hard_links: Accept files with several hard links (default:
            ``$TASKFLOW_FILES_ALLOW_HARD_LINKS``, else refused).
        registry: Where to register them (default: the process-wide registry).

    Raises:
        SandboxError: ``root`` is not a directory.
    """
    Sandbox(root, allow_hard_links=allow_hard_links)  # fail now, not at the first task
    target = registry or get_registry()
    return [target.register(cls(root=root, allow_hard_links=allow_hard_links)) for cls in EXECUTORS]


__all__ = [
    "ALLOW_HARD_LINKS_VARIABLE",
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
