"""What every files executor shares: its sandbox, and the schema pieces they use."""

from __future__ import annotations

import codecs
import os
from typing import Any

from taskflow import BaseTask
from taskflow_files.sandbox import FilesError, Sandbox

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_BYTES = 1024 * 1024 * 1024


def path_property(description: str) -> dict[str, Any]:
    """A path input: relative to the sandbox root."""
    return {"type": "string", "minLength": 1, "description": f"{description} (relative)."}


def max_bytes_property(description: str, default: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """A size limit input, in bytes."""
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_BYTES,
        "default": default,
        "description": description,
    }


ENCODING_PROPERTY: dict[str, Any] = {
    "type": "string",
    "default": "utf-8",
    "description": "Text encoding (any Python codec name).",
}
MAKE_PARENTS_PROPERTY: dict[str, Any] = {
    "type": "boolean",
    "default": True,
    "description": "Create missing parent directories (inside the sandbox).",
}
OVERWRITE_PROPERTY: dict[str, Any] = {
    "type": "boolean",
    "default": False,
    "description": "Replace the destination if it exists (false: fail instead).",
}
PATH_OUTPUT: dict[str, Any] = {"type": "string", "description": "The path, relative to the root."}
SIZE_OUTPUT: dict[str, Any] = {"type": "integer", "description": "Size of the file, in bytes."}


def check_encoding(encoding: str) -> str:
    """Return ``encoding`` if Python knows it; else raise `FilesError` naming the field."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FilesError(f"inputs.encoding: unknown encoding {encoding!r}") from None
    return encoding


class FilesTask(BaseTask):
    """Base of the files executors: each works inside one sandbox root directory.

    Args:
        root: The sandbox root. Without it (the class registered by the package's entry
            points), the root is ``$TASKFLOW_FILES_ROOT``, read at each run.

    An executor configured with a root holds no run state, so one instance can be registered
    and shared by every task (see `taskflow_files.register_sandbox`).
    """

    max_concurrency = 16

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._root = root

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox of this run.

        Raises:
            SandboxError: no root is configured, or it is not a directory.
        """
        if self._root is not None:
            return Sandbox(self._root)
        return Sandbox.from_environment()
