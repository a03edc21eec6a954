"""Opening a path beneath a directory descriptor, never through a symbolic link.

Every path a files task touches is opened relative to a descriptor of the sandbox root, in
one of two ways:

- ``openat2(2)`` with ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` (Linux 5.6 and later), called
  through ctypes: the kernel resolves the whole path in one step and refuses any symbolic
  link, and any step above the starting directory.
- Where it is missing (another system, an older kernel, a seccomp filter that forbids it),
  a walk: one component at a time, each opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to
  the descriptor of the one before.

Either way, a directory swapped for a symbolic link while a task runs makes the open fail
instead of leading elsewhere: no path is ever looked up by name twice. `OPENAT2` tells which
way is in use (``None``: the walk); it is probed once, when the module is imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import sys
from collections.abc import Callable, Sequence

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
# openat2 has the same number on every architecture that has the common syscall table.
_OPENAT2_NUMBERS = {
    "x86_64": 437,
    "aarch64": 437,
    "arm64": 437,
    "armv7l": 437,
    "i686": 437,
    "ppc64le": 437,
    "riscv64": 437,
    "s390x": 437,
}
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY
DIRECTORY_MODE = 0o777  # less the umask, as os.makedirs does

Opener = Callable[[int, str, int, int], int]  # (dir_fd, relative path, flags, mode) -> fd


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


def _load_openat2() -> Opener | None:
    """``openat2`` as a function, if this kernel has it and lets this process use it."""
    number = _OPENAT2_NUMBERS.get(platform.machine())
    if not sys.platform.startswith("linux") or number is None:
        return None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long

    def openat2(dir_fd: int, path: str, flags: int, mode: int) -> int:
        tmpfile = getattr(os, "O_TMPFILE", 0)  # includes O_DIRECTORY: compare it whole
        creating = flags & os.O_CREAT or (tmpfile and flags & tmpfile == tmpfile)
        how = _OpenHow(
            flags | os.O_CLOEXEC,
            mode if creating else 0,
            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        )
        fd = int(
            syscall(
                ctypes.c_long(number),
                ctypes.c_long(dir_fd),
                ctypes.c_char_p(os.fsencode(path)),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
        return fd

    try:  # ENOSYS (old kernel) or EPERM (a filter): use the walk instead
        probe = os.open("/", DIRECTORY_FLAGS | os.O_CLOEXEC)
        try:
            os.close(openat2(probe, ".", DIRECTORY_FLAGS, 0))
        finally:
            os.close(probe)
    except OSError:
        return None
    return openat2


OPENAT2: Opener | None = _load_openat2()


def open_beneath(dir_fd: int, parts: Sequence[str], flags: int, mode: int = 0o600) -> int:
    """Open ``parts`` (names, none of them ``""``, ``"."`` or ``".."``) beneath ``dir_fd``.

    No component may be a symbolic link, the last one included: an open through one fails
    with ``ELOOP``. ``parts`` empty opens ``dir_fd``'s directory itself again.
    """
    if not parts:
        return os.open(".", flags | os.O_CLOEXEC, dir_fd=dir_fd)
    opener = OPENAT2
    if opener is not None:
        # RESOLVE_NO_SYMLINKS covers the last component too, and says ELOOP for a link
        # (O_NOFOLLOW | O_DIRECTORY would say ENOTDIR, as for a file).
        return opener(dir_fd, "/".join(parts), flags & ~os.O_NOFOLLOW, mode)
    return _walk(dir_fd, parts, flags, mode)


def open_directory(dir_fd: int, parts: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of the directory ``parts`` beneath ``dir_fd``, made first if ``create``.

    Raises:
        FileNotFoundError: it (or a parent) is missing and ``create`` is false.
        OSError: ``ELOOP`` for a symbolic link on the way, ``ENOTDIR`` for a file.
    """
    try:
        return open_beneath(dir_fd, parts, DIRECTORY_FLAGS)
    except FileNotFoundError:
        if not create:
            raise
    current, owned = dir_fd, False
    try:
        for name in parts:  # one name at a time: O_NOFOLLOW covers each step
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, DIRECTORY_MODE, dir_fd=current)
            step = _open_step(current, name)
            if owned:
                os.close(current)
            current, owned = step, True
    except BaseException:
        if owned:
            os.close(current)
        raise
    return current


def _walk(dir_fd: int, parts: Sequence[str], flags: int, mode: int) -> int:
    current, owned = dir_fd, False
    try:
        for name in parts[:-1]:
            step = _open_step(current, name)
            if owned:
                os.close(current)
            current, owned = step, True
        if flags & os.O_DIRECTORY:
            return _open_step(current, parts[-1], flags)
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=current)
    finally:
        if owned:
            os.close(current)


def _open_step(dir_fd: int, name: str, flags: int = DIRECTORY_FLAGS) -> int:
    """Open the directory ``name`` in ``dir_fd``; ``ELOOP`` if it is a symbolic link."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except NotADirectoryError:
        # O_DIRECTORY | O_NOFOLLOW on a link says ENOTDIR: tell a link from a file.
        if _is_link(dir_fd, name):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name) from None
        raise


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return False
    return True
