"""`RedisRateLimiter`: rate limits kept in Redis, shared by every orchestrating process."""

from __future__ import annotations

from typing import Any

from taskflow.backends.celery.protocol import Keys
from taskflow.backends.rates import RateLimiter

#: Reserve the next start of a bucket on Redis's own clock (every orchestrator agrees on it).
RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local start = tonumber(redis.call('GET', KEYS[1]) or '0')
if start < now then start = now end
local interval = tonumber(ARGV[1])
local expiry = math.ceil((start + interval - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', start + interval), 'PX', expiry)
return string.format('%.6f', start - now)
"""


class RedisRateLimiter(RateLimiter):
    """Reservations in Redis (one key per bucket, under the backend's prefix).

    Args:
        redis: An asyncio Redis client (``decode_responses``).
        keys: The backend's keys.
    """

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def reserve(self, bucket: str, interval: float) -> float:
        """Reserve the next start of ``bucket``; the seconds until it."""
        delay = await self.redis.eval(RESERVE_SCRIPT, 1, self.keys.rate(bucket), repr(interval))
        return max(float(delay), 0.0)
