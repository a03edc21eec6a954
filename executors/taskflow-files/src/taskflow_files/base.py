"""What every files executor shares: its sandbox, and the schema pieces they use."""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from typing import Any

from taskflow import BaseTask
from taskflow.executors import SafetySetting
from taskflow.executors.trust import env_flag
from taskflow_files.sandbox import (
    ALLOW_HARD_LINKS_VARIABLE,
    ROOT_VARIABLE,
    FilesError,
    Sandbox,
)

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
SIZE_OUTPUT: dict[str, Any] = {
    "type": "integer",
    "minimum": 0,
    "description": "Size of the file, in bytes.",
}


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
        allow_hard_links: Accept regular files with more than one hard link. Without it,
            ``$TASKFLOW_FILES_ALLOW_HARD_LINKS`` decides (default: refused).

    An executor configured with a root holds no run state, so one instance can be registered
    and shared by every task (see `taskflow_files.register_sandbox`).
    """

    max_concurrency = 16

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, allow_hard_links: bool | None = None
    ) -> None:
        self._root = root
        self._allow_hard_links = allow_hard_links

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox of this run.

        Raises:
            SandboxError: no root is configured, or it is not a directory.
        """
        if self._root is not None:
            return Sandbox(self._root, allow_hard_links=self._allow_hard_links)
        return Sandbox.from_environment(allow_hard_links=self._allow_hard_links)

    def safety(self) -> Sequence[SafetySetting]:
        """The sandbox root, hard links and symbolic links: the same under both profiles."""
        root = os.fspath(self._root) if self._root is not None else os.environ.get(ROOT_VARIABLE)
        hard_links = self._allow_hard_links
        if hard_links is None:
            hard_links = env_flag(ALLOW_HARD_LINKS_VARIABLE, False)
        return [
            SafetySetting(
                name="root",
                description="the only directory files tasks may touch (null: none, they fail)",
                local=None,
                server=None,
                current=root or None,
                env=ROOT_VARIABLE,
            ),
            SafetySetting(
                name="allow_hard_links",
                description="read or append to files with more than one hard link",
                local=False,
                server=False,
                current=hard_links,
                env=ALLOW_HARD_LINKS_VARIABLE,
            ),
            SafetySetting(
                name="follow_symlinks",
                description="symbolic links are never followed (not configurable)",
                local=False,
                server=False,
                current=False,
            ),
        ]
