"""The sandbox: one root directory that every path of a files task must stay inside.

Paths in inputs are relative to the root and are checked in two steps:

1. By their text: absolute paths, NUL bytes and ``..`` that climbs above the root are
   refused (``a/../b`` is ``b``: the path is normalised before anything is looked up).
2. By the kernel, component by component, relative to a descriptor of the root (see
   `taskflow_files.beneath`): no symbolic link is ever followed, so a link (to a file or a
   directory, inside the sandbox or out of it) fails the task with `SandboxError`, and a
   directory swapped for a link while the task runs does too. Every operation then acts on
   the descriptor of the parent directory it found (``dir_fd``), never on a path again.

What is opened must be what the operation expects: a regular file (a FIFO, a socket or a
device is refused, and never opened blocking), or a directory. A regular file with more than
one hard link may share its content with a file outside the sandbox, so it is refused unless
hard links are allowed (``$TASKFLOW_FILES_ALLOW_HARD_LINKS=1`` or ``allow_hard_links=True``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from taskflow import TaskExecutionError
from taskflow.executors.trust import env_flag
from taskflow_files.beneath import open_directory

ROOT_VARIABLE = "TASKFLOW_FILES_ROOT"
ALLOW_HARD_LINKS_VARIABLE = "TASKFLOW_FILES_ALLOW_HARD_LINKS"


class FilesError(TaskExecutionError):
    """Raised when a file operation cannot be done as asked (missing file, exists, too large).

    The message names the input field and the path.
    """


class SandboxError(FilesError):
    """Raised when a path leaves the sandbox root, goes through a symbolic link, names a file
    with several hard links, or when no usable root is configured."""


class FileTooLarge(FilesError):
    """Raised when content or a file is larger than the task's size limit."""


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxPath:
    """A path from the inputs, checked by its text: the names leading to it from the root.

    Attributes:
        given: The path as the inputs gave it (for messages).
        field: The input field it comes from (``inputs.path``).
        parts: Its components below the root (none: the root itself).
    """

    given: str
    field: str
    parts: tuple[str, ...]

    @property
    def relative(self) -> str:
        """The normalised relative POSIX path results use (``"."`` for the root)."""
        return "/".join(self.parts) or "."

    @property
    def name(self) -> str:
        """The last component (``""`` for the root)."""
        return self.parts[-1] if self.parts else ""

    @property
    def is_root(self) -> bool:
        """Whether the path is the sandbox root itself."""
        return not self.parts

    @property
    def label(self) -> str:
        """``inputs.path: 'notes/a.txt'``, to begin messages with."""
        return f"{self.field}: {self.given!r}"


class Sandbox:
    """A sandbox root directory.

    Args:
        root: The directory; symbolic links in it are resolved once, here.
        allow_hard_links: Accept regular files with more than one hard link (default:
            ``$TASKFLOW_FILES_ALLOW_HARD_LINKS``, else false).

    Raises:
        SandboxError: ``root`` is not a directory.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, allow_hard_links: bool | None = None
    ) -> None:
        real = Path(os.path.realpath(root))
        if not real.is_dir():
            raise SandboxError(f"the sandbox root {os.fspath(root)!r} is not a directory")
        self.root = real
        if allow_hard_links is None:
            allow_hard_links = env_flag(ALLOW_HARD_LINKS_VARIABLE, False)
        self.allow_hard_links = allow_hard_links

    @classmethod
    def from_environment(cls, *, allow_hard_links: bool | None = None) -> Sandbox:
        """The sandbox at ``$TASKFLOW_FILES_ROOT``.

        Raises:
            SandboxError: the variable is not set, or not a directory.
        """
        root = os.environ.get(ROOT_VARIABLE)
        if not root:
            raise SandboxError(
                f"no sandbox root: set {ROOT_VARIABLE} to the directory files tasks may use, "
                "or register executors configured with one (taskflow_files.register_sandbox)"
            )
        return cls(root, allow_hard_links=allow_hard_links)

    def path(self, path: str, *, field: str) -> SandboxPath:
        """``path`` checked by its text and normalised.

        Raises:
            SandboxError: it is absolute, contains a NUL byte, or climbs above the root.
        """
        if "\x00" in path:
            raise SandboxError(f"{field}: {path!r} contains a NUL byte")
        if PurePosixPath(path).is_absolute():
            raise SandboxError(f"{field}: {path!r} must be relative to the sandbox root")
        parts: list[str] = []
        for part in path.split("/"):
            if part == "..":
                if not parts:
                    raise SandboxError(f"{field}: {path!r} leads outside the sandbox root")
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return SandboxPath(path, field, tuple(parts))

    @contextlib.contextmanager
    def root_descriptor(self) -> Iterator[int]:
        """A descriptor of the root directory, closed after the block."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def parent(self, target: SandboxPath, *, make_parents: bool | None = None) -> Iterator[int]:
        """A descriptor of the directory that holds ``target`` (the root, for the root).

        Args:
            target: The path.
            make_parents: ``True``: make missing directories; ``False``: a missing one is a
                `FilesError` that says so; ``None`` (reading): `FileNotFoundError`.

        Raises:
            SandboxError: a symbolic link on the way.
            FilesError: a missing directory, with ``make_parents=False``.
        """
        parents = target.parts[:-1]
        with self.root_descriptor() as root:
            try:
                fd = open_directory(root, parents, create=bool(make_parents))
            except FileNotFoundError:
                if make_parents is None:
                    raise
                raise FilesError(
                    f"{target.field}: the directory of {target.given!r} does not exist "
                    "(set make_parents: true)"
                ) from None
            except OSError as exc:
                raise files_error(exc, target.field, target.given) from exc
        try:
            yield fd
        finally:
            os.close(fd)


def symlink_refused(field: str, path: str) -> SandboxError:
    """The error for a symbolic link met on the way to ``path`` (or at it)."""
    return SandboxError(
        f"{field}: {path!r} leads through a symbolic link (files tasks never follow links)"
    )


@contextlib.contextmanager
def os_errors(field: str, path: str) -> Iterator[None]:
    """Turn an `OSError` into a `FilesError` naming the input field and the path."""
    try:
        yield
    except OSError as exc:
        raise files_error(exc, field, path) from exc


def files_error(exc: OSError, field: str, path: str) -> FilesError:
    """``exc`` as a `FilesError` (or `SandboxError`) naming the input field and the path."""
    messages = {
        errno.ENOENT: f"{path!r} does not exist",
        errno.EEXIST: f"{path!r} already exists",
        errno.EISDIR: f"{path!r} is a directory",
        errno.ENOTDIR: f"a parent of {path!r} is not a directory",
        errno.EACCES: f"permission denied on {path!r}",
        errno.EPERM: f"permission denied on {path!r}",
        errno.ENXIO: f"{path!r} is not a regular file",  # a FIFO with no reader, a device
        errno.EAGAIN: f"{path!r} is not a regular file",
    }
    if exc.errno == errno.ELOOP:
        return symlink_refused(field, path)
    if exc.errno == errno.EXDEV:  # openat2 refused a step above the root
        return SandboxError(f"{field}: {path!r} leads outside the sandbox root")
    message = messages.get(exc.errno or 0, f"{path!r}: {exc.strerror or exc}")
    return FilesError(f"{field}: {message}")
