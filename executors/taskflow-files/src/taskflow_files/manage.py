"""``files.copy``, ``files.move`` and ``files.delete``: rearranging the sandbox."""

from __future__ import annotations

import asyncio
import errno
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiofiles.os

from taskflow_files.base import (
    MAKE_PARENTS_PROPERTY,
    OVERWRITE_PROPERTY,
    PATH_OUTPUT,
    SIZE_OUTPUT,
    FilesTask,
    max_bytes_property,
    path_property,
)
from taskflow_files.content import write_atomically
from taskflow_files.sandbox import FilesError, FileTooLarge, Sandbox, lexists, os_errors
from taskflow_files.write import file_target

DEFAULT_MAX_COPY_BYTES = 100 * 1024 * 1024
TWO_PATHS_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "source": PATH_OUTPUT,
        "destination": PATH_OUTPUT,
        "size_bytes": SIZE_OUTPUT,
    },
    "required": ["source", "destination"],
    "additionalProperties": False,
}


def _two_paths_schema(action: str, **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "source": path_property(f"What to {action}, inside the sandbox root"),
            "destination": path_property("Where to, inside the sandbox root (a file path)"),
            "overwrite": OVERWRITE_PROPERTY,
            "make_parents": MAKE_PARENTS_PROPERTY,
            **extra,
        },
        "required": ["source", "destination"],
        "additionalProperties": False,
    }


async def _destination(
    sandbox: Sandbox, inputs: Mapping[str, Any], *, follow_symlink: bool = True
) -> Path:
    path = inputs["destination"]
    target, exists = await file_target(
        sandbox,
        path,
        field="inputs.destination",
        make_parents=inputs["make_parents"],
        follow_symlink=follow_symlink,
    )
    if exists and not inputs["overwrite"]:
        raise FilesError(f"inputs.destination: {path!r} already exists (set overwrite: true)")
    return target


class CopyFile(FilesTask):
    """Copies a file within the sandbox; the copy appears atomically."""

    id = "files.copy"
    name = "Copy file"
    input_schema: ClassVar[Mapping[str, Any]] = {
        **_two_paths_schema(
            "copy (a file)",
            max_bytes=max_bytes_property(
                "Largest file copied; a larger one fails the task with FileTooLarge.",
                DEFAULT_MAX_COPY_BYTES,
            ),
        ),
        "examples": [{"source": "notes/hello.txt", "destination": "backup/hello.txt"}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        **TWO_PATHS_OUTPUT,
        "required": ["source", "destination", "size_bytes"],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Copy the source's content to a temporary file, then move it over the destination."""
        sandbox = self.sandbox
        path, limit = inputs["source"], inputs["max_bytes"]
        source = sandbox.resolve(path, field="inputs.source")
        with os_errors("inputs.source", path):
            if not await aiofiles.os.path.isfile(source):
                raise FilesError(f"inputs.source: {path!r} is not a file")
            size = (await aiofiles.os.stat(source)).st_size
        if size > limit:
            raise FileTooLarge(f"inputs.source: {path!r} is {size} bytes, over max_bytes ({limit})")
        destination = await _destination(sandbox, inputs)
        with os_errors("inputs.destination", inputs["destination"]):
            written = await write_atomically(
                destination, source, limit=limit, label=f"inputs.source: {path!r}"
            )
        return {
            "source": sandbox.relative(source),
            "destination": sandbox.relative(destination),
            "size_bytes": written,
        }


class MoveFile(FilesTask):
    """Moves (renames) a file, a directory or a symbolic link within the sandbox."""

    id = "files.move"
    name = "Move"
    input_schema: ClassVar[Mapping[str, Any]] = {
        **_two_paths_schema("move (a file, a directory or a symbolic link)"),
        "examples": [{"source": "notes/draft.txt", "destination": "notes/final.txt"}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = TWO_PATHS_OUTPUT

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Rename the source to the destination (``os.replace``: atomic on one filesystem)."""
        sandbox = self.sandbox
        path = inputs["source"]
        source = sandbox.resolve(path, field="inputs.source", follow_symlink=False)
        if source == sandbox.root:
            raise FilesError("inputs.source: the sandbox root cannot be moved")
        if not await lexists(source):
            raise FilesError(f"inputs.source: {path!r} does not exist")
        destination = await _destination(sandbox, inputs, follow_symlink=False)
        with os_errors("inputs.destination", inputs["destination"]):
            await aiofiles.os.replace(source, destination)
        return {"source": sandbox.relative(source), "destination": sandbox.relative(destination)}


class DeletePath(FilesTask):
    """Deletes a file, a symbolic link (not what it points to) or a directory in the sandbox."""

    id = "files.delete"
    name = "Delete"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "path": path_property("What to delete, inside the sandbox root"),
            "recursive": {
                "type": "boolean",
                "default": False,
                "description": "Delete a directory with everything in it (false: only empty).",
            },
            "missing_ok": {
                "type": "boolean",
                "default": False,
                "description": "Succeed when there is nothing to delete (false: fail).",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
        "examples": [{"path": "notes/old.txt"}, {"path": "tmp", "recursive": True}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "path": PATH_OUTPUT,
            "deleted": {"type": "boolean", "description": "Whether something was deleted."},
            "type": {
                "enum": ["file", "directory", "symlink", None],
                "description": "What was deleted (null: nothing was there).",
            },
        },
        "required": ["path", "deleted", "type"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Delete it; a directory only if empty, or with ``recursive``."""
        sandbox = self.sandbox
        path = inputs["path"]
        target = sandbox.resolve(path, field="inputs.path", follow_symlink=False)
        if target == sandbox.root:
            raise FilesError("inputs.path: the sandbox root cannot be deleted")
        kind = await _kind(target)
        if kind is None and not inputs["missing_ok"]:
            raise FilesError(f"inputs.path: {path!r} does not exist (set missing_ok: true)")
        with os_errors("inputs.path", path):
            if kind == "directory" and inputs["recursive"]:
                await asyncio.to_thread(shutil.rmtree, target)  # removes links, never follows
            elif kind == "directory":
                await _remove_empty_directory(target, path)
            elif kind is not None:
                await aiofiles.os.remove(target)
        return {"path": sandbox.relative(target), "deleted": kind is not None, "type": kind}


async def _kind(target: Path) -> str | None:
    if await aiofiles.os.path.islink(target):
        return "symlink"
    if await aiofiles.os.path.isdir(target):
        return "directory"
    return "file" if await lexists(target) else None


async def _remove_empty_directory(target: Path, path: str) -> None:
    try:
        await aiofiles.os.rmdir(target)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        raise FilesError(
            f"inputs.path: {path!r} is a directory that is not empty (set recursive: true)"
        ) from exc
