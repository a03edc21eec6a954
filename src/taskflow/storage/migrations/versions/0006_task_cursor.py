"""Task cursors: where the backend running a task's attempt elsewhere has reported it up to.

A nullable column, stored with the events of the reports it stands for, so that a manager
taking a tree over follows a remote attempt from there instead of from its beginning. Existing
tasks have none (an attempt in flight is then followed from its beginning, as before).

Revision ID: 0006_task_cursor
Revises: 0005_api_keys
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_task_cursor"
down_revision = "0005_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("taskflow_tasks") as batch:
        batch.add_column(sa.Column("cursor", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("taskflow_tasks") as batch:
        batch.drop_column("cursor")
