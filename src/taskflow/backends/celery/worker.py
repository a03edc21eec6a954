"""The worker side: one delivered Celery message runs one attempt, at most once at a time.

Before it runs, the worker claims the attempt in Redis (`protocol.CLAIM_SCRIPT`): an older
attempt of the task, one the orchestrator gave up, and one another worker holds or finished
are not run again — a duplicate delivery (a visibility timeout shorter than the attempt, a
redelivery after a worker died) does nothing. A redelivered attempt whose first run died runs
again only if its executor is rerun-safe, and at most ``max_deliveries`` times.

The attempt then runs exactly as in the orchestrating process: through a `LocalBackend` on an
event loop of its own (time limits, soft limit, cancel flag, ``cancel()``, forced stop), its
reports published on the attempt's stream. The process's `Supervisor` thread renews the claim
and sends heartbeats (a blocking executor does not stop them) and reads the control stream
(cancel, signal).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Mapping
from typing import Any

from taskflow.backends.base import Attempt
from taskflow.backends.celery.protocol import (
    CLAIM_SCRIPT,
    FINISH_SCRIPT,
    LOG,
    PROGRESS,
    STARTED,
    STREAM_MAXLEN,
    WAITING,
    Keys,
    encode,
)
from taskflow.backends.celery.settings import CelerySettings
from taskflow.backends.celery.supervisor import Supervisor, Watched
from taskflow.backends.local import LocalBackend
from taskflow.executors import ExecutorRegistry, Outcome
from taskflow.models import ErrorType, TaskStatus

logger = logging.getLogger("taskflow.celery.worker")


class Publisher:
    """Writes one attempt's stream."""

    def __init__(
        self, redis: Any, settings: CelerySettings, dispatch_id: str, token: str = ""
    ) -> None:
        self.redis = redis
        self.token = token
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.dispatch_id = dispatch_id
        self.stream = self.keys.stream(dispatch_id)

    def publish(self, kind: str, data: Mapping[str, Any]) -> None:
        """Add an entry (failures are logged: reporting never breaks the attempt)."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(self.stream, encode(kind, data), maxlen=STREAM_MAXLEN, approximate=True)
            pipe.expire(self.stream, self.settings.stream_ttl_seconds)
            pipe.execute()
        except Exception:
            logger.exception("publishing %s for attempt %s failed", kind, self.dispatch_id)

    def finish(self, outcome: Outcome) -> None:
        """Publish the outcome and mark the claim done."""
        text = self._encoded(outcome)
        self.redis.eval(
            FINISH_SCRIPT,
            2,
            self.keys.claim(self.dispatch_id),
            self.stream,
            "",
            text,
            self.settings.stream_ttl_seconds,
            STREAM_MAXLEN,
        )

    def _encoded(self, outcome: Outcome) -> str:
        try:
            text = json.dumps(outcome.to_json(), separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            return self._encoded(
                Outcome(
                    TaskStatus.FAILED,
                    error=f"attempt {self.dispatch_id}: the result is not JSON data: {exc}",
                    error_type=ErrorType.RESULT,
                )
            )
        size, limit = len(text.encode()), self.settings.max_result_bytes
        if size > limit:
            error = (
                f"attempt {self.dispatch_id}: its outcome is {size} bytes as JSON, more than "
                f"the {limit} a worker may send back (max_result_bytes)"
            )
            text = json.dumps(
                Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.RESULT).to_json()
            )
        return text


class _Reports:
    """The local backend's reports, published on the stream."""

    def __init__(self, publisher: Publisher, done: asyncio.Future[Outcome]) -> None:
        self.publisher = publisher
        self.done = done

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        self.publisher.publish(PROGRESS, {"fraction": fraction, "message": message})

    def log(self, dispatch_id: str, message: str, fields: Mapping[str, Any]) -> None:
        self.publisher.publish(LOG, {"message": message, "fields": dict(fields)})

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        self.publisher.publish(WAITING, {"key": key, "timeout": timeout})

    def position(self, dispatch_id: str, cursor: str) -> None:
        """Not reported by the local backend (its attempts end with their process)."""

    def finished(self, dispatch_id: str, outcome: Outcome) -> None:
        if not self.done.done():
            self.done.set_result(outcome)


