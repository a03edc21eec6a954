"""``files.write`` and ``files.append``: putting content into the sandbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiofiles.os

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
from taskflow_files.content import append, write_atomically
from taskflow_files.sandbox import FilesError, FileTooLarge, Sandbox, lexists, os_errors

DEFAULT_MAX_APPEND_FILE_BYTES = 100 * 1024 * 1024


async def file_target(
    sandbox: Sandbox, path: str, *, field: str, make_parents: bool, follow_symlink: bool = True
) -> tuple[Path, bool]:
    """The real path to write ``path`` to, its directory made if asked; and whether it exists.

    Raises:
        SandboxError: the path leads outside the sandbox.
        FilesError: it names the root or a directory, or its directory is missing.
    """
    target = sandbox.resolve(path, field=field, follow_symlink=follow_symlink)
    if target == sandbox.root or await aiofiles.os.path.isdir(target):
        raise FilesError(f"{field}: {path!r} is a directory, not a file")
    if not await aiofiles.os.path.isdir(target.parent):
        if not make_parents:
            raise FilesError(
                f"{field}: the directory of {path!r} does not exist (set make_parents: true)"
            )
        with os_errors(field, path):
            await aiofiles.os.makedirs(target.parent, exist_ok=True)
    return target, await lexists(target)


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
        path = inputs["path"]
        target, exists = await file_target(
            sandbox, path, field="inputs.path", make_parents=inputs["make_parents"]
        )
        if exists and not inputs["overwrite"]:
            raise FilesError(f"inputs.path: {path!r} already exists (set overwrite: true)")
        with os_errors("inputs.path", path):
            size = await write_atomically(
                target, data, limit=inputs["max_bytes"], label="the content"
            )
        return {"path": sandbox.relative(target), "size_bytes": size, "created": not exists}


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
        path = inputs["path"]
        target, exists = await file_target(
            sandbox, path, field="inputs.path", make_parents=inputs["make_parents"]
        )
        with os_errors("inputs.path", path):
            before = (await aiofiles.os.stat(target)).st_size if exists else 0
            if before + len(data) > inputs["max_bytes"]:
                raise FileTooLarge(
                    f"inputs.path: {path!r} would grow to {before + len(data)} bytes, over "
                    f"max_bytes ({inputs['max_bytes']})"
                )
            size = await append(target, data)
        return {"path": sandbox.relative(target), "size_bytes": size, "appended_bytes": len(data)}
