"""The SQL schema. Alembic migrations in ``migrations/`` must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def json_column() -> Any:
    """A JSON column: JSONB on PostgreSQL, JSON text elsewhere."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


metadata = sa.MetaData()

tasks = sa.Table(
    "taskflow_tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tree_id", sa.String(36), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("executor", sa.String(200), nullable=True),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("inputs", json_column(), nullable=False),
    sa.Column("params", json_column(), nullable=False),
    sa.Column("dependencies", json_column(), nullable=False),
    sa.Column("priority", sa.SmallInteger(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float(), nullable=False),
    sa.Column("result", json_column(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("error_type", sa.String(200), nullable=True),
    sa.Column("traceback", sa.Text(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("attempts", json_column(), nullable=True),
    sa.Column("timeout", sa.Float(), nullable=True),
    sa.Column("soft_timeout", sa.Float(), nullable=True),
    sa.Column("retry", json_column(), nullable=True),
    sa.Column("retry_at", UTCDateTime(), nullable=True),
    sa.Column("deadline_at", UTCDateTime(), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("waiting", json_column(), nullable=True),
    sa.Column("concurrency", sa.Integer(), nullable=True),
    sa.Column("cursor", sa.String(200), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')",
        name="taskflow_tasks_status_check",
    ),
    sa.CheckConstraint("priority BETWEEN 0 AND 3", name="taskflow_tasks_priority_check"),
    sa.UniqueConstraint("tree_id", "key", name="taskflow_tasks_tree_key"),
    sa.Index("taskflow_tasks_parent", "parent_id"),
    sa.Index("taskflow_tasks_user_created", "user_id", "created_at"),
)

TREE_STATUSES = "'pending', 'queued', 'in_progress', 'completed', 'failed', 'cancelled'"

#: One row per tree: its rolled-up status, times, and the lease of the manager running it.
trees = sa.Table(
    "taskflow_trees",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("concurrency", sa.Integer(), nullable=True),
    sa.Column("deadline_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    sa.Column("lease_token", sa.Integer(), nullable=False),
    sa.CheckConstraint(f"status IN ({TREE_STATUSES})", name="taskflow_trees_status_check"),
    sa.Index("taskflow_trees_user_created", "user_id", "created_at"),
    sa.Index("taskflow_trees_status_created", "status", "created_at"),
)

#: Every state change, progress report and log line, in order within each tree (``seq``).
events = sa.Table(
    "taskflow_events",
    metadata,
    sa.Column("tree_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("data", json_column(), nullable=False),
    sa.Column("time", UTCDateTime(), nullable=False),
    sqlite_with_rowid=False,  # rows live in the (tree_id, seq) key: one B-tree insert per event
)

#: Requests for tasks: data sent with ``notify`` (kind ``notify``), kept until a ``wait`` takes
#: it, and cancel requests (kind ``cancel``) from processes that do not run the tree.
signals = sa.Table(
    "taskflow_signals",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tree_id", sa.String(36), nullable=False),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("data", json_column(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("consumed_at", UTCDateTime(), nullable=True),
    sa.Column("consumed_attempt", sa.Integer(), nullable=True),
    sa.Index("taskflow_signals_task_key", "task_id", "key"),
    sa.Index("taskflow_signals_tree", "tree_id", "consumed_at"),
)

#: Worker processes (``taskflow worker``) and their last heartbeat.
workers = sa.Table(
    "taskflow_workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
    sa.Column("trees", sa.Integer(), nullable=False),
)

#: Periodic schedules (`taskflow.models.schedule.ScheduleRecord`): when each fires, the tree it
#: starts, and its watermark; ``version`` guards every change (workers race on due schedules).
schedules = sa.Table(
    "taskflow_schedules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("spec", json_column(), nullable=False),
    sa.Column("definition", json_column(), nullable=False),
    sa.Column("source", sa.Text(), nullable=True),
    sa.Column("paused_at", UTCDateTime(), nullable=True),
    sa.Column("watermark", UTCDateTime(), nullable=True),
    sa.Column("next_fire_at", UTCDateTime(), nullable=True),
    sa.Column("missed", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("taskflow_schedules_due", "next_fire_at"),
)

FIRE_STATUSES = "'started', 'skipped', 'buffered', 'failed'"

#: One row per fire time of a schedule, written with the tree it starts: the primary key is
#: what makes a fire time start at most one tree, however many workers evaluate it.
schedule_fires = sa.Table(
    "taskflow_schedule_fires",
    metadata,
    sa.Column("schedule_id", sa.String(36), primary_key=True),
    sa.Column("nominal", UTCDateTime(), primary_key=True),
    sa.Column("run_at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("tree_id", sa.String(36), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(f"status IN ({FIRE_STATUSES})", name="taskflow_fires_status_check"),
    sa.Index("taskflow_fires_status", "schedule_id", "status"),
    sa.Index("taskflow_fires_recorded", "recorded_at"),
)

#: The HTTP API's keys (`taskflow.storage.api_keys.ApiKeyRecord`): the hash of each key, never
#: the key; the prefix finds the row.
api_keys = sa.Table(
    "taskflow_api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("scopes", json_column(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index("taskflow_api_keys_user", "user_id"),
)
