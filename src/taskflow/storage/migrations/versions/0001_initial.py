"""The tasks table.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskflow.storage.schema import UTCDateTime, json_column

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taskflow_tasks",
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
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')",
            name="taskflow_tasks_status_check",
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 3", name="taskflow_tasks_priority_check"),
        sa.UniqueConstraint("tree_id", "key", name="taskflow_tasks_tree_key"),
    )
    op.create_index("taskflow_tasks_parent", "taskflow_tasks", ["parent_id"])
    op.create_index("taskflow_tasks_user_created", "taskflow_tasks", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("taskflow_tasks")
