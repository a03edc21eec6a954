"""`ApiKeyStore` on SQL (SQLAlchemy Core): rows of ``taskflow_api_keys``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from taskflow.storage.api_keys import ApiKeyRecord, ApiKeyStore
from taskflow.storage.schema import api_keys

Connect = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        prefix=row.prefix,
        hash=row.hash,
        name=row.name,
        user_id=row.user_id,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class SqlApiKeyStore(ApiKeyStore):
    """Reads through ``read``, writes in a write transaction of their own."""

    def __init__(self, read: Connect, write: Connect) -> None:
        self._read = read
        self._write = write

    async def add(self, key: ApiKeyRecord) -> None:
        """Insert the row."""
        values = {
            "id": key.id,
            "prefix": key.prefix,
            "hash": key.hash,
            "name": key.name,
            "user_id": key.user_id,
            "scopes": list(key.scopes),
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        async with self._write() as conn:
            await conn.execute(api_keys.insert().values(**values))

    async def by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        """One row by its unique prefix."""
        async with self._read() as conn:
            row = (
                await conn.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix))
            ).first()
        return _record(row) if row is not None else None

    async def list(self, *, user_id: str | None = None) -> list[ApiKeyRecord]:
        """Rows, oldest first."""
        stmt = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if user_id is not None:
            stmt = stmt.where(api_keys.c.user_id == user_id)
        async with self._read() as conn:
            return [_record(row) for row in await conn.execute(stmt)]

    async def revoke(self, key_id_or_prefix: str, now: datetime) -> ApiKeyRecord | None:
        """Set ``revoked_at`` where it is not set; return the row."""
        match = sa.or_(api_keys.c.id == key_id_or_prefix, api_keys.c.prefix == key_id_or_prefix)
        async with self._write() as conn:
            await conn.execute(
                api_keys.update()
                .where(match, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = (await conn.execute(sa.select(api_keys).where(match))).first()
        return _record(row) if row is not None else None

    async def count(self) -> int:
        """How many rows."""
        async with self._read() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(api_keys))).scalar_one()
            )
