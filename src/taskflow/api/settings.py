"""`ApiSettings`: the HTTP API's limits and timings, with sensible defaults."""

from __future__ import annotations

import dataclasses

from taskflow.exceptions import ConfigurationError


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """How the HTTP API behaves.

    Attributes:
        auth: Whether requests need an API key (on by default; off only for a server that
            nobody else can reach).
        read_rate: Reads (``GET``) a key may make per second, on average.
        read_burst: Reads a key may make at once before the rate applies.
        write_rate: Writes (``POST``, ``DELETE``) a key may make per second, on average.
        write_burst: Writes a key may make at once.
        max_streams: Event streams a key may hold open at once.
        max_body_bytes: The largest request body accepted (413 beyond).
        max_tasks: The most tasks a submitted tree may have (413 beyond).
        page_limit: The most items one page of a listing holds.
        ping_seconds: Seconds between keep-alive comments on an idle event stream.
        key_cache_seconds: How long a checked API key is remembered (a key revoked
            elsewhere stops working within this time; 0: check every request).
        jwt_key: Accept JWT bearer tokens verified with this key (an HMAC secret, or a PEM
            public key); ``None``: API keys only. Needs the ``jwt`` extra.
        jwt_algorithms: The algorithms a token may be signed with.
        jwt_audience: The ``aud`` a token must carry, if set.
        jwt_issuer: The ``iss`` a token must carry, if set.
        trust: The trust profile trees submitted over HTTP run under (``server``: they come
            from others; see `taskflow.executors.trust`).
    """

    auth: bool = True
    read_rate: float = 50.0
    read_burst: int = 100
    write_rate: float = 5.0
    write_burst: int = 20
    max_streams: int = 10
    max_body_bytes: int = 1024 * 1024
    max_tasks: int = 10_000
    page_limit: int = 200
    ping_seconds: float = 15.0
    key_cache_seconds: float = 2.0
    jwt_key: str | None = dataclasses.field(default=None, repr=False)
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    trust: str = "server"

    def __post_init__(self) -> None:
        for name in ("read_rate", "write_rate", "ping_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"ApiSettings.{name} must be positive")
        for name in ("read_burst", "write_burst", "max_streams", "max_body_bytes", "max_tasks"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"ApiSettings.{name} must be at least 1")
