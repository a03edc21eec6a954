"""Schedules: the schedules table, and one row per fire time (keyed by schedule and time).

Revision ID: 0004_schedules
Revises: 0003_tree_records
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskflow.storage.schema import FIRE_STATUSES, UTCDateTime, json_column

revision = "0004_schedules"
down_revision = "0003_tree_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taskflow_schedules",
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
    )
    op.create_index("taskflow_schedules_due", "taskflow_schedules", ["next_fire_at"])
    op.create_table(
        "taskflow_schedule_fires",
        sa.Column("schedule_id", sa.String(36), primary_key=True),
        sa.Column("nominal", UTCDateTime(), primary_key=True),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tree_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"status IN ({FIRE_STATUSES})", name="taskflow_fires_status_check"),
    )
    op.create_index("taskflow_fires_status", "taskflow_schedule_fires", ["schedule_id", "status"])
    op.create_index("taskflow_fires_recorded", "taskflow_schedule_fires", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("taskflow_schedule_fires")
    op.drop_table("taskflow_schedules")
