"""``files.copy``, ``files.move`` and ``files.delete``: rearranging the sandbox."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow_files.base import (
    MAKE_PARENTS_PROPERTY,
    OVERWRITE_PROPERTY,
    PATH_OUTPUT,
    SIZE_OUTPUT,
    FilesTask,
    max_bytes_property,
    path_property,
)
from taskflow_files.content import kind, lstat_at, open_regular, write_atomically
from taskflow_files.sandbox import FilesError, FileTooLarge, Sandbox, SandboxPath, os_errors
from taskflow_files.write import check_destination

DEFAULT_MAX_COPY_BYTES = 100 * 1024 * 1024
TWO_PATHS_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {"source": PATH_OUTPUT, "destination": PATH_OUTPUT},
    "required": ["source", "destination"],
    "additionalProperties": False,
}
COPY_OUTPUT: dict[str, Any] = {
    **TWO_PATHS_OUTPUT,
    "properties": {**TWO_PATHS_OUTPUT["properties"], "size_bytes": SIZE_OUTPUT},
    "required": ["source", "destination", "size_bytes"],
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
    output_schema: ClassVar[Mapping[str, Any] | None] = COPY_OUTPUT

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Copy the source's content to a temporary file, then move it over the destination."""
        sandbox = self.sandbox
        source = sandbox.path(inputs["source"], field="inputs.source")
        destination = sandbox.path(inputs["destination"], field="inputs.destination")
        written = await asyncio.to_thread(_copy, sandbox, source, destination, inputs)
        return {
            "source": source.relative,
            "destination": destination.relative,
            "size_bytes": written,
        }


def _copy(
    sandbox: Sandbox, source: SandboxPath, destination: SandboxPath, inputs: Mapping[str, Any]
) -> int:
    limit = inputs["max_bytes"]
    with os_errors(source.field, source.given), sandbox.parent(source) as directory:
        if source.is_root:
            raise IsADirectoryError(errno.EISDIR, "is a directory", source.given)
        try:
            fd = open_regular(
                directory, source, os.O_RDONLY, allow_hard_links=sandbox.allow_hard_links
            )
        except IsADirectoryError:
            raise FilesError(f"{source.label} is not a file") from None
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise FileTooLarge(f"{source.label} is {size} bytes, over max_bytes ({limit})")
        with sandbox.parent(destination, make_parents=inputs["make_parents"]) as directory:
            check_destination(directory, destination, overwrite=inputs["overwrite"])
            with os_errors(destination.field, destination.given):
                return write_atomically(directory, destination, fd, limit=limit, label=source.label)
    finally:
        os.close(fd)


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
        """Rename the source to the destination (atomic on one filesystem)."""
        sandbox = self.sandbox
        source = sandbox.path(inputs["source"], field="inputs.source")
        destination = sandbox.path(inputs["destination"], field="inputs.destination")
        if source.is_root:
            raise FilesError("inputs.source: the sandbox root cannot be moved")
        await asyncio.to_thread(_move, sandbox, source, destination, inputs)
        return {"source": source.relative, "destination": destination.relative}


def _move(
    sandbox: Sandbox, source: SandboxPath, destination: SandboxPath, inputs: Mapping[str, Any]
) -> None:
    """``renameat`` from the source's directory to the destination's: no path is followed."""
    with os_errors(source.field, source.given), sandbox.parent(source) as source_directory:
        status = lstat_at(source_directory, source.name)
        if status is None:
            raise FilesError(f"{source.label} does not exist")
        if kind(status) == "other":
            raise FilesError(f"{source.label} is not a file, a directory or a symbolic link")
        make_parents = inputs["make_parents"]
        with sandbox.parent(destination, make_parents=make_parents) as directory:
            check_destination(
                directory, destination, overwrite=inputs["overwrite"], replace_link=True
            )
            with os_errors(destination.field, destination.given):
                os.rename(
                    source.name,
                    destination.name,
                    src_dir_fd=source_directory,
                    dst_dir_fd=directory,
                )


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
        target = sandbox.path(inputs["path"], field="inputs.path")
        if target.is_root:
            raise FilesError("inputs.path: the sandbox root cannot be deleted")
        found = await asyncio.to_thread(_delete, sandbox, target, inputs)
        return {"path": target.relative, "deleted": found is not None, "type": found}


def _delete(sandbox: Sandbox, target: SandboxPath, inputs: Mapping[str, Any]) -> str | None:
    """Unlink (or remove) the name in its directory's descriptor: a link itself, never what it
    points to; ``shutil.rmtree`` with ``dir_fd`` never follows links either."""
    try:
        with sandbox.parent(target) as directory:
            status = lstat_at(directory, target.name)
            found = kind(status) if status is not None else None
            if found == "other":
                raise FilesError(f"{target.label} is not a file, a directory or a symbolic link")
            if found is not None:
                with os_errors(target.field, target.given):
                    _remove(directory, target, found, recursive=inputs["recursive"])
    except FileNotFoundError:
        found = None  # a missing parent: nothing to delete either
    if found is None and not inputs["missing_ok"]:
        raise FilesError(f"{target.label} does not exist (set missing_ok: true)")
    return found


def _remove(directory: int, target: SandboxPath, found: str, *, recursive: bool) -> None:
    if found != "directory":
        os.unlink(target.name, dir_fd=directory)
    elif recursive:
        shutil.rmtree(target.name, dir_fd=directory)
    else:
        try:
            os.rmdir(target.name, dir_fd=directory)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise FilesError(
                f"{target.label} is a directory that is not empty (set recursive: true)"
            ) from exc
