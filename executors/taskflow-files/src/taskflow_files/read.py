"""``files.read`` and ``files.list``: looking at the sandbox without changing it."""

from __future__ import annotations

import asyncio
import base64
import collections
import fnmatch
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiofiles.os

from taskflow_files.base import (
    ENCODING_PROPERTY,
    PATH_OUTPUT,
    SIZE_OUTPUT,
    FilesTask,
    check_encoding,
    max_bytes_property,
    path_property,
)
from taskflow_files.content import read_limited
from taskflow_files.sandbox import FilesError, Sandbox, os_errors

DEFAULT_MAX_ENTRIES = 1000


class ReadFile(FilesTask):
    """Reads a file in the sandbox, as text, parsed JSON, or base64."""

    id = "files.read"
    name = "Read file"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "path": path_property("The file to read, inside the sandbox root"),
            "format": {
                "enum": ["text", "json", "base64"],
                "default": "text",
                "description": "Return the content as text, as parsed JSON, or as base64.",
            },
            "encoding": ENCODING_PROPERTY,
            "max_bytes": max_bytes_property(
                "Largest file accepted; a larger one fails the task with FileTooLarge."
            ),
        },
        "required": ["path"],
        "additionalProperties": False,
        "examples": [{"path": "notes/hello.txt"}, {"path": "data/config.json", "format": "json"}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "path": PATH_OUTPUT,
            "size_bytes": SIZE_OUTPUT,
            "text": {"type": "string", "description": "The content (format: text)."},
            "json": {"description": "The parsed content (format: json)."},
            "base64": {"type": "string", "description": "The content (format: base64)."},
        },
        "required": ["path", "size_bytes"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Read the file, within the size limit."""
        sandbox = self.sandbox
        encoding = check_encoding(inputs["encoding"])
        path = inputs["path"]
        target = sandbox.resolve(path, field="inputs.path")
        with os_errors("inputs.path", path):
            data = await read_limited(target, inputs["max_bytes"], f"inputs.path: {path!r}")
        return {
            "path": sandbox.relative(target),
            "size_bytes": len(data),
            **_decode(data, inputs["format"], encoding, path),
        }


def _decode(data: bytes, form: str, encoding: str, path: str) -> dict[str, Any]:
    if form == "base64":
        return {"base64": base64.b64encode(data).decode("ascii")}
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FilesError(
            f"inputs.path: {path!r} is not valid {encoding} ({exc.reason} at byte {exc.start})"
        ) from exc
    if form == "text":
        return {"text": text}
    try:
        return {"json": json.loads(text)}
    except ValueError as exc:
        raise FilesError(f"inputs.path: {path!r} is not valid JSON: {exc}") from exc


class ListDirectory(FilesTask):
    """Lists a directory of the sandbox (optionally recursively), without following links."""

    id = "files.list"
    name = "List directory"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "path": {**path_property("The directory to list"), "default": "."},
            "pattern": {
                "type": "string",
                "default": "*",
                "description": "Only entries whose name matches this glob (e.g. '*.csv').",
            },
            "recursive": {
                "type": "boolean",
                "default": False,
                "description": "Go into subdirectories (never through symbolic links).",
            },
            "include_hidden": {
                "type": "boolean",
                "default": False,
                "description": "Include entries whose name starts with a dot.",
            },
            "max_entries": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100_000,
                "default": DEFAULT_MAX_ENTRIES,
                "description": "Stop after this many entries (see truncated).",
            },
        },
        "additionalProperties": False,
        "examples": [{"path": "."}, {"path": "notes", "pattern": "*.txt", "recursive": True}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "path": PATH_OUTPUT,
            "entries": {
                "type": "array",
                "description": "The entries, sorted by path.",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": PATH_OUTPUT,
                        "type": {"enum": ["file", "directory", "symlink", "other"]},
                        "size_bytes": {"type": ["integer", "null"]},
                    },
                    "required": ["path", "type", "size_bytes"],
                },
            },
            "truncated": {
                "type": "boolean",
                "description": "Whether max_entries stopped the listing early.",
            },
        },
        "required": ["path", "entries", "truncated"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """List the entries (breadth first, up to ``max_entries``), sorted by path."""
        sandbox = self.sandbox
        directory = sandbox.resolve(inputs["path"], field="inputs.path")
        if await aiofiles.os.path.isfile(directory):
            raise FilesError(f"inputs.path: {inputs['path']!r} is a file, not a directory")
        with os_errors("inputs.path", inputs["path"]):
            entries, truncated = await asyncio.to_thread(_walk, sandbox, directory, inputs)
        return {
            "path": sandbox.relative(directory),
            "entries": sorted(entries, key=lambda entry: entry["path"]),
            "truncated": truncated,
        }


def _walk(
    sandbox: Sandbox, directory: Path, inputs: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    entries: list[dict[str, Any]] = []
    pending = collections.deque([directory])
    while pending:
        with os.scandir(pending.popleft()) as found:
            for entry in sorted(found, key=lambda item: item.name):
                if entry.name.startswith(".") and not inputs["include_hidden"]:
                    continue
                kind = _kind(entry)
                if kind == "directory" and inputs["recursive"]:
                    pending.append(Path(entry.path))
                if not fnmatch.fnmatchcase(entry.name, inputs["pattern"]):
                    continue
                if len(entries) == inputs["max_entries"]:
                    return entries, True
                size = entry.stat(follow_symlinks=False).st_size if kind == "file" else None
                path = sandbox.relative(Path(entry.path))
                entries.append({"path": path, "type": kind, "size_bytes": size})
    return entries, False


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    return "file" if entry.is_file(follow_symlinks=False) else "other"
