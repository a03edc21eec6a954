"""Real ``taskflow celery worker`` processes for the Celery backend tests.

Each worker consumes the test's own queue, with the test's own key prefix, on the tests' Redis
database; it is stopped (SIGTERM, then SIGKILL to its process group) at the end.
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

import psutil

READY_SECONDS = 60.0
SUPPORT = Path(__file__).resolve().parent


@dataclasses.dataclass
class Worker:
    """A running worker: its main process, node name and output."""

    process: subprocess.Popen[bytes]
    nodename: str
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of its output."""
        return self.log_path.read_text(errors="replace")[-chars:]

    def children(self) -> list[int]:
        """The pids of its pool processes."""
        with contextlib.suppress(psutil.NoSuchProcess):
            return [c.pid for c in psutil.Process(self.process.pid).children()]
        return []

    def stop(self) -> None:
        """Warm shutdown, then kill what is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def environment(redis_url: str, prefix: str, queue: str, **extra: str) -> dict[str, str]:
    """The variables both sides read their Celery settings from."""
    path = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    return {
        "TASKFLOW_CELERY_BROKER_URL": redis_url,
        "TASKFLOW_REDIS_URL": redis_url,
        "TASKFLOW_CELERY_KEY_PREFIX": prefix,
        "TASKFLOW_CELERY_QUEUE": queue,
        "TASKFLOW_CELERY_HEARTBEAT_SECONDS": "0.5",
        "TASKFLOW_CELERY_WORKER_LOST_SECONDS": "3",
        "TASKFLOW_CELERY_FORCE_MARGIN_SECONDS": "1",
        "TASKFLOW_IMPORT": "celery_executors",
        "PYTHONPATH": path,
        **extra,
    }


TASKFLOW_WORKER = [sys.executable, "-m", "taskflow.cli", "celery", "worker"]
#: The same worker, as Celery's own command starts it.
CELERY_WORKER = [
    sys.executable, "-m", "celery", "-A", "taskflow.celery", "worker",
    "--without-mingle", "--without-gossip",
]  # fmt: skip


def start(
    env: Mapping[str, str], queue: str, concurrency: int = 1, command: list[str] | None = None
) -> Worker:
    """Start ``taskflow celery worker -Q queue -c N`` (or ``command``; returns at once)."""
    name = f"tf-{uuid.uuid4().hex[:8]}"
    nodename = f"{name}@{socket.gethostname()}"
    command = [
        *(command or TASKFLOW_WORKER), "-Q", queue,
        "-c", str(concurrency), "-n", nodename, "--loglevel", "INFO",
    ]  # fmt: skip
    handle, log_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(process, nodename, Path(log_name))


def wait_ready(workers: list[Worker], broker_url: str, timeout: float = READY_SECONDS) -> None:
    """Return once every worker answers a ping."""
    from celery import Celery

    app = Celery("taskflow-test-ping", broker=broker_url, set_as_current=False)
    deadline = time.monotonic() + timeout
    waiting = {w.nodename: w for w in workers}
    try:
        while waiting and time.monotonic() < deadline:
            for worker in waiting.values():
                if worker.process.poll() is not None:
                    raise AssertionError(f"worker exited:\n{worker.log_tail()}")
            for reply in app.control.ping(destination=list(waiting), timeout=0.5):
                for node in reply:
                    waiting.pop(node, None)
        if waiting:
            tails = "\n".join(w.log_tail() for w in waiting.values())
            raise AssertionError(f"workers did not answer in {timeout:g} s:\n{tails}")
    finally:
        app.close()


@contextlib.contextmanager
def workers(
    env: Mapping[str, str], queue: str, count: int = 2, command: list[str] | None = None
) -> Iterator[list[Worker]]:
    """``count`` workers (``-c 1``) on ``queue``, ready."""
    started = [start(env, queue, command=command) for _ in range(count)]
    try:
        wait_ready(started, env["TASKFLOW_CELERY_BROKER_URL"])
        yield started
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            with contextlib.suppress(OSError):
                worker.log_path.unlink()
