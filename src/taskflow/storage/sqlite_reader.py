"""A read-only view of a SQLite file through the standard library's ``sqlite3``.

Commands that only look (``taskflow tasks list``, ``show``, ``tree``) would spend most of
their time importing SQLAlchemy; this storage reads the same rows with the same statements
(`taskflow.storage.reads`) and starts in a fraction of it. It is opened only on a file whose
schema is at the current revision (`SqliteReader.open` says ``None`` otherwise: use
`SqlStorage`, which creates or checks the schema); anything that writes raises.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from taskflow.exceptions import StorageError
from taskflow.models import Task, TaskStatus, TaskTree
from taskflow.storage.base import Storage
from taskflow.storage.codec import HEAD_REVISION, VERSION_TABLE, RowCodec
from taskflow.storage.reads import Reads
from taskflow.storage.records import TaskEdit, TaskQuery, TreeBatch, TreeQuery

_BUSY_TIMEOUT_SECONDS = 5.0


class SqliteReader(Storage):
    """Reads a SQLite file at the current schema revision; refuses every write.

    The queries are synchronous: they are single indexed reads, made by a command that does
    nothing else meanwhile.
    """

    def __init__(self, path: str, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection
        self.reads = Reads(RowCodec("sqlite"))

    @classmethod
    def open(cls, path: str) -> SqliteReader | None:
        """The reader for the SQLite file at ``path``, or ``None`` when the file is missing,
        empty, or at another schema revision."""
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        try:
            connection = sqlite3.connect(
                f"file:{quote(path)}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_SECONDS
            )
        except sqlite3.Error:
            return None
        try:
            row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        except sqlite3.Error:
            row = None
        if row is None or row[0] != HEAD_REVISION:
            connection.close()
            return None
        return cls(path, connection)

    def __repr__(self) -> str:
        return f"SqliteReader({self.path!r})"

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            return self._connection.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"database error on {self.path}: {exc}") from exc

    async def select(self, query: TaskQuery) -> list[Task]:
        """The matching tasks, as `SqlStorage.select` returns them."""
        sql, columns, params = self.reads.select_tasks(query)
        return [self.reads.task(row, columns) for row in self._rows(sql, params)]

    async def select_trees(self, query: TreeQuery) -> list[TaskTree]:
        """Tree records, newest first."""
        sql, params = self.reads.select_trees(query)
        return [self.reads.tree(row) for row in self._rows(sql, params)]

    async def status_counts(self, tree_ids: Collection[str]) -> dict[str, dict[str, int]]:
        """``GROUP BY tree_id, status``, one statement."""
        ids = list(tree_ids)
        counts: dict[str, dict[str, int]] = {tree_id: {} for tree_id in ids}
        if not ids:
            return counts
        marks = ", ".join("?" for _ in ids)
        sql = (
            f"SELECT tree_id, status, count(*) FROM taskflow_tasks WHERE tree_id IN ({marks}) "
            "GROUP BY tree_id, status"
        )
        for tree_id, status, count in self._rows(sql, ids):
            counts[str(tree_id)][str(status)] = int(str(count))
        return counts

    def _read_only(self) -> StorageError:
        return StorageError(f"{self.path} is open for reading only")

    async def insert(
        self, tasks: Sequence[Task], tree: TaskTree | None = None, *, reopen: str | None = None
    ) -> None:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def commit(self, batch: TreeBatch) -> None:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def edit(self, task_id: str, expected: TaskStatus, edit: TaskEdit, now: datetime) -> bool:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def delete(self, task_ids: Collection[str]) -> int:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def prune(self, finished_before: datetime, *, limit: int) -> int:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def prune_fires(self, recorded_before: datetime, *, limit: int) -> int:
        """Refused: this storage only reads."""
        raise self._read_only()

    async def close(self) -> None:
        """Close the file."""
        self._connection.close()
