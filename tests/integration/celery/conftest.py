"""Fixtures of the Celery backend tests: the tests' Redis database, a key prefix and a queue of
each test's own, the settings both sides read, and two real workers (``-c 1``).

They skip when Redis does not answer, and fail instead with ``TASKFLOW_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery_workers import Worker, environment, workers
from services import service_unavailable

from taskflow.backends.celery import CelerySettings

REDIS_URL = os.environ.get("TASKFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The tests' Redis database (or skip/fail)."""
    try:
        import redis
    except ImportError:
        service_unavailable("Redis", "redis-py is not installed (pip install 'taskflow[celery]')")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", f"{REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A client on the tests' database."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def celery_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's own prefix and queue, in this process's environment and the workers'."""
    tag = uuid.uuid4().hex[:8]
    env = environment(redis_url, prefix=f"tftest-{tag}", queue=f"tftest-{tag}")
    for name, value in env.items():
        if name != "PYTHONPATH":
            monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def celery_settings(celery_env: dict[str, str]) -> CelerySettings:
    """The settings the workers read (from the same variables)."""
    return CelerySettings.from_env(celery_env)


@pytest.fixture
def two_workers(celery_env: dict[str, str]) -> Iterator[list[Worker]]:
    """Two workers (``-c 1``) on the test's queue."""
    with workers(celery_env, celery_env["TASKFLOW_CELERY_QUEUE"]) as started:
        yield started
