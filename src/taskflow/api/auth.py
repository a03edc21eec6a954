"""Who is calling: API keys from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.

Optional JWT bearer tokens (`taskflow.api.tokens`) are accepted when a key is configured.
Keys are looked up by their visible prefix and compared by hash in constant time (see
`taskflow.storage.api_keys`); a key is never logged, only its prefix. Every route but the
open ones (health, the OpenAPI document, the reference page) needs a key; a ``GET`` needs
the ``read`` scope, anything else ``write``, and ``admin`` allows all and sees every user's
trees.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time

from aiohttp import web

from taskflow.api.context import LIMITS, MANAGER, SETTINGS
from taskflow.api.dashboard import is_public
from taskflow.api.problems import Handler, Problem
from taskflow.storage.api_keys import ApiKeyRecord, ApiKeyStore, hash_key, matches, prefix_of

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/"})
CHALLENGE = 'Bearer realm="taskflow"'


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """The caller: whose trees it sees, with which scopes, through which key.

    Attributes:
        user_id: The user the key belongs to.
        scopes: What the key may do.
        key_id: The key's id (rate limits are per key).
        prefix: The key's visible prefix (for logs).
    """

    user_id: str
    scopes: tuple[str, ...]
    key_id: str
    prefix: str

    @property
    def is_admin(self) -> bool:
        """Whether it sees and controls every user's trees."""
        return "admin" in self.scopes

    def allows(self, scope: str) -> bool:
        """Whether the key has ``scope`` (admin has every scope)."""
        return self.is_admin or scope in self.scopes

    def sees(self, user_id: str | None) -> bool:
        """Whether a tree owned by ``user_id`` is visible to the caller."""
        return self.is_admin or user_id == self.user_id


#: The caller of an unauthenticated server (``auth`` off): an admin named ``anonymous``.
ANONYMOUS = Principal("anonymous", ("read", "write", "admin"), "anonymous", "-")
#: The caller of the request being handled (each request is handled in a task of its own).
_PRINCIPAL: contextvars.ContextVar[Principal] = contextvars.ContextVar("taskflow_principal")


def unauthorized(detail: str, error: str = "invalid_token") -> Problem:
    """401 with the ``WWW-Authenticate`` challenge."""
    return Problem(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": f'{CHALLENGE}, error="{error}"'},
    )


def presented_key(request: web.Request) -> str | None:
    """The key the request carries, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("X-API-Key", "").strip()
    return key or None


def scope_of(request: web.Request) -> str:
    """The scope a request needs."""
    return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"


class KeyCache:
    """Keys checked recently (by their hash), so that a burst of requests with one key reads
    the database once per ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._seen: dict[str, tuple[float, ApiKeyRecord | None]] = {}

    async def lookup(self, key: str, store: ApiKeyStore) -> ApiKeyRecord | None:
        """The record of ``key`` (``None``: no such key, or a mismatch)."""
        digest = hash_key(key)
        now = time.monotonic()
        seen = self._seen.get(digest)
        if seen is not None and seen[0] > now:
            return seen[1]
        prefix = prefix_of(key)
        record = await store.by_prefix(prefix) if prefix else None
        if record is not None and not matches(key, record):
            record = None
        if self.seconds > 0:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[digest] = (now + self.seconds, record)
        return record


KEYS = web.AppKey("keys", KeyCache)


async def authenticate(request: web.Request) -> Principal:
    """The principal for the request's key.

    Raises:
        Problem: 401 for a missing, unknown or revoked key; 403 for a missing scope.
    """
    key = presented_key(request)
    if key is None:
        raise Problem(
            401,
            "unauthorized",
            "Unauthorized",
            "this request needs an API key: Authorization: Bearer KEY, or X-API-Key: KEY",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    if prefix_of(key) is None and request.app[SETTINGS].jwt_key:
        return _token_principal(request, key)
    record = await request.app[KEYS].lookup(key, request.app[MANAGER].storage.api_keys)
    if record is None:
        raise unauthorized("the API key is not valid")
    if record.is_revoked:
        raise unauthorized(f"the API key {record.prefix} was revoked")
    return _allowed(request, Principal(record.user_id, record.scopes, record.id, record.prefix))


def _token_principal(request: web.Request, token: str) -> Principal:
    from taskflow.api.tokens import read_token

    found = read_token(token, request.app[SETTINGS])
    if found is None:
        raise unauthorized("the bearer token is not a valid API key or JWT")
    user, scopes = found
    return _allowed(request, Principal(user, scopes, f"jwt:{user}", f"jwt:{user}"))


def _allowed(request: web.Request, principal: Principal) -> Principal:
    if not principal.allows(scope_of(request)):
        raise Problem(
            403,
            "forbidden",
            "Forbidden",
            f"the key {principal.prefix} lacks the {scope_of(request)!r} scope",
        )
    return principal


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the caller (or refuse) and take a rate-limit token for it."""
    if request.path in OPEN_PATHS or is_public(request.path):
        return await handler(request)
    settings = request.app[SETTINGS]
    principal = await authenticate(request) if settings.auth else ANONYMOUS
    _PRINCIPAL.set(principal)
    request.app[LIMITS].check(principal.key_id, scope_of(request))
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    """The caller of an authenticated request."""
    del request  # the caller is the one of the task handling it
    return _PRINCIPAL.get()


__all__ = ["ANONYMOUS", "OPEN_PATHS", "Principal", "authentication", "principal_of"]
