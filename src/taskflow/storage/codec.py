"""The write hot path at the driver level: SQL built once per dialect, rows encoded by hand.

SQLAlchemy's per-row compile and bind processing costs more than the database's own work for
the small rows the engine writes in batches. The statements on the hot path — insert a tree,
write a batch (the lease fence, task states, events, signal uses) — are generated here from
column lists, once per dialect, and their rows are encoded the way SQLAlchemy itself stores
values, so reads through SQLAlchemy see identical data.

On PostgreSQL a multi-row write is one statement over ``unnest`` of one array per column: one
round trip, and a row count that says whether every compare-and-set applied.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from taskflow.events import TaskEvent
from taskflow.models import AttemptRecord, Dependency, Task, TaskStatus, TaskTree
from taskflow.storage.records import TaskState, TreeBatch

#: The newest schema migration; a fresh database is created at it. A test checks it is
#: alembic's head.
HEAD_REVISION = "0006_task_cursor"
#: In the error a whole-batch statement raises when a compare-and-set missed (`batch_sql`).
CONFLICT_MARK = "taskflow-conflict"
#: Rows per multi-row statement on PostgreSQL when a write has more (a big tree's insert).
MANY_ROWS = 5000
#: Where the revision is kept (alembic's table, named for taskflow: it may share a database).
VERSION_TABLE = "taskflow_alembic_version"

TASKS = "taskflow_tasks"
TREES = "taskflow_trees"
EVENTS = "taskflow_events"
SIGNALS = "taskflow_signals"
SCHEDULES = "taskflow_schedules"
FIRES = "taskflow_schedule_fires"

#: Every column of a task row, in insert order.
TASK_COLUMNS = (
    "id", "tree_id", "parent_id", "key", "name", "executor", "user_id", "inputs", "params",
    "dependencies", "priority", "position", "status", "progress", "message", "result", "error",
    "error_type", "traceback", "attempt", "attempts", "timeout", "soft_timeout", "retry",
    "retry_at", "waiting", "cursor", "deadline_at", "concurrency", "created_at", "updated_at",
    "started_at", "completed_at",
)  # fmt: skip
#: What a task state write sets (`TaskState`), in order; the row ends with id and expected.
STATE_COLUMNS = (
    "status", "progress", "message", "result", "error", "error_type", "traceback", "attempt",
    "attempts", "started_at", "completed_at", "retry_at", "waiting", "cursor", "updated_at",
)  # fmt: skip
TREE_COLUMNS = (
    "id", "name", "user_id", "status", "concurrency", "deadline_at", "created_at", "updated_at",
    "started_at", "finished_at", "lease_owner", "lease_expires_at", "lease_token",
)  # fmt: skip
EVENT_COLUMNS = ("tree_id", "seq", "task_id", "type", "data", "time")
SCHEDULE_COLUMNS = (
    "id", "name", "user_id", "spec", "definition", "source", "paused_at", "watermark",
    "next_fire_at", "missed", "version", "created_at", "updated_at",
)  # fmt: skip
FIRE_COLUMNS = (
    "schedule_id", "nominal", "run_at", "kind", "status", "tree_id", "reason", "recorded_at",
)  # fmt: skip

_JSON = frozenset(
    {"inputs", "params", "dependencies", "result", "attempts", "retry", "waiting", "data"}
    | {"spec", "definition"}
)
_TIME = frozenset(
    {"retry_at", "deadline_at", "created_at", "updated_at", "started_at", "completed_at"}
    | {"finished_at", "lease_expires_at", "time"}
    | {"paused_at", "watermark", "next_fire_at", "nominal", "run_at", "recorded_at"}
)
_PG_TYPES = {"progress": "float8", "timeout": "float8", "soft_timeout": "float8"} | dict.fromkeys(
    ("priority", "position", "attempt", "concurrency", "lease_token", "seq", "missed", "version"),
    "int4",
)


def _not_json(value: Any) -> Any:
    raise TypeError(f"a value of type {type(value).__name__} is not JSON")


#: The C encoder, built once (``json.dumps`` builds one per call): compact, ASCII, no NaN.
_C_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
)


_RECENT_TIMES: dict[datetime, str] = {}  # a batch shares a few timestamps


def _time_text(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"a value of type {type(value).__name__} is not JSON")
    text = _RECENT_TIMES.get(value)
    if text is None:  # naive times are UTC, as the driver takes them
        text = value.isoformat() if value.tzinfo is not None else value.isoformat() + "+00:00"
        if len(_RECENT_TIMES) >= 64:
            _RECENT_TIMES.clear()
        _RECENT_TIMES[value] = text
    return text


#: The rows of a multi-row statement on PostgreSQL, as JSON (times in ISO 8601, with zone).
_C_ENCODE_ROWS = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _time_text, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
)


def _encode(value: Any) -> str:
    return "".join(_C_ENCODE(value, 0))


def encode_json(value: Any) -> str | None:
    """JSON text, compact; ``None`` stays NULL. NaN and infinities are refused (`ValueError`):
    they are not JSON, and PostgreSQL would reject them."""
    if value is None:
        return None
    if not value and isinstance(value, dict | list | tuple):
        return "{}" if isinstance(value, dict) else "[]"
    return _encode(value)


def encode_attempts(attempts: Sequence[AttemptRecord]) -> str | None:
    """The attempt history as JSON (``None`` when empty: a clean first success has none)."""
    return _encode([a.to_dict() for a in attempts]) if attempts else None


def encode_dependencies(dependencies: Iterable[Dependency]) -> str:
    """Dependencies as JSON."""
    return _encode([d.to_dict() for d in dependencies])


def _status(value: TaskStatus | str) -> str:
    return str.__str__(value)


class _SqliteTime:
    """UTC datetimes in SQLAlchemy's SQLite text format; recent conversions are cached (a
    batch shares a few timestamps)."""

    __slots__ = ("_recent",)
    RECENT = 16

    def __init__(self) -> None:
        self._recent: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        text = self._recent.get(value)
        if text is None:
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            text = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(self._recent) >= self.RECENT:
                self._recent.clear()
            self._recent[value] = text
        return text


def _same(value: datetime | None) -> datetime | None:
    return value


class RowCodec:
    """SQL and row encoders for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.postgres = dialect == "postgresql"
        self.time: Callable[[datetime | None], Any] = _same if self.postgres else _SqliteTime()
        self.insert_task_sql = self.insert_sql(TASKS, TASK_COLUMNS)
        self.insert_tree_sql = self.insert_sql(TREES, TREE_COLUMNS)
        self.insert_event_sql = self.insert_sql(EVENTS, EVENT_COLUMNS)
        self.update_state_sql = self._update_states()
        self._batch_sql: dict[tuple[bool, bool], str] = {}
        self.fence_sql = (
            f"UPDATE {TREES} SET status = {self.mark(1)}, started_at = {self.mark(2)}, "
            f"finished_at = {self.mark(3)}, updated_at = {self.mark(4)}, "
            f"lease_owner = {self.mark(5)}, lease_expires_at = {self.mark(6)} "
            f"WHERE id = {self.mark(7)} AND lease_owner = {self.mark(8)} "
            f"AND lease_token = {self.mark(9)}"
        )
        self.use_signal_sql = (
            f"UPDATE {SIGNALS} SET consumed_at = {self.mark(1)}, consumed_attempt = "
            f"{self.mark(2)} WHERE id = {self.mark(3)}"
        )
        self.reopen_sql = (
            f"UPDATE {TREES} SET finished_at = NULL, status = CASE WHEN started_at IS NULL "
            "THEN 'pending' ELSE 'in_progress' END WHERE id = "
            f"{self.mark(1)} AND status IN ('completed', 'failed', 'cancelled')"
        )
        self.release_signals_sql = (
            f"UPDATE {SIGNALS} SET consumed_at = NULL, consumed_attempt = NULL "
            f"WHERE task_id = {self.mark(1)} AND consumed_attempt = {self.mark(2)}"
        )

    def batch_sql(self, states: bool, events: bool) -> str:
        """PostgreSQL: a whole batch as one statement (`Step.whole`): the lease fence, then
        the task states and the events only if the fence held; one row if it did, none if
        not; an error naming `CONFLICT_MARK` if a task's status had changed (nothing is
        written). Parameters: the fence's, then the states' and the events' rows (`many`),
        and the number of states."""
        key = (states, events)
        cached = self._batch_sql.get(key)
        if cached is not None:
            return cached
        index = 9  # the fence's parameters come first
        parts = [f"fence AS ({self.fence_sql} RETURNING 1)"]

        def rows(columns: Sequence[str]) -> str:
            nonlocal index
            index += 1
            return self._rows(columns, index)

        if states:
            columns = (*STATE_COLUMNS, "id", "expected")
            sets = ", ".join(f"{c} = {self._cast(c, f'u.{c}')}" for c in STATE_COLUMNS)
            parts.append(
                f"states AS (UPDATE {TASKS} AS t SET {sets} FROM {rows(columns)} AS u "
                "WHERE t.id = u.id AND t.status = u.expected "
                "AND EXISTS (SELECT 1 FROM fence) RETURNING 1)"
            )
        if events:
            names = ", ".join(EVENT_COLUMNS)
            values = ", ".join(self._cast(c, f"u.{c}") for c in EVENT_COLUMNS)
            parts.append(
                f"events AS (INSERT INTO {EVENTS} ({names}) SELECT {values} FROM "
                f"{rows(EVENT_COLUMNS)} AS u WHERE EXISTS (SELECT 1 FROM fence))"
            )
        check = "true"
        if states:
            expected = f"${index + 1}::int4"
            check = (
                f"CASE WHEN (SELECT count(*) FROM states) = {expected} THEN true ELSE "
                f"('{CONFLICT_MARK}: ' || (SELECT count(*) FROM states) || ' of ' || {expected} "
                "|| ' task states applied')::int = 0 END"
            )
        sql = (
            f"WITH {', '.join(parts)} SELECT 1 FROM (SELECT count(*) AS n FROM fence) AS f "
            f"WHERE CASE WHEN f.n = 0 THEN false ELSE {check} END"
        )
        self._batch_sql[key] = sql
        return sql

    def mark(self, index: int) -> str:
        """The placeholder of parameter ``index`` (from 1)."""
        return f"${index}" if self.postgres else "?"

    def _pg_type(self, column: str) -> str:
        if column in _TIME:
            return "timestamptz"
        return _PG_TYPES.get(column, "text")

    def _cast(self, column: str, value: str) -> str:
        return f"{value}::jsonb" if self.postgres and column in _JSON else value

    def insert_sql(self, table: str, columns: Sequence[str]) -> str:
        """A multi-row ``INSERT`` of ``columns`` (parameters: `many` of the rows)."""
        names = ", ".join(columns)
        if not self.postgres:
            return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        values = ", ".join(self._cast(c, f"u.{c}") for c in columns)
        return f"INSERT INTO {table} ({names}) SELECT {values} FROM {self._rows(columns, 1)} AS u"

    def _update_states(self) -> str:
        if not self.postgres:
            sets = ", ".join(f"{c} = ?" for c in STATE_COLUMNS)
            return f"UPDATE {TASKS} SET {sets} WHERE id = ? AND status = ?"
        columns = (*STATE_COLUMNS, "id", "expected")
        sets = ", ".join(f"{c} = {self._cast(c, f'u.{c}')}" for c in STATE_COLUMNS)
        return (
            f"UPDATE {TASKS} AS t SET {sets} FROM {self._rows(columns, 1)} AS u "
            "WHERE t.id = u.id AND t.status = u.expected"
        )

    def _rows(self, columns: Sequence[str], param: int) -> str:
        """PostgreSQL: the rows of parameter ``param`` (a JSON array of rows, each an array
        in ``columns`` order, from `many`) as a table of typed columns."""
        typed = ", ".join(f"(r->>{i})::{self._pg_type(c)} AS {c}" for i, c in enumerate(columns))
        return f"(SELECT {typed} FROM jsonb_array_elements(${param}::jsonb) AS e(r))"

    def chunked(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The parameters of as many multi-row statements as ``rows`` need: one on SQLite;
        on PostgreSQL one per `MANY_ROWS` (a JSON value has a size limit; a tree of a
        million tasks stays far within it this way)."""
        if not self.postgres:
            return [rows]
        return [self.many(rows[i : i + MANY_ROWS]) for i in range(0, len(rows), MANY_ROWS)]

    def many(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]] | tuple[str]:
        """The parameters of a multi-row statement: the rows (SQLite ``executemany``), or one
        JSON array of them (PostgreSQL): one parameter the driver sends as it is, instead of
        one array per column whose every element it would inspect."""
        if not self.postgres:
            return rows
        return ("".join(_C_ENCODE_ROWS(rows, 0)),)

    # -- rows -------------------------------------------------------------------------------

    def task_row(self, task: Task) -> tuple[Any, ...]:
        """A new task, in `TASK_COLUMNS` order."""
        time = self.time
        return (
            task.id, task.tree_id, task.parent_id, task.key, task.name, task.executor,
            task.user_id, encode_json(task.inputs), encode_json(task.params),
            encode_dependencies(task.dependencies), task.priority, task.position,
            _status(task.status), task.progress, task.message, encode_json(task.result),
            task.error, task.error_type, task.traceback, task.attempt,
            encode_attempts(task.attempts), task.timeout, task.soft_timeout,
            encode_json(task.retry), time(task.retry_at), encode_json(task.waiting), task.cursor,
            time(task.deadline_at), task.concurrency, time(task.created_at),
            time(task.updated_at), time(task.started_at), time(task.completed_at),
        )  # fmt: skip

    def tree_row(self, tree: TaskTree) -> tuple[Any, ...]:
        """A new tree record, in `TREE_COLUMNS` order."""
        time, lease = self.time, tree.lease
        return (
            tree.id, tree.name, tree.user_id, str.__str__(tree.status), tree.concurrency,
            time(tree.deadline_at), time(tree.created_at), time(tree.updated_at),
            time(tree.started_at), time(tree.finished_at), lease.owner,
            time(lease.expires_at), lease.token,
        )  # fmt: skip

    def state_row(self, state: TaskState) -> tuple[Any, ...]:
        """A task state write, in `STATE_COLUMNS` order, then id and expected status."""
        time = self.time
        return (
            _status(state.status), state.progress, state.message, encode_json(state.result),
            state.error, state.error_type, state.traceback, state.attempt,
            encode_attempts(state.attempts), time(state.started_at), time(state.completed_at),
            time(state.retry_at), encode_json(state.waiting), state.cursor,
            time(state.updated_at), state.id, _status(state.expected),
        )  # fmt: skip

    def event_row(self, event: TaskEvent) -> tuple[Any, ...]:
        """An event, in `EVENT_COLUMNS` order."""
        data = encode_json(event.data)
        return (
            event.tree_id, event.seq, event.task_id, str.__str__(event.type), data,
            self.time(event.time),
        )  # fmt: skip

    def fence_row(self, batch: TreeBatch) -> tuple[Any, ...]:
        """The parameters of `fence_sql`: the tree's new state, conditional on the claim."""
        tree, time = batch.tree, self.time
        owner = batch.claim.owner if tree.keep_lease else None
        expires = time(tree.lease_expires_at) if tree.keep_lease else None
        return (
            str.__str__(tree.status), time(tree.started_at), time(tree.finished_at),
            time(tree.updated_at), owner, expires, batch.tree_id, batch.claim.owner,
            batch.claim.token,
        )  # fmt: skip


def finite(value: float) -> bool:
    """Whether a number can be stored (not NaN or infinite)."""
    return math.isfinite(value)


def decode_json(value: Any) -> Any:
    """A JSON column as read back through a raw driver (text on SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def mapping_or_none(value: Any) -> Mapping[str, Any] | None:
    """A JSON object column, or ``None``."""
    decoded = decode_json(value)
    return decoded if isinstance(decoded, Mapping) else None
