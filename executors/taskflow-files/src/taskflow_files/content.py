"""File content through descriptors: regular files only, size limits, atomic replacement.

Each function works in the directory descriptor (``dir_fd``) of the file's parent that
`Sandbox.parent` opened, and on the file's name there: nothing is looked up by path. They
block (briefly: regular files only) and run in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

from taskflow_files.sandbox import (
    ALLOW_HARD_LINKS_VARIABLE,
    FilesError,
    FileTooLarge,
    SandboxError,
    SandboxPath,
    symlink_refused,
)

CHUNK_BYTES = 1024 * 1024
NEW_FILE_MODE = 0o644
TEMPORARY_NAME_CHARS = 200  # of the target's name kept in a temporary file's (NAME_MAX: 255)
OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def kind(status: os.stat_result) -> str:
    """``file``, ``directory``, ``symlink`` or ``other`` (a FIFO, a socket, a device)."""
    if stat.S_ISLNK(status.st_mode):
        return "symlink"
    if stat.S_ISDIR(status.st_mode):
        return "directory"
    return "file" if stat.S_ISREG(status.st_mode) else "other"


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """What is at ``name`` in ``dir_fd`` (a link itself, not what it points to); None: nothing."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def refuse_unless_regular(status: os.stat_result, target: SandboxPath) -> None:
    """Raise unless ``status`` is a regular file's.

    Raises:
        SandboxError: a symbolic link.
        IsADirectoryError: a directory.
        FilesError: anything else (a FIFO, a socket, a device).
    """
    found = kind(status)
    if found == "symlink":
        raise symlink_refused(target.field, target.given)
    if found == "directory":
        raise IsADirectoryError(errno.EISDIR, "is a directory", target.given)
    if found != "file":
        raise FilesError(f"{target.label} is not a regular file")


def open_regular(dir_fd: int, target: SandboxPath, flags: int, *, allow_hard_links: bool) -> int:
    """Open the existing regular file ``target`` (in its parent ``dir_fd``), or refuse it.

    It is looked at before it is opened (so that a FIFO or a device is never opened), opened
    non-blocking and without following a link, and looked at again through the descriptor:
    it must still be the same regular file.

    Raises:
        FileNotFoundError: nothing is there.
        SandboxError: a symbolic link, or a file with several hard links (unless allowed).
        FilesError: not a regular file, or replaced while being opened.
    """
    before = os.stat(target.name, dir_fd=dir_fd, follow_symlinks=False)
    refuse_unless_regular(before, target)
    fd = os.open(target.name, flags | OPEN_FLAGS, dir_fd=dir_fd)
    try:
        opened = os.fstat(fd)
        refuse_unless_regular(opened, target)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise FilesError(f"{target.label} was replaced while being opened")
        if opened.st_nlink > 1 and not allow_hard_links:
            raise SandboxError(
                f"{target.label} has {opened.st_nlink} hard links: it may be a file outside "
                f"the sandbox root too (set {ALLOW_HARD_LINKS_VARIABLE}=1 to allow hard links)"
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_limited(dir_fd: int, target: SandboxPath, limit: int, *, allow_hard_links: bool) -> bytes:
    """The content of ``target``, or `FileTooLarge` if it is over ``limit`` bytes.

    The size is checked before reading, and again while reading (the file may grow).
    """
    fd = open_regular(dir_fd, target, os.O_RDONLY, allow_hard_links=allow_hard_links)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise FileTooLarge(f"{target.label} is {size} bytes, over max_bytes ({limit})")
        data = read_up_to(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(f"{target.label} grew past max_bytes ({limit}) while being read")
    return data


def read_up_to(fd: int, count: int) -> bytes:
    """At most ``count`` bytes from ``fd`` (fewer at the end of the file)."""
    chunks: list[bytes] = []
    left = count
    while left > 0 and (chunk := os.read(fd, min(left, CHUNK_BYTES))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_atomically(
    dir_fd: int, target: SandboxPath, content: bytes | int, *, limit: int, label: str
) -> int:
    """Write ``content`` (bytes, or what a descriptor reads) to ``target`` all at once.

    The content goes to a new temporary file in the same directory, is flushed to disk, and
    is renamed over the target (inside ``dir_fd``): readers see the old file or the new one,
    never a part, and a failure leaves the old one as it was. The new file keeps the old
    one's permissions (a new one gets 0o644). A hard link at the target is replaced, never
    written through. Returns the number of bytes written.

    Raises:
        FileTooLarge: the content is over ``limit`` bytes (nothing is replaced).
        SandboxError: the target is a symbolic link.
        FilesError: the target is not a regular file.
    """
    mode = NEW_FILE_MODE
    existing = lstat_at(dir_fd, target.name)
    if existing is not None:
        refuse_unless_regular(existing, target)
        mode = stat.S_IMODE(existing.st_mode)
    temporary = f".{target.name[:TEMPORARY_NAME_CHARS]}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600, dir_fd=dir_fd)
    try:
        try:
            written = _fill(fd, content, limit, label)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, target.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise
    return written


def _fill(out: int, content: bytes | int, limit: int, label: str) -> int:
    if isinstance(content, bytes):
        if len(content) > limit:
            raise FileTooLarge(f"{label} is {len(content)} bytes, over max_bytes ({limit})")
        write_all(out, content)
        return len(content)
    written = 0
    while chunk := os.read(content, CHUNK_BYTES):
        written += len(chunk)
        if written > limit:
            raise FileTooLarge(f"{label} is over max_bytes ({limit})")
        write_all(out, chunk)
    return written


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def append(
    dir_fd: int, target: SandboxPath, data: bytes, *, limit: int, allow_hard_links: bool
) -> int:
    """Append ``data`` to ``target`` (created if missing), flushed to disk; the new size.

    Raises:
        FileTooLarge: the file would grow past ``limit`` bytes (nothing is written).
    """
    fd = _open_for_append(dir_fd, target, allow_hard_links=allow_hard_links)
    try:
        before = os.fstat(fd).st_size
        if before + len(data) > limit:
            raise FileTooLarge(
                f"{target.label} would grow to {before + len(data)} bytes, over max_bytes ({limit})"
            )
        write_all(fd, data)
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def _open_for_append(dir_fd: int, target: SandboxPath, *, allow_hard_links: bool) -> int:
    flags = os.O_WRONLY | os.O_APPEND
    for _ in range(3):  # it may appear or vanish between the two opens: look again
        try:
            return open_regular(dir_fd, target, flags, allow_hard_links=allow_hard_links)
        except FileNotFoundError:
            pass
        with contextlib.suppress(FileExistsError):
            new = flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(target.name, new, NEW_FILE_MODE, dir_fd=dir_fd)
    raise FilesError(f"{target.label} keeps appearing and disappearing")
