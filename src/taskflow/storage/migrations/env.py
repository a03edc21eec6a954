"""Alembic environment: runs on the connection taskflow hands over (taskflow.storage.migrate)."""

from __future__ import annotations

from alembic import context

from taskflow.storage.codec import VERSION_TABLE
from taskflow.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run taskflow migrations with `taskflow db upgrade`, not the alembic command"
    )
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
