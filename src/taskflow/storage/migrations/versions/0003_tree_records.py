"""Tree records: a table of trees with their rolled-up status and fenced lease; signals that
carry cancel requests too; workers; the waiting state and last message of tasks.

Existing databases are migrated: one tree record per root task, its status rolled up from all
the tree's tasks and its lease taken from the root; signals get their tree; pending cancel
requests become cancel signals; a group's stored result (a copy of its children's) is dropped.

Revision ID: 0003_tree_records
Revises: 0002_execution_control
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from taskflow.models import TaskStatus, rolled_up_status, utcnow
from taskflow.storage.schema import TREE_STATUSES, UTCDateTime, json_column

revision = "0003_tree_records"
down_revision = "0002_execution_control"
branch_labels = None
depends_on = None

_tasks = sa.table(
    "taskflow_tasks",
    sa.column("id", sa.String),
    sa.column("tree_id", sa.String),
    sa.column("parent_id", sa.String),
    sa.column("name", sa.String),
    sa.column("user_id", sa.String),
    sa.column("status", sa.String),
    sa.column("executor", sa.String),
    sa.column("result", json_column()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("started_at", UTCDateTime()),
    sa.column("completed_at", UTCDateTime()),
    sa.column("deadline_at", UTCDateTime()),
    sa.column("lease_owner", sa.String),
    sa.column("lease_expires_at", UTCDateTime()),
    sa.column("cancel_requested", sa.Text),
)
_signals = sa.table(
    "taskflow_signals",
    sa.column("id", sa.Integer),
    sa.column("tree_id", sa.String),
    sa.column("task_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("key", sa.String),
    sa.column("data", json_column()),
    sa.column("created_at", UTCDateTime()),
)


def _create_tables() -> None:
    op.create_table(
        "taskflow_trees",
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
    )
    op.create_index("taskflow_trees_user_created", "taskflow_trees", ["user_id", "created_at"])
    op.create_index("taskflow_trees_status_created", "taskflow_trees", ["status", "created_at"])
    op.create_table(
        "taskflow_workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("trees", sa.Integer(), nullable=False),
    )


def _tree_rows(conn: sa.Connection) -> list[dict[str, Any]]:
    """One record per root, with the status rolled up from every task of its tree."""
    statuses: dict[str, set[TaskStatus]] = defaultdict(set)
    started: dict[str, Any] = {}
    finished: dict[str, Any] = {}
    query = sa.select(_tasks.c.tree_id, _tasks.c.status, _tasks.c.started_at, _tasks.c.completed_at)
    for tree_id, status, started_at, completed_at in conn.execute(query):
        statuses[tree_id].add(TaskStatus(status))
        if started_at is not None:
            started[tree_id] = min(started_at, started.get(tree_id, started_at))
        if completed_at is not None:
            finished[tree_id] = max(completed_at, finished.get(tree_id, completed_at))
    rows = []
    for root in conn.execute(sa.select(_tasks).where(_tasks.c.parent_id.is_(None))):
        status = rolled_up_status(statuses[root.id])
        rows.append(
            {
                "id": root.id,
                "name": root.name,
                "user_id": root.user_id,
                "status": status.value,
                "concurrency": None,
                "deadline_at": root.deadline_at,
                "created_at": root.created_at,
                "updated_at": root.updated_at,
                "started_at": started.get(root.id),
                "finished_at": finished.get(root.id) if status.is_finished else None,
                "lease_owner": None if status.is_finished else root.lease_owner,
                "lease_expires_at": None if status.is_finished else root.lease_expires_at,
                "lease_token": 1 if root.lease_owner else 0,
            }
        )
    return rows


def _migrate_data(conn: sa.Connection) -> None:
    trees = sa.table(
        "taskflow_trees",
        *(sa.column(c) for c in ("id", "name", "user_id", "status", "concurrency")),
        *(sa.column(c, UTCDateTime()) for c in ("deadline_at", "created_at", "updated_at")),
        *(sa.column(c, UTCDateTime()) for c in ("started_at", "finished_at")),
        sa.column("lease_owner"),
        sa.column("lease_expires_at", UTCDateTime()),
        sa.column("lease_token"),
    )
    rows = _tree_rows(conn)
    if rows:
        conn.execute(trees.insert(), rows)
    owner_of = sa.select(_tasks.c.tree_id).where(_tasks.c.id == _signals.c.task_id)
    conn.execute(_signals.update().values(tree_id=owner_of.scalar_subquery(), kind="notify"))
    conn.execute(_signals.delete().where(_signals.c.tree_id.is_(None)))  # orphans
    requested = sa.select(_tasks.c.id, _tasks.c.tree_id, _tasks.c.cancel_requested).where(
        _tasks.c.cancel_requested.is_not(None),
        _tasks.c.status.in_([TaskStatus.PENDING.value, TaskStatus.IN_PROGRESS.value]),
    )
    requests = [
        {
            "tree_id": tree_id,
            "task_id": task_id,
            "kind": "cancel",
            "key": reason,
            "data": None,
            "created_at": utcnow(),
        }
        for task_id, tree_id, reason in conn.execute(requested)
    ]
    if requests:
        conn.execute(_signals.insert(), requests)
    conn.execute(_tasks.update().where(_tasks.c.executor.is_(None)).values(result=None))


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("taskflow_signals") as batch:
        batch.add_column(sa.Column("tree_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("consumed_attempt", sa.Integer(), nullable=True))
    _migrate_data(op.get_bind())
    with op.batch_alter_table("taskflow_signals") as batch:
        batch.alter_column("tree_id", existing_type=sa.String(36), nullable=False)
        batch.alter_column("kind", existing_type=sa.String(16), nullable=False)
    op.create_index("taskflow_signals_tree", "taskflow_signals", ["tree_id", "consumed_at"])
    op.drop_index("taskflow_tasks_leased", table_name="taskflow_tasks")
    with op.batch_alter_table("taskflow_tasks") as batch:
        batch.drop_column("lease_owner")
        batch.drop_column("lease_expires_at")
        batch.drop_column("cancel_requested")
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("waiting", json_column(), nullable=True))
        batch.add_column(sa.Column("concurrency", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("taskflow_tasks") as batch:
        batch.drop_column("concurrency")
        batch.drop_column("waiting")
        batch.drop_column("message")
        batch.add_column(sa.Column("cancel_requested", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
    op.create_index(
        "taskflow_tasks_leased",
        "taskflow_tasks",
        ["lease_expires_at"],
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
    )
    op.drop_index("taskflow_signals_tree", table_name="taskflow_signals")
    with op.batch_alter_table("taskflow_signals") as batch:
        batch.drop_column("consumed_attempt")
        batch.drop_column("kind")
        batch.drop_column("tree_id")
    op.drop_table("taskflow_workers")
    op.drop_table("taskflow_trees")
