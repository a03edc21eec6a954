"""The Celery client side: one client application per broker and backend, and the blocking
calls made on it (each run in a thread by the executor, never on the event loop).

celery and redis are imported here when first used, not when the executor package is loaded
(loading executor plugins stays cheap for the other executors).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from taskflow_celery.errors import CeleryUnavailable
from taskflow_celery.settings import CelerySettings, redact
from taskflow_celery.stream import json_ready

SUCCESS, FAILURE, REVOKED = "SUCCESS", "FAILURE", "REVOKED"
REVOKE_SIGNAL = "SIGTERM"
# A blocking XREAD waits up to 5 s for an answer: the socket must wait longer (redis-py's
# default socket timeout is 5 s, which would cut the longest blocks off).
SOCKET_TIMEOUT_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 5.0

_apps: dict[tuple[str, str], Any] = {}
_apps_lock = threading.Lock()


@dataclasses.dataclass(frozen=True, slots=True)
class BackendState:
    """What the result backend says of a task that has finished.

    Attributes:
        state: ``SUCCESS``, ``FAILURE`` or ``REVOKED``.
        result: The result (success), as JSON data.
        error_type: The exception's class name (failure).
        error: Its message.
        traceback: Its traceback, as the worker stored it.
    """

    state: str
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None


def celery_client(settings: CelerySettings) -> Any:
    """The client `Celery` application for these URLs (made once, then shared).

    It only sends, revokes and reads results: JSON only (no pickle), and the task is never
    imported here.
    """
    key = (settings.broker_url, settings.result_backend)
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            from celery import Celery

            app = Celery(
                "taskflow-celery",
                broker=settings.broker_url,
                backend=settings.result_backend,
                set_as_current=False,
            )
            app.conf.update(
                task_serializer="json",
                result_serializer="json",
                accept_content=["json"],
                result_accept_content=["json"],
            )
            _apps[key] = app
    return app


def open_redis(url: str) -> Any:
    """A ``redis.asyncio`` client for the progress streams (close it with ``aclose()``)."""
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )


@contextlib.contextmanager
def unavailable_as(what: str, url: str) -> Iterator[None]:
    """Translate a connection error of redis or kombu into `CeleryUnavailable` naming ``url``."""
    import kombu.exceptions
    import redis.exceptions

    try:
        yield
    except (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        kombu.exceptions.OperationalError,
        ConnectionError,
    ) as exc:
        raise CeleryUnavailable(f"cannot reach the {what} at {redact(url)}: {exc}") from exc


def send(
    app: Any,
    name: str,
    celery_task_id: str,
    *,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    queue: str | None,
    countdown: float,
) -> None:
    """``send_task`` (blocking)."""
    options: dict[str, Any] = {"task_id": celery_task_id}
    if queue:
        options["queue"] = queue
    if countdown:
        options["countdown"] = countdown
    with unavailable_as("broker", app.conf.broker_url):
        app.send_task(name, args=list(args), kwargs=dict(kwargs), **options)


def revoke(app: Any, celery_task_id: str) -> None:
    """Revoke the task and terminate it if it runs (``SIGTERM`` to the process running it)."""
    with unavailable_as("broker", app.conf.broker_url):
        app.control.revoke(celery_task_id, terminate=True, signal=REVOKE_SIGNAL)


def finished_state(app: Any, celery_task_id: str) -> BackendState | None:
    """The result backend's word on a finished task, or ``None`` while it has not finished."""
    with unavailable_as("result backend", str(app.conf.result_backend)):
        result = app.AsyncResult(celery_task_id)
        state = result.state
        if state == SUCCESS:
            return BackendState(state, result=json_ready(result.result))
        if state == FAILURE:
            exc = result.result
            kind = type(exc).__name__ if isinstance(exc, BaseException) else "Exception"
            return BackendState(state, error_type=kind, error=str(exc), traceback=result.traceback)
        if state == REVOKED:
            return BackendState(state, error_type="CeleryTaskRevoked", error="revoked")
    return None
