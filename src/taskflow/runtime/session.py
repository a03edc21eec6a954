"""Which storage a database URL means: a SQLite file by default, PostgreSQL, or memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from taskflow.exceptions import ConfigurationError
from taskflow.repository import MemoryRepository, TaskRepository

if TYPE_CHECKING:
    from taskflow.executors import ExecutorRegistry
    from taskflow.storage import Storage

DATABASE_URL_VARIABLE = "TASKFLOW_DATABASE_URL"
HOME_VARIABLE = "TASKFLOW_HOME"
MEMORY_URL = "memory://"
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def default_database_path() -> Path:
    """``$TASKFLOW_HOME/taskflow.db``, where ``TASKFLOW_HOME`` defaults to ``~/.taskflow``."""
    home = os.environ.get(HOME_VARIABLE) or str(Path.home() / ".taskflow")
    return Path(home).expanduser() / "taskflow.db"


def default_database_url() -> str:
    """``$TASKFLOW_DATABASE_URL``, else a SQLite file at `default_database_path`."""
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if url:
        return url
    path = default_database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def normalise_url(url: str) -> str:
    """Add the async driver to a plain URL (sqlite → aiosqlite, postgresql → asyncpg)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"invalid database URL {url!r}: expected scheme://...")
    return f"{_DRIVERS.get(scheme, scheme)}://{rest}"


def create_storage(url: str | None = None) -> Storage:
    """The storage for a database URL (see `create_session`)."""
    url = url or default_database_url()
    if url == MEMORY_URL:
        from taskflow.storage import MemoryStorage

        return MemoryStorage()
    from taskflow.storage.sql import SqlStorage

    return SqlStorage(normalise_url(url))


def sqlite_path(url: str) -> str | None:
    """The file a plain ``sqlite:///path`` URL names (``None`` for other URLs, in-memory
    databases and URLs with options)."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme not in ("sqlite", "sqlite+aiosqlite") or "?" in rest:
        return None
    return rest if rest and rest != ":memory:" else None


def create_reader(url: str | None = None) -> TaskRepository:
    """A repository for looking only: on a SQLite file at the current schema it reads through
    the standard library (no SQLAlchemy import: a command that only reads starts fast);
    otherwise it is `create_session`'s."""
    url = url or default_database_url()
    path = sqlite_path(url)
    if path is not None:
        from taskflow.storage.sqlite_reader import SqliteReader

        reader = SqliteReader.open(path)
        if reader is not None:
            return TaskRepository(reader)
    return create_session(url)


def create_session(
    url: str | None = None, *, registry: ExecutorRegistry | None = None
) -> TaskRepository:
    """The task repository for a database URL.

    Args:
        url: ``None`` for the embedded default (a SQLite file, see `default_database_url`),
            ``"sqlite:///path.db"``, ``"postgresql://user@host/db"`` (needs the ``postgres``
            extra), or ``"memory://"`` for a repository that lives only in this process.
        registry: Where ``create_task`` looks executors up (default: the process-wide one).

    The database schema is created on first use. Nothing connects until then, so this
    function is synchronous, as in ``db = create_session()``.
    """
    if url == MEMORY_URL:
        return MemoryRepository(registry=registry)
    return TaskRepository(create_storage(url), registry=registry)
