"""`RedisPermits`: concurrency permits kept in Redis, shared by every orchestrating process.

Each bucket is a sorted set of holders scored by when their permit expires (on Redis's own
clock). The process holding a permit renews it every third of `CelerySettings.permit_seconds`;
a permit whose holder's process died expires (its successor takes it again when it follows the
attempt), so that no permit is lost for good.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from taskflow.backends.celery.protocol import Keys
from taskflow.backends.permits import Permits

logger = logging.getLogger("taskflow.celery")

#: Take a permit for ARGV[1] if fewer than ARGV[2] are held (ARGV[2] < 0: whatever the count);
#: expired permits are dropped first. Returns 1 if ARGV[1] holds one now.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
if limit >= 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1])
    and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

#: Renew the permits of ARGV[2..] (those still held) for ARGV[1] milliseconds.
RENEW_SCRIPT = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class RedisPermits(Permits):
    """Permits in Redis (a sorted set per bucket, under the backend's prefix).

    Args:
        redis: An asyncio Redis client (``decode_responses``).
        keys: The backend's keys.
        seconds: How long a permit lives unless its holder's process renews it.
    """

    def __init__(self, redis: Any, keys: Keys, seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = max(int(seconds * 1000), 1000)
        self._held: dict[str, str] = {}  # holder -> bucket
        self._renewer: asyncio.Task[None] | None = None

    async def try_take(self, bucket: str, holder: str, limit: int) -> bool:
        """Take a permit if fewer than ``limit`` are held."""
        return await self._take(bucket, holder, limit)

    async def take(self, bucket: str, holder: str) -> None:
        """Take a permit whatever the limit."""
        await self._take(bucket, holder, -1)

    async def _take(self, bucket: str, holder: str, limit: int) -> bool:
        key = self.keys.permits(bucket)
        taken = bool(await self.redis.eval(TAKE_SCRIPT, 1, key, holder, limit, self.ttl_ms))
        if taken:
            self._held[holder] = bucket
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.ensure_future(self._renew())
        return taken

    async def release(self, bucket: str, holder: str) -> None:
        """Give the permit back."""
        self._held.pop(holder, None)
        await self.redis.zrem(self.keys.permits(bucket), holder)

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(self.ttl_ms / 3000)
            by_bucket: collections.defaultdict[str, list[str]] = collections.defaultdict(list)
            for holder, bucket in self._held.items():
                by_bucket[bucket].append(holder)
            try:
                pipe = self.redis.pipeline(transaction=False)
                for bucket, holders in by_bucket.items():
                    pipe.eval(RENEW_SCRIPT, 1, self.keys.permits(bucket), self.ttl_ms, *holders)
                await pipe.execute()
            except Exception:
                logger.exception("renewing %d concurrency permits failed", len(self._held))

    async def close(self) -> None:
        """Stop renewing (the permits still held expire in Redis)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
