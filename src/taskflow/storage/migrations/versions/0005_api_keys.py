"""API keys: the HTTP API's keys, stored hashed, with a visible prefix, owner and scopes.

Revision ID: 0005_api_keys
Revises: 0004_schedules
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskflow.storage.schema import UTCDateTime, json_column

revision = "0005_api_keys"
down_revision = "0004_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taskflow_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("scopes", json_column(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("taskflow_api_keys_user", "taskflow_api_keys", ["user_id"])


def downgrade() -> None:
    op.drop_table("taskflow_api_keys")
