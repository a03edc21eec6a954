"""A rate limit shared by two orchestrating processes through Redis: the achieved rate, measured."""

from __future__ import annotations

import pytest
from celery_workers import Worker
from test_celery_backend import celery_manager, one_tree_each

from taskflow.backends.celery import CelerySettings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_two_orchestrators_share_one_rate_limit(
    postgres_url: str, celery_settings: CelerySettings, two_workers: list[Worker]
) -> None:
    managers = [
        celery_manager(postgres_url, celery_settings, rate_limits={"ct.noop": "10/s"})
        for _ in range(2)
    ]

    children = [{"key": f"t{i}", "executor": "ct.noop"} for i in range(10)]
    tasks = await one_tree_each(managers, children)
    assert all(t.status.value == "completed" for t in tasks)
    starts = sorted(t.started_at for t in tasks)
    rate = (len(starts) - 1) / (starts[-1] - starts[0]).total_seconds()
    assert 8.0 <= rate <= 10.5  # one limit for both (each alone would have started 10/s)
