"""An executor's concurrency limit holds across orchestrating processes (permits in Redis)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from celery_workers import Worker
from test_celery_backend import celery_manager, one_tree_each

from taskflow.backends.celery import CelerySettings
from taskflow.backends.celery.app import async_redis_client
from taskflow.backends.celery.permits import RedisPermits
from taskflow.backends.celery.protocol import Keys

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_two_orchestrators_share_one_concurrency_limit(
    postgres_url: str,
    celery_settings: CelerySettings,
    two_workers: list[Worker],
    redis_client: Any,
) -> None:
    managers = [
        celery_manager(postgres_url, celery_settings, executor_limits={"ct.span": 1})
        for _ in range(2)
    ]

    children = [
        {"key": f"s{i}", "executor": "ct.span", "inputs": {"seconds": 0.3}} for i in range(3)
    ]
    tasks = await one_tree_each(managers, children)
    assert all(t.status.value == "completed" for t in tasks), [t.error for t in tasks]
    spans = sorted((t.result["began"], t.result["ended"]) for t in tasks)
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert not overlaps  # one at a time over both orchestrators and both workers
    left = redis_client.zrange(f"{celery_settings.key_prefix}:permits:executor:ct.span", 0, -1)
    assert left == []  # every permit was given back


async def test_permits_expire_unless_renewed_and_a_successor_takes_them_again(
    celery_settings: CelerySettings, redis_client: Any
) -> None:
    keys = Keys(celery_settings.key_prefix)
    first = RedisPermits(async_redis_client(celery_settings), keys, seconds=1.0)
    second = RedisPermits(async_redis_client(celery_settings), keys, seconds=1.0)
    try:
        assert await first.try_take("executor:x", "t1", 2)
        assert await first.try_take("executor:x", "t1", 2)  # held already: still one
        assert await second.try_take("executor:x", "t2", 2)
        assert not await second.try_take("executor:x", "t3", 2)  # two held
        await asyncio.sleep(1.5)  # renewed every third of a second by their holders
        assert not await second.try_take("executor:x", "t3", 2)
        await first.close()  # its process "dies": t1 is no longer renewed
        await asyncio.sleep(1.3)
        assert await second.try_take("executor:x", "t3", 2)  # t1 expired
        await second.take("executor:x", "t1")  # a successor follows t1's attempt: over the limit
        held = redis_client.zrange(f"{celery_settings.key_prefix}:permits:executor:x", 0, -1)
        assert sorted(held) == ["t1", "t2", "t3"]
        for holder in ("t1", "t2", "t3"):
            await second.release("executor:x", holder)
        assert await second.try_take("executor:x", "t4", 1)
    finally:
        await first.close()
        await second.close()
        await first.redis.aclose()
        await second.redis.aclose()
