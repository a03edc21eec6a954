"""Rate limiters: when may the next attempt of a limited kind start?

A limiter hands out *reservations*: each call reserves the next start time of one bucket
(``global``, ``executor:ID``) and says how long to wait for it — evenly spaced starts, one per
`RateLimit.interval` (the generic cell rate algorithm with no burst). The engine holds a task
back that long without a concurrency slot. `MemoryRateLimiter` serves one process; the Celery
backend's limiter keeps the same state in Redis, shared by every orchestrating process.
"""

from __future__ import annotations

import abc
import time


class RateLimiter(abc.ABC):
    """Reserves start times, per bucket."""

    @abc.abstractmethod
    async def reserve(self, bucket: str, interval: float) -> float:
        """Reserve the next start of ``bucket`` (starts ``interval`` seconds apart); the
        seconds to wait until it (0: now)."""


class MemoryRateLimiter(RateLimiter):
    """The limiter of one process (the local backend's)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    async def reserve(self, bucket: str, interval: float) -> float:
        """Reserve the next start of ``bucket``; the seconds until it."""
        now = time.monotonic()
        start = max(self._next.get(bucket, now), now)
        self._next[bucket] = start + interval
        return start - now


__all__ = ["MemoryRateLimiter", "RateLimiter"]
