"""`ApiKeyStore`: the HTTP API's keys — stored hashed, with a visible prefix, an owner, scopes.

A key is shown once, when it is made; the database keeps only its SHA-256 hash (a key is 32
random bytes: a fast hash is enough, there is nothing to guess), the prefix that finds the
row, and who it belongs to. Revoking sets ``revoked_at``: the row stays, for the record.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from taskflow.exceptions import ConfigurationError
from taskflow.models import utcnow

#: What a key may do: ``read`` (GET), ``write`` (POST, DELETE), ``admin`` (everything, every
#: user's trees).
SCOPES = ("read", "write", "admin")
DEFAULT_SCOPES = ("read", "write")
KEY_START = "tf_"
_PREFIX_HEX = 8  # hex characters of the visible prefix after "tf_"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """One API key as stored (never the key itself).

    Attributes:
        id: The key's id (a uuid4 string).
        prefix: The visible start of the key, unique (``tf_1a2b3c4d``): it finds the row and
            tells keys apart in listings and logs.
        hash: The hex SHA-256 of the whole key.
        name: What it is for (``ci``).
        user_id: Whose trees it sees and creates.
        scopes: ``read``, ``write``, ``admin`` (admin sees every user's trees).
        created_at: When it was made.
        revoked_at: When it was revoked (``None``: it works).
    """

    id: str
    prefix: str
    hash: str
    name: str
    user_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the hash."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "user_id": self.user_id,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class ApiKeyStore(abc.ABC):
    """The HTTP API's keys."""

    @abc.abstractmethod
    async def add(self, key: ApiKeyRecord) -> None:
        """Store a new key (its prefix must be new)."""

    @abc.abstractmethod
    async def by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        """The key with this prefix, revoked or not, or ``None``."""

    @abc.abstractmethod
    async def list(self, *, user_id: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one user), oldest first."""

    @abc.abstractmethod
    async def revoke(self, key_id_or_prefix: str, now: datetime) -> ApiKeyRecord | None:
        """Revoke the key with this id or prefix; return it (``None``: no such key)."""

    @abc.abstractmethod
    async def count(self) -> int:
        """How many keys there are, revoked or not."""


class MemoryApiKeyStore(ApiKeyStore):
    """Keys in a dict (in-memory storage)."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKeyRecord] = {}

    async def add(self, key: ApiKeyRecord) -> None:
        """Store a new key."""
        if any(k.prefix == key.prefix for k in self._keys.values()):
            raise ValueError(f"the key prefix {key.prefix!r} is taken")
        self._keys[key.id] = key

    async def by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        """The key with this prefix."""
        return next((k for k in self._keys.values() if k.prefix == prefix), None)

    async def list(self, *, user_id: str | None = None) -> list[ApiKeyRecord]:
        """Keys, oldest first."""
        found = [k for k in self._keys.values() if user_id is None or k.user_id == user_id]
        return sorted(found, key=lambda k: (k.created_at, k.id))

    async def revoke(self, key_id_or_prefix: str, now: datetime) -> ApiKeyRecord | None:
        """Set ``revoked_at`` (kept if it was revoked already)."""
        found = next((k for k in self._keys.values() if key_id_or_prefix in (k.id, k.prefix)), None)
        if found is not None and found.revoked_at is None:
            found = self._keys[found.id] = dataclasses.replace(found, revoked_at=now)
        return found

    async def count(self) -> int:
        """How many keys."""
        return len(self._keys)


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str | None:
    """The visible prefix of a key (``tf_1a2b3c4d``), or ``None`` if it is not shaped like
    one."""
    if not key.startswith(KEY_START):
        return None
    prefix, sep, secret = key[len(KEY_START) :].partition("_")
    if not sep or len(prefix) != _PREFIX_HEX or not secret:
        return None
    return KEY_START + prefix


def matches(key: str, record: ApiKeyRecord) -> bool:
    """Whether ``key`` is the key ``record`` was made for (a constant-time comparison)."""
    return hmac.compare_digest(hash_key(key), record.hash)


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes``, deduplicated in their canonical order.

    Raises:
        ConfigurationError: an unknown scope (the known ones are named).
    """
    wanted = set(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ConfigurationError(
            f"unknown scope(s) {', '.join(unknown)} (known: {', '.join(SCOPES)})"
        )
    return tuple(s for s in SCOPES if s in wanted)


async def issue_key(
    store: ApiKeyStore, *, user_id: str, name: str, scopes: Iterable[str] = DEFAULT_SCOPES
) -> tuple[str, ApiKeyRecord]:
    """Make a key for ``user_id`` and store its hash; return the key (shown once: it is not
    kept) and its record.

    Raises:
        ConfigurationError: an empty user or name, or an unknown scope.
    """
    if not user_id.strip() or not name.strip():
        raise ConfigurationError("an API key needs a user and a name")
    chosen = check_scopes(scopes)
    if not chosen:
        raise ConfigurationError(f"an API key needs at least one scope ({', '.join(SCOPES)})")
    prefix = KEY_START + secrets.token_hex(_PREFIX_HEX // 2)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(
        id=str(uuid.uuid4()),
        prefix=prefix,
        hash=hash_key(key),
        name=name,
        user_id=user_id,
        scopes=chosen,
        created_at=utcnow(),
    )
    await store.add(record)
    return key, record


__all__ = [
    "DEFAULT_SCOPES",
    "SCOPES",
    "ApiKeyRecord",
    "ApiKeyStore",
    "MemoryApiKeyStore",
    "check_scopes",
    "hash_key",
    "issue_key",
    "matches",
    "prefix_of",
]
