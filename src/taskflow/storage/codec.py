"""Encoding task values for the driver directly, on the write hot path.

SQLAlchemy's per-row compile and bind processing costs more than SQLite's own work for the
small rows the engine writes in batches. The few statements on the hot path (insert tasks,
compare-and-set updates) are built once here as driver-level SQL, with values encoded the
way SQLAlchemy itself stores them, so reads through SQLAlchemy see identical data.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from taskflow.events import TaskEvent
from taskflow.models import Dependency, Task, TaskStatus

JSON_FIELDS = frozenset({"inputs", "params", "dependencies", "result", "attempts", "retry"})
TIME_FIELDS = frozenset(
    {"created_at", "updated_at", "started_at", "completed_at"}
    | {"lease_expires_at", "retry_at", "deadline_at"}
)
TABLE = "taskflow_tasks"

Encoder = Callable[[Any], Any]


#: One encoder for every value: ``json.dumps`` with custom separators builds a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if not value and isinstance(value, dict | list | tuple):
        return "{}" if isinstance(value, dict) else "[]"
    return _ENCODE(value)


def _dependencies(value: Sequence[Dependency | Mapping[str, Any]]) -> str:
    if not value:
        return "[]"
    return _ENCODE([Dependency.parse(d).to_dict() for d in value])


class _SqliteTime:
    """UTC datetimes in SQLAlchemy's SQLite text format.

    A batch shares a few timestamps (now, the lease expiry), so recent conversions are kept.
    """

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
            text = utc.replace(tzinfo=None).isoformat(" ")
            if len(self._recent) >= self.RECENT:
                self._recent.clear()
            self._recent[value] = text
        return text


def _status(value: Any) -> str:
    return str.__str__(value) if isinstance(value, TaskStatus) else str(value)


def _identity(value: Any) -> Any:
    return value


def _compile(
    name: str, expressions: Sequence[str], arguments: str, encoders: Mapping[str, Encoder]
) -> Any:
    """A function returning the tuple of ``expressions``: one call per row, no loop per column."""
    body = ", ".join(expressions)
    source = f"def {name}({arguments}):\n    return ({body},)\n"
    namespace: dict[str, Any] = {f"encode_{field}": encoder for field, encoder in encoders.items()}
    exec(source, namespace)  # built only from our own column names
    return namespace[name]


class RowCodec:
    """Driver-level SQL and value encoders for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str, columns: Sequence[str]) -> None:
        self.dialect = dialect
        self.columns = tuple(columns)
        time_encoder: Encoder = _SqliteTime() if dialect == "sqlite" else _identity
        self._encoders: dict[str, Encoder] = {}
        for name in self.columns:
            if name == "dependencies":
                self._encoders[name] = _dependencies
            elif name == "status":
                self._encoders[name] = _status
            elif name in JSON_FIELDS:
                self._encoders[name] = _json
            elif name in TIME_FIELDS:
                self._encoders[name] = time_encoder
            else:
                self._encoders[name] = _identity
        self._plain = frozenset(n for n, e in self._encoders.items() if e is _identity)
        task_fields = {field.name for field in dataclasses.fields(Task)}
        values = [f"task.{n}" if n in task_fields else "None" for n in self.columns]
        self.insert_row: Callable[[Task], tuple[Any, ...]] = _compile(
            "insert_row",
            [self._expression(n, v) for n, v in zip(self.columns, values, strict=True)],
            "task",
            self._encoders,
        )
        self._update_rows: dict[tuple[tuple[str, ...], bool], Any] = {}
        names, marks = ", ".join(self.columns), self._marks(len(self.columns))
        self.insert_sql = f"INSERT INTO {TABLE} ({names}) VALUES ({marks})"
        self._update_sql: dict[tuple[bool, tuple[str, ...]], str] = {}

    def _mark(self, index: int) -> str:
        return "?" if self.dialect == "sqlite" else f"${index}"

    def _marks(self, count: int) -> str:
        return ", ".join(self._mark(i + 1) for i in range(count))

    @property
    def event_sql(self) -> str:
        """``INSERT`` of one event row."""
        columns = "tree_id, seq, task_id, type, data, time"
        return f"INSERT INTO taskflow_events ({columns}) VALUES ({self._marks(6)})"

    def event_row(self, event: TaskEvent) -> tuple[Any, ...]:
        """The parameters of `event_sql`."""
        time = self._encoders["created_at"](event.time)
        return (
            event.tree_id,
            event.seq,
            event.task_id,
            str.__str__(event.type),
            _json(event.data),
            time,
        )

    def _expression(self, name: str, value: str) -> str:
        return value if name in self._plain else f"encode_{name}({value})"

    def encode(self, name: str, value: Any) -> Any:
        """``value`` of field ``name`` as the driver takes it."""
        return self._encoders[name](value)

    def update_sql(self, fields: tuple[str, ...], checked: bool) -> str:
        """``UPDATE ... SET fields WHERE id = ? [AND status = ?]``, cached per shape."""
        key = (checked, fields)
        sql = self._update_sql.get(key)
        if sql is None:
            sets = ", ".join(f"{name} = {self._mark(i + 1)}" for i, name in enumerate(fields))
            where = f"id = {self._mark(len(fields) + 1)}"
            if checked:
                where += f" AND status = {self._mark(len(fields) + 2)}"
            sql = self._update_sql[key] = f"UPDATE {TABLE} SET {sets} WHERE {where}"
        return sql

    def update_row(
        self,
        fields: tuple[str, ...],
        values: Mapping[str, Any],
        task_id: str,
        expected: TaskStatus | None,
    ) -> tuple[Any, ...]:
        """The parameters of `update_sql` for one change."""
        checked = expected is not None
        encode = self._update_rows.get((fields, checked))
        if encode is None:
            expressions = [self._expression(name, f"values[{name!r}]") for name in fields]
            expressions.append("task_id")
            if checked:
                expressions.append("encode_status(expected)")
            encode = self._update_rows[(fields, checked)] = _compile(
                "update_row", expressions, "values, task_id, expected", self._encoders
            )
        return encode(values, task_id, expected)  # type: ignore[no-any-return]
