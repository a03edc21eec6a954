"""Execution control: timeouts, retries and attempt history, cancel requests, deadlines,
the event log and the signals that ``notify`` sends to waiting tasks.

Revision ID: 0002_execution_control
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskflow.storage.schema import UTCDateTime, json_column

revision = "0002_execution_control"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

NEW_TASK_COLUMNS = (
    ("attempts", json_column),
    ("timeout", sa.Float),
    ("soft_timeout", sa.Float),
    ("retry", json_column),
    ("retry_at", UTCDateTime),
    ("cancel_requested", sa.Text),
    ("deadline_at", UTCDateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("taskflow_tasks") as batch:
        for name, column_type in NEW_TASK_COLUMNS:
            batch.add_column(sa.Column(name, column_type(), nullable=True))
    op.create_index(
        "taskflow_tasks_leased",
        "taskflow_tasks",
        ["lease_expires_at"],
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
    )
    op.create_table(
        "taskflow_events",
        sa.Column("tree_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", json_column(), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "taskflow_signals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("data", json_column(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("taskflow_signals_task_key", "taskflow_signals", ["task_id", "key"])


def downgrade() -> None:
    op.drop_table("taskflow_signals")
    op.drop_table("taskflow_events")
    op.drop_index("taskflow_tasks_leased", table_name="taskflow_tasks")
    with op.batch_alter_table("taskflow_tasks") as batch:
        for name, _ in reversed(NEW_TASK_COLUMNS):
            batch.drop_column(name)
