"""Optional JWT bearer tokens (PyJWT, the ``jwt`` extra): the user from ``sub``.

When `ApiSettings.jwt_key` is set, a bearer token that is not an API key is read as a JWT:
verified with that key (an HMAC secret, or a PEM public key for RS/ES algorithms) and
``jwt_algorithms``, with ``exp`` required, and ``aud``/``iss`` checked when set. Its scopes
are the ``scope`` claim (space-separated, as OAuth 2 writes them; default ``read write``).
"""

from __future__ import annotations

from typing import Any

from taskflow.api.settings import ApiSettings
from taskflow.exceptions import ConfigurationError
from taskflow.storage.api_keys import DEFAULT_SCOPES, SCOPES


def _jwt() -> Any:
    try:
        import jwt
    except ImportError as exc:
        raise ConfigurationError(
            "JWT bearer tokens need PyJWT: pip install 'taskflow[jwt]'"
        ) from exc
    return jwt


def read_token(token: str, settings: ApiSettings) -> tuple[str, tuple[str, ...]] | None:
    """The user and scopes of a valid token, or ``None`` (expired, bad signature, no
    ``sub``, or JWT not configured)."""
    if not settings.jwt_key:
        return None
    jwt = _jwt()
    options = {"require": ["exp", "sub"]}
    try:
        claims = jwt.decode(
            token,
            settings.jwt_key,
            algorithms=list(settings.jwt_algorithms),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options=options,
        )
    except jwt.PyJWTError:
        return None
    user = claims.get("sub")
    if not isinstance(user, str) or not user:
        return None
    raw = claims.get("scope")
    wanted = raw.split() if isinstance(raw, str) else list(DEFAULT_SCOPES)
    return user, tuple(s for s in SCOPES if s in wanted)


__all__ = ["read_token"]
