"""Encoding task values for the driver directly, on the write hot path.

SQLAlchemy's per-row compile and bind processing costs more than SQLite's own work for the
small rows the engine writes in batches. The few statements on the hot path (insert tasks,
compare-and-set updates) are built once here as driver-level SQL, with values encoded the
way SQLAlchemy itself stores them, so reads through SQLAlchemy see identical data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from taskflow.models import Dependency, Task

JSON_FIELDS = frozenset({"inputs", "params", "dependencies", "result"})
TIME_FIELDS = frozenset(
    {"created_at", "updated_at", "started_at", "completed_at", "lease_expires_at"}
)
TABLE = "taskflow_tasks"

Encoder = Callable[[Any], Any]


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, separators=(",", ":"))


def _dependencies(value: Sequence[Dependency | Mapping[str, Any]]) -> str:
    if not value:
        return "[]"
    return json.dumps([Dependency.parse(d).to_dict() for d in value], separators=(",", ":"))


class _SqliteTime:
    """UTC datetimes as SQLAlchemy's SQLite text format; a batch shares one timestamp, so
    the last conversion is remembered."""

    __slots__ = ("_last_in", "_last_out")

    def __init__(self) -> None:
        self._last_in: datetime | None = None
        self._last_out: str | None = None

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value is self._last_in:
            return self._last_out
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        self._last_in, self._last_out = value, utc.replace(tzinfo=None).isoformat(" ")
        return self._last_out


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value  # enums (TaskStatus) as their text


def _identity(value: Any) -> Any:
    return value


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
            elif name in JSON_FIELDS:
                self._encoders[name] = _json
            elif name in TIME_FIELDS:
                self._encoders[name] = time_encoder
            else:
                self._encoders[name] = _plain
        names, marks = ", ".join(self.columns), self._marks(len(self.columns))
        self.insert_sql = f"INSERT INTO {TABLE} ({names}) VALUES ({marks})"
        self._update_sql: dict[tuple[bool, tuple[str, ...]], str] = {}

    def _mark(self, index: int) -> str:
        return "?" if self.dialect == "sqlite" else f"${index}"

    def _marks(self, count: int) -> str:
        return ", ".join(self._mark(i + 1) for i in range(count))

    def encode(self, name: str, value: Any) -> Any:
        """``value`` of field ``name`` as the driver takes it."""
        return self._encoders[name](value)

    def insert_row(self, task: Task) -> tuple[Any, ...]:
        """The parameters of `insert_sql` for ``task``."""
        encoders = self._encoders
        return tuple(encoders[name](getattr(task, name, None)) for name in self.columns)

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
        self, fields: tuple[str, ...], values: Mapping[str, Any], task_id: str, expected: Any
    ) -> tuple[Any, ...]:
        """The parameters of `update_sql` for one change."""
        encoders = self._encoders
        row = [encoders[name](values[name]) for name in fields]
        row.append(task_id)
        if expected is not None:
            row.append(_plain(expected))
        return tuple(row)
