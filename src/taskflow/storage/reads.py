"""The read side at the driver level: task and tree queries as SQL text, rows decoded by hand.

One implementation serves both `SqlStorage` (through SQLAlchemy's connection, raw driver
rows) and `SqliteReader` (the standard library's ``sqlite3``, for commands that only read and
must start fast): the same statements, the same decoding, for each dialect.

Values come back from the drivers as `RowCodec` stores them: on SQLite JSON is text and times
are naive UTC text; on PostgreSQL (asyncpg through SQLAlchemy) JSON is already decoded and
times are aware.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from taskflow.models import AttemptRecord, Dependency, Lease, Task, TaskStatus, TaskTree, TreeStatus
from taskflow.storage.codec import TASK_COLUMNS, TASKS, TREE_COLUMNS, TREES, RowCodec
from taskflow.storage.records import TaskQuery, TreeQuery

#: A listing's columns: results, inputs and tracebacks can be large.
SUMMARY_COLUMNS = tuple(c for c in TASK_COLUMNS if c not in {"result", "inputs", "traceback"})

_JSON_COLUMNS = frozenset(
    {"inputs", "params", "dependencies", "result", "attempts", "retry", "waiting"}
)
_TIME_COLUMNS = frozenset(
    {"retry_at", "deadline_at", "created_at", "updated_at", "started_at", "completed_at"}
)


def _sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _same(value: Any) -> Any:
    return value


class Statement:
    """SQL text and its parameters, built up clause by clause with the dialect's placeholders."""

    __slots__ = ("_codec", "params", "where")

    def __init__(self, codec: RowCodec) -> None:
        self._codec = codec
        self.where: list[str] = []
        self.params: list[Any] = []

    def mark(self, value: Any) -> str:
        """A placeholder for ``value``."""
        self.params.append(value)
        return self._codec.mark(len(self.params))

    def equal(self, column: str, value: Any) -> None:
        """``column = value`` unless ``value`` is ``None``."""
        if value is not None:
            self.where.append(f"{column} = {self.mark(value)}")

    def among(self, column: str, values: Collection[Any] | None) -> None:
        """``column`` is one of ``values`` (none of them when empty)."""
        if values is None:
            return
        values = list(values)
        if self._codec.postgres:
            self.where.append(f"{column} = ANY({self.mark(values)})")
        elif not values:
            self.where.append("0 = 1")
        else:
            self.where.append(f"{column} IN ({', '.join(self.mark(v) for v in values)})")

    def prefix(self, column: str, prefix: str | None) -> None:
        """``column`` starts with ``prefix`` (no pattern characters to escape)."""
        if prefix is not None:
            self.where.append(f"substr({column}, 1, {len(prefix)}) = {self.mark(prefix)}")

    def contains(self, column: str, text: str | None) -> None:
        """``column`` contains ``text``, literally, in any case."""
        if text is not None:
            find = "strpos" if self._codec.postgres else "instr"
            self.where.append(f"{find}(lower({column}), lower({self.mark(text)})) > 0")

    def page(self, limit: int | None, offset: int = 0) -> str:
        """The ``LIMIT``/``OFFSET`` clause."""
        if limit is None and not offset:
            return ""
        if limit is None:
            limit = -1 if not self._codec.postgres else None
        return f" LIMIT {self.mark(limit)} OFFSET {self.mark(offset)}"

    def conditions(self) -> str:
        """The ``WHERE`` clause (empty when nothing is filtered)."""
        return f" WHERE {' AND '.join(self.where)}" if self.where else ""


class Reads:
    """Read statements and row decoders for one dialect."""

    def __init__(self, codec: RowCodec) -> None:
        self.codec = codec
        postgres = codec.postgres
        #: A time column as read back (aware UTC, or ``None``).
        self.time: Callable[[Any], datetime | None] = _same if postgres else _sqlite_time
        #: A JSON column as read back.
        self.json: Callable[[Any], Any] = _same if postgres else _sqlite_json

    def select_tasks(self, query: TaskQuery) -> tuple[str, Sequence[str], list[Any]]:
        """The statement for ``query``: SQL, the columns it reads, parameters."""
        columns = TASK_COLUMNS if query.with_results else SUMMARY_COLUMNS
        sql = Statement(self.codec)
        sql.among("id", query.ids)
        sql.prefix("id", query.id_prefix)
        for column in ("key", "tree_id", "parent_id", "user_id"):
            sql.equal(column, getattr(query, column))
        if query.statuses is not None:
            sql.among("status", [str.__str__(status) for status in query.statuses])
        if query.roots_only:
            sql.where.append("parent_id IS NULL")
        if query.waiting:
            sql.where.append("waiting IS NOT NULL")
        if query.tree_id is None and query.parent_id is None:
            order = "created_at DESC, tree_id, position"
        else:
            order = "position"
        text = (
            f"SELECT {', '.join(columns)} FROM {TASKS}{sql.conditions()} ORDER BY {order}"
            f"{sql.page(query.limit, query.offset)}"
        )
        return text, columns, sql.params

    def select_trees(self, query: TreeQuery) -> tuple[str, list[Any]]:
        """The statement for ``query``: SQL and parameters."""
        sql = Statement(self.codec)
        sql.among("id", query.ids)
        sql.prefix("id", query.id_prefix)
        sql.equal("user_id", query.user_id)
        if query.statuses is not None:
            sql.among("status", [str.__str__(status) for status in query.statuses])
        sql.contains("name", query.name)
        if query.since is not None:
            sql.where.append(f"created_at >= {sql.mark(self.codec.time(query.since))}")
        if query.before is not None:
            created, tree_id = query.before
            at = self.codec.time(created)
            sql.where.append(
                f"(created_at < {sql.mark(at)} OR (created_at = {sql.mark(at)} "
                f"AND id < {sql.mark(tree_id)}))"
            )
        text = (
            f"SELECT {', '.join(TREE_COLUMNS)} FROM {TREES}{sql.conditions()} "
            f"ORDER BY created_at DESC, id DESC{sql.page(query.limit)}"
        )
        return text, sql.params

    def task(self, row: Sequence[Any], columns: Sequence[str]) -> Task:
        """A task from a row of `select_tasks`."""
        values = dict(zip(columns, row, strict=True))
        decode_json, decode_time = self.json, self.time
        for name in _JSON_COLUMNS.intersection(values):
            values[name] = decode_json(values[name])
        for name in _TIME_COLUMNS:
            values[name] = decode_time(values[name])
        values["status"] = TaskStatus(values["status"])
        values["dependencies"] = tuple(
            Dependency(d["id"], d["required"]) for d in values["dependencies"]
        )
        values["attempts"] = tuple(AttemptRecord.from_dict(a) for a in values["attempts"] or ())
        if values.get("inputs") is None:
            values["inputs"] = {}
        return Task(**values)

    def tree(self, row: Sequence[Any]) -> TaskTree:
        """A tree record from a row of `select_trees` (`TREE_COLUMNS` order)."""
        (
            tree_id, name, user_id, status, concurrency, deadline_at, created_at, updated_at,
            started_at, finished_at, lease_owner, lease_expires_at, lease_token,
        ) = row  # fmt: skip
        time = self.time
        return TaskTree(
            id=tree_id,
            name=name,
            user_id=user_id,
            status=TreeStatus(status),
            concurrency=concurrency,
            deadline_at=time(deadline_at),
            created_at=time(created_at),  # type: ignore[arg-type]
            updated_at=time(updated_at),  # type: ignore[arg-type]
            started_at=time(started_at),
            finished_at=time(finished_at),
            lease=Lease(lease_owner, time(lease_expires_at), lease_token),
        )
