"""Testing Celery tasks with taskflow: a real ``celery worker`` in a subprocess.

::

    from taskflow_celery.testing import celery_worker, redis_or_skip

    def test_my_task(tmp_path):
        redis_or_skip("redis://127.0.0.1:6379/15")
        with celery_worker("my_app", queue="tests-mine", broker_url="redis://127.0.0.1:6379/15"):
            ...  # run a tree whose celery.task steps send to queue "tests-mine"

The worker consumes only the queue given (use one of the test's own), and is stopped (warm
shutdown, then killed with its pool) at the end of the ``with``. The worker application reads
its broker from its own configuration: pass it in ``env`` (e.g. ``TASKFLOW_CELERY_BROKER_URL``)
when the application reads it from the environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 0.5
REQUIRE_SERVICES_VARIABLE = "TASKFLOW_REQUIRE_SERVICES"


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerProcess:
    """A running worker.

    Attributes:
        process: The ``celery worker`` process.
        nodename: Its node name (``name@host``), which answers pings.
        queue: The queue it consumes.
        log_path: Where its output goes.
    """

    process: subprocess.Popen[bytes]
    nodename: str
    queue: str
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the worker's output (for assertion messages)."""
        return self.log_path.read_text(errors="replace")[-chars:]


def redis_or_skip(url: str) -> None:
    """Skip the test when no Redis answers at ``url`` — or fail, when
    ``TASKFLOW_REQUIRE_SERVICES=1`` (as CI sets)."""
    import pytest
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.exceptions.RedisError as exc:
        message = f"Redis is not available at {url}: {exc}"
        if os.environ.get(REQUIRE_SERVICES_VARIABLE) == "1":
            pytest.fail(f"{message} ({REQUIRE_SERVICES_VARIABLE}=1)")
        pytest.skip(message)


@contextlib.contextmanager
def celery_worker(
    app: str,
    *,
    queue: str,
    broker_url: str,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    pool: str = "prefork",
    concurrency: int = 1,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> Iterator[WorkerProcess]:
    """Run ``celery -A APP worker`` on ``queue`` until the ``with`` ends.

    Returns once the worker answers a ping (through ``broker_url``).

    Args:
        app: The Celery application, as ``celery -A`` takes it (``module`` or ``module:app``).
        queue: The only queue it consumes.
        broker_url: The broker the application uses (to ping the worker).
        env: Environment variables for the worker, on top of this process's.
        cwd: Its working directory (where ``app`` is importable from).
        pool: ``prefork`` (revoke with ``terminate=True`` stops a running task), ``solo``
            or ``threads``.
        concurrency: Worker processes (or threads).
        ready_timeout: Seconds to wait for the first pong.

    Raises:
        AssertionError: the worker exited or did not answer in time (with its output).
    """
    name = f"taskflow-test-{uuid.uuid4().hex[:10]}"
    nodename = f"{name}@{socket.gethostname()}"
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "-c", str(concurrency), "-P", pool, "-Q", queue, "-n", nodename,
        "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO",
    ]  # fmt: skip
    handle, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool goes with it
        )
    worker = WorkerProcess(process, nodename, queue, Path(log_name))
    try:
        _wait_until_ready(worker, broker_url, ready_timeout)
        yield worker
    finally:
        _stop(process)
        with contextlib.suppress(OSError):
            worker.log_path.unlink()


def _wait_until_ready(worker: WorkerProcess, broker_url: str, timeout: float) -> None:
    from celery import Celery

    app = Celery("taskflow-celery-ping", broker=broker_url, set_as_current=False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise AssertionError(
                    f"celery worker exited with {worker.process.returncode}:\n{worker.log_tail()}"
                )
            replies = app.control.ping(destination=[worker.nodename], timeout=PING_TIMEOUT_SECONDS)
            if replies:
                return
        raise AssertionError(
            f"celery worker {worker.nodename} did not answer within {timeout:g} s:\n"
            f"{worker.log_tail()}"
        )
    finally:
        app.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL to the worker's process group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_SECONDS)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # pool processes left behind, if any
    process.wait()