async def _run(
    attempt: Attempt, publisher: Publisher, registry: ExecutorRegistry, supervisor: Supervisor
) -> Outcome:
    """Run the attempt with a local backend, looked after by the supervisor meanwhile."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Outcome] = loop.create_future()
    local = LocalBackend(registry)
    token = publisher.token
    supervisor.watch(Watched(attempt.dispatch_id, token, loop, local))
    try:
        local.submit(attempt, _Reports(publisher, done))
        return await done
    finally:
        supervisor.unwatch(attempt.dispatch_id)
        await local.close()


class AttemptRunner:
    """Runs the attempts delivered to one worker process.

    Args:
        settings: The settings the orchestrator uses too.
        registry: Where executors are looked up.
    """

    def __init__(self, settings: CelerySettings, registry: ExecutorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.keys = Keys(settings.key_prefix)
        self._redis: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor: Supervisor | None = None
        self._pid = -1

    def _process(self) -> None:
        """This process's Redis client, event loop and supervisor (a forked pool process makes
        its own: neither sockets nor threads survive a fork)."""
        if self._pid != os.getpid():
            from taskflow.backends.celery.app import redis_client

            self._redis = redis_client(self.settings)
            self._loop = asyncio.new_event_loop()
            self._supervisor = Supervisor(self._redis, self.settings)
            self._supervisor.start()
            self._pid = os.getpid()

    def close(self) -> None:
        """Release this process's loop, supervisor and Redis client (a worker process keeps
        them until it exits)."""
        if self._pid != os.getpid():
            return
        assert self._supervisor is not None
        assert self._loop is not None
        self._supervisor.stop()
        self._supervisor.join(timeout=2.0)
        self._loop.close()
        self._redis.close()
        self._pid = -1

    @property
    def redis(self) -> Any:
        """This process's Redis client."""
        self._process()
        return self._redis

    def run(self, payload: Mapping[str, Any]) -> str:
        """Claim and run one delivered attempt; what happened (``ran``, ``busy``...)."""
        attempt = Attempt.from_json(payload)
        dispatch_id = attempt.dispatch_id
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        verdict = str(
            self.redis.eval(
                CLAIM_SCRIPT,
                5,
                self.keys.current(attempt.task_id),
                self.keys.lost(dispatch_id),
                self.keys.claim(dispatch_id),
                self.keys.deliveries(dispatch_id),
                self.keys.stream(dispatch_id),
                dispatch_id,
                token,
                int(self.settings.worker_lost_seconds * 1000),
                self.settings.stream_ttl_seconds,
                encode(STARTED, {"worker": token, "pid": os.getpid()})["data"],
                STREAM_MAXLEN,
            )
        )
        if not verdict.startswith("claimed:"):
            logger.info("attempt %s not run: %s", dispatch_id, verdict)
            return verdict
        publisher = Publisher(self.redis, self.settings, dispatch_id, token)
        refused = self._refused(attempt, int(verdict.partition(":")[2]))
        if refused is not None:
            publisher.finish(refused)
            return str(refused.error_type)
        assert self._loop is not None
        assert self._supervisor is not None
        outcome = self._loop.run_until_complete(
            _run(attempt, publisher, self.registry, self._supervisor)
        )
        publisher.finish(outcome)
        return "ran"

    def _refused(self, attempt: Attempt, delivery: int) -> Outcome | None:
        """Why a redelivered attempt (its first run died) must not run again, if it must not."""
        if delivery <= 1:
            return None
        info = self.registry.get(attempt.executor)
        if info is not None and not info.rerun_safe:
            error = (
                f"attempt {attempt.dispatch_id} was delivered again after the worker running "
                f"it died, and executor {attempt.executor!r} is not safe to re-run"
            )
            return Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.NOT_RERUN_SAFE)
        if delivery > self.settings.max_deliveries:
            error = (
                f"attempt {attempt.dispatch_id} was delivered {delivery} times (more than "
                f"max_deliveries = {self.settings.max_deliveries}); each time its worker died"
            )
            return Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.WORKER_LOST)
        return None


def import_executor_modules(names: str | None = None) -> None:
    """Import the modules that register executors: ``names`` or ``$TASKFLOW_IMPORT``
    (comma-separated), from the working directory too.

    Raises:
        ConfigurationError: a module cannot be imported.
    """
    import importlib

    from taskflow.exceptions import ConfigurationError

    text = os.environ.get("TASKFLOW_IMPORT", "") if names is None else names
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in filter(None, (part.strip() for part in text.split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"TASKFLOW_IMPORT: cannot import {name!r}: {exc}") from exc
