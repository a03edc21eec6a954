"""Reading and writing file content with aiofiles: size limits, atomic replacement."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from taskflow_files.sandbox import FilesError, FileTooLarge

CHUNK_BYTES = 1024 * 1024
NEW_FILE_MODE = 0o644


async def read_limited(path: Path, limit: int, label: str) -> bytes:
    """The content of ``path``, or `FileTooLarge` if it is over ``limit`` bytes.

    The size is checked before reading, and again while reading (the file may grow).
    """
    status = await aiofiles.os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(status.st_mode):  # a FIFO or a device would block or never end
        raise FilesError(f"{label} is not a regular file")
    size = status.st_size
    if size > limit:
        raise FileTooLarge(f"{label} is {size} bytes, over max_bytes ({limit})")
    async with aiofiles.open(path, "rb") as source:
        data = await source.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"{label} grew past max_bytes ({limit}) while being read")
    return data


async def write_atomically(target: Path, content: bytes | Path, *, limit: int, label: str) -> int:
    """Write ``content`` (bytes, or the content of another file) to ``target`` all at once.

    The content goes to a temporary file in the target's directory, is flushed to disk, and
    replaces the target with ``os.replace``: readers see the old file or the new one, never a
    part, and a failure leaves the old one as it was. The new file keeps the old one's
    permissions (a new one gets 0o644). Returns the number of bytes written.

    Raises:
        FileTooLarge: the content is over ``limit`` bytes (nothing is replaced).
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(descriptor)
    try:
        async with aiofiles.open(temporary, "wb") as out:
            written = await _fill(out, content, limit, label)
            await out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        mode = NEW_FILE_MODE
        with contextlib.suppress(FileNotFoundError):
            mode = (await aiofiles.os.stat(target)).st_mode & 0o7777
        await asyncio.to_thread(os.chmod, temporary, mode)
        await aiofiles.os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(temporary)
        raise
    return written


async def _fill(out: Any, content: bytes | Path, limit: int, label: str) -> int:
    if isinstance(content, bytes):
        if len(content) > limit:
            raise FileTooLarge(f"{label} is {len(content)} bytes, over max_bytes ({limit})")
        return int(await out.write(content))
    written = 0
    async with aiofiles.open(content, "rb") as source:
        while chunk := await source.read(CHUNK_BYTES):
            written += len(chunk)
            if written > limit:
                raise FileTooLarge(f"{label} is over max_bytes ({limit})")
            await out.write(chunk)
    return written


async def append(target: Path, data: bytes) -> int:
    """Append ``data`` to ``target`` (created if missing) and flush it to disk; the new size."""
    async with aiofiles.open(target, "ab") as out:
        await out.write(data)
        await out.flush()
        await asyncio.to_thread(os.fsync, out.fileno())
    return (await aiofiles.os.stat(target)).st_size
