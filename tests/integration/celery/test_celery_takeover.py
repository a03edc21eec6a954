"""kill -9 of the orchestrating process: its successor follows the attempts still running or
finished on workers instead of running them again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import pytest
from celery_workers import SUPPORT, Worker
from test_celery_backend import celery_manager
from test_celery_failures import wait_for_count

from taskflow.backends.celery import CelerySettings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_kill_9_of_the_orchestrator_then_takeover(
    postgres_url: str,
    celery_settings: CelerySettings,
    celery_env: dict[str, str],
    two_workers: list[Worker],
    redis_client: Any,
) -> None:
    prefix = celery_settings.key_prefix
    children = [
        {"key": "quick", "executor": "ct.noop", "inputs": {"counter": f"{prefix}:quick"}},
        {
            "key": "slow",
            "executor": "ct.unsafe",  # a re-run would fail it (NotRerunSafe): it must be followed
            "inputs": {"counter": f"{prefix}:slow", "seconds": 4},
            "dependencies": ["quick"],
        },
        {
            "key": "long",
            "executor": "ct.sleep",
            "inputs": {"counter": f"{prefix}:long", "seconds": 3},
        },
        {
            "key": "last",
            "executor": "ct.noop",
            "inputs": {"counter": f"{prefix}:last"},
            "dependencies": ["slow", "long"],
        },
    ]
    orchestrator = await asyncio.create_subprocess_exec(
        sys.executable, str(SUPPORT / "celery_orchestrator.py"), postgres_url,
        json.dumps({"name": "taken-over", "children": children}),
        env={**os.environ, **celery_env},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert orchestrator.stdout is not None
        line = await asyncio.wait_for(orchestrator.stdout.readline(), 30)
        tree_id = line.decode().strip()
        await wait_for_count(redis_client, f"{prefix}:slow", 1)
        await wait_for_count(redis_client, f"{prefix}:long", 1)
    finally:
        orchestrator.send_signal(signal.SIGKILL)
        await orchestrator.wait()
    manager = celery_manager(postgres_url, celery_settings)
    try:
        resumed = await manager.resume()
        assert tree_id in resumed
        tree = await asyncio.wait_for(manager.wait(tree_id), 60)
    finally:
        await manager.close()
    tasks = {n.task.key: n.task for n in tree.walk()}
    assert {k: t.status.value for k, t in tasks.items() if k != tree.task.key} == {
        "quick": "completed", "slow": "completed", "long": "completed", "last": "completed",
    }  # fmt: skip
    for key in ("quick", "slow", "long", "last"):
        assert int(redis_client.get(f"{prefix}:{key}")) == 1, key  # none ran twice
        assert tasks[key].attempt == 1, key
