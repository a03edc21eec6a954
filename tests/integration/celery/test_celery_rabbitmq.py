"""RabbitMQ as the Celery broker (Redis still carries streams, claims and heartbeats): the
same tree runs over two real workers, and closing orchestrators does not pile up broker
connections."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

import pytest
from celery_workers import environment, workers
from services import service_unavailable
from test_celery_backend import celery_manager

from taskflow.backends.celery import CelerySettings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
AMQP_URL = os.environ.get("TASKFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def rabbitmq_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's own prefix and queue, on RabbitMQ (or skip/fail when it does not answer)."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        service_unavailable("RabbitMQ", f"{AMQP_URL}: {exc}")
    tag = uuid.uuid4().hex[:8]
    env = environment(redis_url, prefix=f"tftest-{tag}", queue=f"tftest-{tag}")
    env["TASKFLOW_CELERY_BROKER_URL"] = AMQP_URL
    for name, value in env.items():
        if name != "PYTHONPATH":
            monkeypatch.setenv(name, value)
    return env


def _broker_sockets() -> int:
    """This process's TCP connections to port 5672."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        inodes = {row.split()[9] for row in rows if row.split()[2].endswith(":1628")}
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                count += 1
    return count


async def test_a_tree_over_rabbitmq(postgres_url: str, rabbitmq_env: dict[str, str]) -> None:
    settings = CelerySettings.from_env(rabbitmq_env)
    children = [{"key": f"t{i}", "executor": "ct.noop", "inputs": {"n": i}} for i in range(40)]
    counts: list[int] = []
    with workers(rabbitmq_env, rabbitmq_env["TASKFLOW_CELERY_QUEUE"]):
        for round_ in range(3):
            manager = celery_manager(postgres_url, settings)
            try:
                tree = await asyncio.wait_for(
                    manager.run_tree({"name": f"amqp-{round_}", "children": children}), 60
                )
            finally:
                await manager.close()
            tasks: list[Any] = [n.task for n in tree.walk() if n.task.executor == "ct.noop"]
            assert len(tasks) == 40
            assert all(t.status.value == "completed" for t in tasks), [t.error for t in tasks]
            assert len({n.result["pid"] for n in tree.walk() if n.task.executor}) == 2
            counts.append(_broker_sockets())
    # kombu keeps one pool of broker connections per process, reused by the next backend:
    # closed orchestrators leave no more connections behind than the first one used
    assert 0 < counts[-1] <= counts[0], counts
