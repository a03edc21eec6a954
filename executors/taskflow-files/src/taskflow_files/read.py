"""``files.read`` and ``files.list``: looking at the sandbox without changing it."""

from __future__ import annotations

import asyncio
import base64
import collections
import errno
import fnmatch
import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow_files.base import (
    ENCODING_PROPERTY,
    PATH_OUTPUT,
    SIZE_OUTPUT,
    FilesTask,
    check_encoding,
    max_bytes_property,
    path_property,
)
from taskflow_files.beneath import DIRECTORY_FLAGS, open_beneath
from taskflow_files.content import kind, lstat_at, read_limited
from taskflow_files.sandbox import FilesError, Sandbox, SandboxPath, os_errors, symlink_refused

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
        "oneOf": [{"required": ["text"]}, {"required": ["json"]}, {"required": ["base64"]}],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Read the file, within the size limit."""
        sandbox = self.sandbox
        encoding = check_encoding(inputs["encoding"])
        path = inputs["path"]
        target = sandbox.path(path, field="inputs.path")
        data = await asyncio.to_thread(_read, sandbox, target, inputs["max_bytes"])
        return {
            "path": target.relative,
            "size_bytes": len(data),
            **_decode(data, inputs["format"], encoding, path),
        }


def _read(sandbox: Sandbox, target: SandboxPath, limit: int) -> bytes:
    with os_errors(target.field, target.given), sandbox.parent(target) as directory:
        if target.is_root:
            raise IsADirectoryError(errno.EISDIR, "is a directory", target.given)
        return read_limited(directory, target, limit, allow_hard_links=sandbox.allow_hard_links)


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
                        "type": {
                            "enum": ["file", "directory", "symlink", "other"],
                            "description": "What the entry is (a link is not followed).",
                        },
                        "size_bytes": {
                            "type": ["integer", "null"],
                            "minimum": 0,
                            "description": "Size of a file, in bytes (null for the others).",
                        },
                    },
                    "required": ["path", "type", "size_bytes"],
                    "additionalProperties": False,
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
        directory = sandbox.path(inputs["path"], field="inputs.path")
        entries, truncated = await asyncio.to_thread(_list, sandbox, directory, inputs)
        return {
            "path": directory.relative,
            "entries": sorted(entries, key=lambda entry: entry["path"]),
            "truncated": truncated,
        }


def _list(
    sandbox: Sandbox, directory: SandboxPath, inputs: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    with os_errors(directory.field, directory.given):
        with sandbox.parent(directory) as parent:
            if not directory.is_root:
                _check_directory(parent, directory)
        with sandbox.root_descriptor() as root:
            return _walk(root, directory.parts, inputs)


def _check_directory(parent: int, directory: SandboxPath) -> None:
    status = lstat_at(parent, directory.name)
    found = kind(status) if status is not None else None
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "does not exist", directory.given)
    if found == "symlink":
        raise symlink_refused(directory.field, directory.given)
    if found != "directory":
        raise FilesError(f"{directory.label} is a file, not a directory")


def _walk(
    root: int, start: tuple[str, ...], inputs: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    """Breadth first from ``start``; each directory is opened beneath the root, without links."""
    entries: list[dict[str, Any]] = []
    pending = collections.deque([start])
    while pending:
        parts = pending.popleft()
        try:
            fd = open_beneath(root, parts, DIRECTORY_FLAGS)
        except OSError:
            if parts == start:
                raise
            continue  # gone, or swapped for a link, since it was listed: skip it
        try:
            with os.scandir(fd) as found:
                listed = sorted(found, key=lambda item: item.name)
            if _take(listed, parts, inputs, entries, pending):
                return entries, True
        finally:
            os.close(fd)
    return entries, False


def _take(
    listed: list[os.DirEntry[str]],
    parts: tuple[str, ...],
    inputs: Mapping[str, Any],
    entries: list[dict[str, Any]],
    pending: collections.deque[tuple[str, ...]],
) -> bool:
    """Add the entries of one directory that match; True when ``max_entries`` stopped it."""
    for entry in listed:
        if entry.name.startswith(".") and not inputs["include_hidden"]:
            continue
        entry_kind = _kind(entry)
        if entry_kind == "directory" and inputs["recursive"]:
            pending.append((*parts, entry.name))
        if not fnmatch.fnmatchcase(entry.name, inputs["pattern"]):
            continue
        if len(entries) == inputs["max_entries"]:
            return True
        entries.append(_entry(entry, entry_kind, parts))
    return False


def _entry(entry: os.DirEntry[str], entry_kind: str, parts: tuple[str, ...]) -> dict[str, Any]:
    size = entry.stat(follow_symlinks=False).st_size if entry_kind == "file" else None
    return {"path": "/".join((*parts, entry.name)), "type": entry_kind, "size_bytes": size}


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    return "file" if entry.is_file(follow_symlinks=False) else "other"
