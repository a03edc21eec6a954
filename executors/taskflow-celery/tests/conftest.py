"""The kit's fixtures, a Redis database of the tests' own, and one real Celery worker.

Tests that need Redis skip when it does not answer, and fail instead when
``TASKFLOW_REQUIRE_SERVICES=1`` (as CI sets). The worker (tests/celery_test_app.py) consumes a
queue of this test session's own; every task id is unique, so runs sharing the Redis
database do not meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from taskflow_celery.testing import WorkerProcess, celery_worker, redis_or_skip

pytest_plugins = ["taskflow.testing"]

TESTS = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("TASKFLOW_TEST_CELERY_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The tests' Redis database (or skip/fail)."""
    redis_or_skip(REDIS_URL)
    return REDIS_URL


@pytest.fixture(scope="session")
def worker_env(redis_url: str) -> dict[str, str]:
    """Broker, result backend and stream Redis, as both sides read them from the environment."""
    return {
        "TASKFLOW_REDIS_URL": redis_url,
        "TASKFLOW_CELERY_BROKER_URL": redis_url,
        "TASKFLOW_CELERY_RESULT_BACKEND": redis_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }


@pytest.fixture(scope="session")
def worker(redis_url: str, worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """A real ``celery worker`` (prefork, 2 processes) on a queue of this session's own."""
    queue = f"taskflow-celery-tests-{uuid.uuid4().hex[:8]}"
    with celery_worker(
        "celery_test_app",
        queue=queue,
        broker_url=redis_url,
        env=worker_env,
        cwd=TESTS,
        concurrency=2,
    ) as running:
        yield running


@pytest.fixture
def celery_env(monkeypatch: pytest.MonkeyPatch, worker_env: dict[str, str]) -> None:
    """The executor's defaults point at the tests' Redis database."""
    for name, value in worker_env.items():
        if name.startswith("TASKFLOW_"):
            monkeypatch.setenv(name, value)
