"""Per-key rate limits: token buckets for reads and writes, a count of open streams.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; each request takes
one. An empty bucket answers 429 with ``Retry-After``: the whole seconds until a token is
there again.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

from taskflow.api.problems import Problem
from taskflow.api.settings import ApiSettings

Clock = Callable[[], float]


@dataclasses.dataclass(slots=True)
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second."""

    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """Take a token; return 0 if there was one, else the seconds until there is."""
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimits:
    """The buckets of every key (by key id), and the streams each has open.

    Args:
        settings: The rates, bursts and stream limit.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(self, settings: ApiSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._streams: dict[str, int] = {}

    def check(self, key_id: str, kind: str) -> None:
        """Take a ``read`` or ``write`` token for the key.

        Raises:
            Problem: 429 with ``Retry-After`` when the bucket is empty.
        """
        bucket = self._buckets.get((key_id, kind))
        if bucket is None:
            s = self.settings
            rate, burst = (
                (s.read_rate, s.read_burst) if kind == "read" else (s.write_rate, s.write_burst)
            )
            bucket = self._buckets[(key_id, kind)] = TokenBucket(rate, burst)
        wait = bucket.take(self._clock())
        if wait > 0:
            raise too_many(f"the {kind} rate limit of this key is reached", wait)

    def open_stream(self, key_id: str) -> None:
        """Count an event stream opened by the key.

        Raises:
            Problem: 429 when the key has ``max_streams`` open already.
        """
        count = self._streams.get(key_id, 0)
        if count >= self.settings.max_streams:
            raise too_many(
                f"this key has {count} event streams open (at most {self.settings.max_streams})",
                self.settings.ping_seconds,
            )
        self._streams[key_id] = count + 1

    def close_stream(self, key_id: str) -> None:
        """Count an event stream of the key closed."""
        count = self._streams.get(key_id, 0) - 1
        if count > 0:
            self._streams[key_id] = count
        else:
            self._streams.pop(key_id, None)


def too_many(detail: str, wait_seconds: float) -> Problem:
    """429 with ``Retry-After`` (whole seconds, at least 1)."""
    retry_after = max(1, math.ceil(wait_seconds))
    return Problem(
        429,
        "rate-limited",
        "Too many requests",
        detail,
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


__all__ = ["RateLimits", "TokenBucket", "too_many"]
