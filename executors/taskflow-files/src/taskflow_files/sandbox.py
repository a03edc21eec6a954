"""The sandbox: one root directory that every path of a files task must stay inside.

Paths in inputs are relative to the root. A path is checked after resolving it the way the
operating system will (``..`` and symbolic links included, with ``os.path.realpath``): if the
real path is not the root or below it, the task fails with `SandboxError` before anything is
touched. A symbolic link inside the sandbox that points outside it is an escape too.

Limit: the check and the operation are two steps, so a process that can change the sandbox
concurrently (swapping a directory for a symbolic link in between) is not defended against.
Give the sandbox to taskflow alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from taskflow import TaskExecutionError

ROOT_VARIABLE = "TASKFLOW_FILES_ROOT"


class FilesError(TaskExecutionError):
    """Raised when a file operation cannot be done as asked (missing file, exists, too large).

    The message names the input field and the path.
    """


class SandboxError(FilesError):
    """Raised when a path leaves the sandbox root, or no usable root is configured."""


class FileTooLarge(FilesError):
    """Raised when content or a file is larger than the task's size limit."""


class Sandbox:
    """A root directory and the checks that keep paths inside it.

    Args:
        root: The root directory (it must exist); it is resolved to its real path.

    Raises:
        SandboxError: ``root`` is not an existing directory.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        real = Path(os.path.realpath(root))
        if not real.is_dir():
            raise SandboxError(f"the sandbox root {os.fspath(root)!r} is not a directory")
        self.root = real

    @classmethod
    def from_environment(cls) -> Sandbox:
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
        return cls(root)

    def resolve(self, path: str, *, field: str, follow_symlink: bool = True) -> Path:
        """The real path of ``path`` (relative to the root), checked to be inside the root.

        Args:
            path: The path from the inputs.
            field: The input field it comes from, for messages (``inputs.path``).
            follow_symlink: Resolve a symbolic link in the last component too (false: the
                link itself is meant, as when deleting or moving it).

        Raises:
            SandboxError: the path is absolute, contains a NUL byte, or leads outside the root.
        """
        relative = self._relative(path, field)
        if follow_symlink or relative.name in ("", ".", ".."):
            real = Path(os.path.realpath(self.root / relative))
        else:
            real = Path(os.path.realpath(self.root / relative.parent)) / relative.name
        if not real.is_relative_to(self.root):
            lexical = Path(os.path.normpath(self.root / relative))
            how = " through a symbolic link" if lexical.is_relative_to(self.root) else ""
            raise SandboxError(f"{field}: {path!r} leads outside the sandbox root{how}")
        return real

    def relative(self, real: Path) -> str:
        """``real`` (a path inside the root) as the relative POSIX path inputs use."""
        return PurePosixPath(real.relative_to(self.root)).as_posix()

    @staticmethod
    def _relative(path: str, field: str) -> Path:
        if "\x00" in path:
            raise SandboxError(f"{field}: {path!r} contains a NUL byte")
        relative = Path(path)
        if relative.is_absolute():
            raise SandboxError(f"{field}: {path!r} must be relative to the sandbox root")
        return relative


async def lexists(path: Path) -> bool:
    """Whether anything, a dangling symbolic link included, is at ``path``."""
    return await asyncio.to_thread(os.path.lexists, path)


@contextlib.contextmanager
def os_errors(field: str, path: str) -> Iterator[None]:
    """Turn an `OSError` into a `FilesError` naming the input field and the path."""
    try:
        yield
    except FileNotFoundError as exc:
        raise FilesError(f"{field}: {path!r} does not exist") from exc
    except FileExistsError as exc:
        raise FilesError(f"{field}: {path!r} already exists") from exc
    except IsADirectoryError as exc:
        raise FilesError(f"{field}: {path!r} is a directory") from exc
    except NotADirectoryError as exc:
        raise FilesError(f"{field}: a parent of {path!r} is not a directory") from exc
    except PermissionError as exc:
        raise FilesError(f"{field}: permission denied on {path!r}") from exc
    except OSError as exc:
        raise FilesError(f"{field}: {path!r}: {exc.strerror or exc}") from exc
