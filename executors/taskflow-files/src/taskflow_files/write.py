"""``files.write`` and ``files.append``: putting content into the sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow_files.base import (
    ENCODING_PROPERTY,
    MAKE_PARENTS_PROPERTY,
    PATH_OUTPUT,
    SIZE_OUTPUT,
    FilesTask,
    check_encoding,
    max_bytes_property,
    path_property,
)
from taskflow_files.content import append, kind, lstat_at, write_atomically
from taskflow_files.sandbox import (
    FilesError,
    Sandbox,
    SandboxPath,
    os_errors,
    symlink_refused,
)

DEFAULT_MAX_APPEND_FILE_BYTES = 100 * 1024 * 1024


def check_destination(
    directory: int, target: SandboxPath, *, overwrite: bool, replace_link: bool = False
) -> bool:
    """Whether something is at ``target`` (in its parent ``directory``) that may be replaced.

    Args:
        directory: The descriptor of the target's parent.
        target: Where to write.
        overwrite: Whether an existing file may be replaced.
        replace_link: Whether a symbolic link there may be replaced (the link itself: a move).

    Raises:
        FilesError: it is the root or a directory, not a regular file, or exists and
            ``overwrite`` is false.
        SandboxError: it is a symbolic link (and ``replace_link`` is false).
    """
    if target.is_root:
        raise FilesError(f"{target.label} is a directory, not a file")
    status = lstat_at(directory, target.name)
    if status is None:
        return False
    found = kind(status)
    if found == "directory":
        raise FilesError(f"{target.label} is a directory, not a file")
    if found == "symlink" and not replace_link:
        raise symlink_refused(target.field, target.given)
    if found == "other":
        raise FilesError(f"{target.label} is not a regular file")
    if not overwrite:
        raise FilesError(f"{target.label} already exists (set overwrite: true)")
    return True


class WriteFile(FilesTask):
    """Writes text or JSON to a file in the sandbox, atomically (all or nothing)."""

    id = "files.write"
    name = "Write file"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "path": path_property("The file to write, inside the sandbox root"),
            "content": {"type": "string", "description": "Text to write. Give content or json."},
            "json": {"description": "A JSON value to write (indented). Give content or json."},
            "encoding": ENCODING_PROPERTY,
            "overwrite": {
                "type": "boolean",
                "default": True,
                "description": "Replace the file if it exists (false: fail instead).",
            },
            "make_parents": MAKE_PARENTS_PROPERTY,
            "max_bytes": max_bytes_property(
                "Largest content accepted; more fails the task with FileTooLarge."
            ),
        },
        "required": ["path"],
        "additionalProperties": False,
        "examples": [
            {"path": "notes/hello.txt", "content": "Hello!\n"},
            {"path": "data/config.json", "json": {"debug": True, "retries": 3}},
        ],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "path": PATH_OUTPUT,
            "size_bytes": SIZE_OUTPUT,
            "created": {"type": "boolean", "description": "Whether the file is new."},
        },
        "required": ["path", "size_bytes", "created"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Write the content to a temporary file, then move it over the target."""
        sandbox = self.sandbox
        data = _content(inputs).encode(check_encoding(inputs["encoding"]))
        target = sandbox.path(inputs["path"], field="inputs.path")
        size, existed = await asyncio.to_thread(_write, sandbox, target, data, inputs)
        return {"path": target.relative, "size_bytes": size, "created": not existed}


def _write(
    sandbox: Sandbox, target: SandboxPath, data: bytes, inputs: Mapping[str, Any]
) -> tuple[int, bool]:
    with sandbox.parent(target, make_parents=inputs["make_parents"]) as directory:
        existed = check_destination(directory, target, overwrite=inputs["overwrite"])
        with os_errors(target.field, target.given):
            size = write_atomically(
                directory, target, data, limit=inputs["max_bytes"], label="the content"
            )
    return size, existed


def _content(inputs: Mapping[str, Any]) -> str:
    if ("content" in inputs) == ("json" in inputs):
        raise FilesError("inputs: give content or json (one of them)")
    if "json" in inputs:
        return json.dumps(inputs["json"], indent=2, ensure_ascii=False) + "\n"
    return str(inputs["content"])


class AppendFile(FilesTask):
    """Appends text to a file in the sandbox (created if missing).

    Not safe to re-run: an append repeated after a crash would add the text twice.
    """

    id = "files.append"
    name = "Append to file"
    rerun_safe = False
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "path": path_property("The file to append to, inside the sandbox root"),
            "content": {"type": "string", "description": "Text to append."},
            "encoding": ENCODING_PROPERTY,
            "make_parents": MAKE_PARENTS_PROPERTY,
            "max_bytes": max_bytes_property(
                "Largest the file may grow to; an append past it fails with FileTooLarge "
                "and writes nothing.",
                DEFAULT_MAX_APPEND_FILE_BYTES,
            ),
        },
        "required": ["path", "content"],
        "additionalProperties": False,
        "examples": [{"path": "logs/run.log", "content": "started\n"}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "path": PATH_OUTPUT,
            "size_bytes": SIZE_OUTPUT,
            "appended_bytes": {"type": "integer", "description": "Bytes added."},
        },
        "required": ["path", "size_bytes", "appended_bytes"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Append, unless the file would grow past ``max_bytes``."""
        sandbox = self.sandbox
        data = inputs["content"].encode(check_encoding(inputs["encoding"]))
        target = sandbox.path(inputs["path"], field="inputs.path")
        size = await asyncio.to_thread(_append, sandbox, target, data, inputs)
        return {"path": target.relative, "size_bytes": size, "appended_bytes": len(data)}


def _append(sandbox: Sandbox, target: SandboxPath, data: bytes, inputs: Mapping[str, Any]) -> int:
    with sandbox.parent(target, make_parents=inputs["make_parents"]) as directory:
        check_destination(directory, target, overwrite=True)
        with os_errors(target.field, target.given):
            return append(
                directory,
                target,
                data,
                limit=inputs["max_bytes"],
                allow_hard_links=sandbox.allow_hard_links,
            )
