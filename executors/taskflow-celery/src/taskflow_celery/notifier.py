"""The Celery side: publish a task's progress and outcome on its Redis stream.

A Celery task wraps its body in `task_stream_notifier`, which publishes ``done`` when the body
returns and ``error`` (then re-raises) when it raises::

    @celery.task(name="my_task", bind=True, pydantic=True)
    def run(self: Task, arg: MyTaskInput) -> MyTaskOutput:
        with task_stream_notifier(redis_client, self.request.id):
            return run_my_task(arg)

The result itself reaches the caller through Celery's result backend. A task may also hand it
to the notifier (``notifier.result = value``): then it travels in the ``done`` entry, and the
caller does not need the result backend at all. `report_progress` (or ``notifier.progress``)
publishes progress. Both work with a ``redis.Redis`` client (``with``) and a
``redis.asyncio.Redis`` one (``async with``, ``await report_progress(...)``).

Publishing never changes the task's own outcome: if Redis cannot be reached, a warning is
logged, the task's result or exception stands, and the caller falls back to the result
backend.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from taskflow_celery.stream import RETRY, STREAM_MAXLEN, STREAM_TTL_SECONDS, StreamEntry, stream_key

if TYPE_CHECKING:
    import redis
    import redis.asyncio

logger = logging.getLogger("taskflow_celery.notifier")

_UNSET: Any = object()


class TaskStreamNotifier:
    """Publishes the outcome of the ``with`` (or ``async with``) body on the task's stream.

    Attributes:
        task_id: The Celery task id (``self.request.id`` in a bound task).
        ttl: Seconds the stream is kept after its last entry.
    """

    def __init__(self, client: Any, task_id: str, ttl: int = STREAM_TTL_SECONDS) -> None:
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(
                f"task_id must be a non-empty string (the Celery task id), not {task_id!r}"
            )
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise ValueError(f"ttl must be a whole number of seconds, at least 1, not {ttl!r}")
        self._client = client
        self.task_id = task_id
        self.ttl = ttl
        self._result: Any = _UNSET

    @property
    def result(self) -> Any:
        """The result to publish in the ``done`` entry (JSON data or a pydantic model)."""
        return None if self._result is _UNSET else self._result

    @result.setter
    def result(self, value: Any) -> None:
        self._result = value

    def progress(self, fraction: float | None, message: str | None = None) -> Any:
        """`report_progress` for this task (await it with an async client)."""
        return report_progress(self._client, self.task_id, fraction, message, ttl=self.ttl)

    def __enter__(self) -> TaskStreamNotifier:
        if _is_async(self._client):
            raise TypeError(
                "task_stream_notifier got a redis.asyncio client: use "
                "'async with task_stream_notifier(...)', or pass a redis.Redis client"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = self._outcome(exc)
        try:
            _publish(self._client, self.task_id, entry, self.ttl)
        except Exception:
            logger.warning(
                "could not publish %r for Celery task %s", entry.status, self.task_id, exc_info=True
            )

    async def __aenter__(self) -> TaskStreamNotifier:
        if not _is_async(self._client):
            raise TypeError(
                "'async with task_stream_notifier(...)' needs a redis.asyncio client; with a "
                "redis.Redis client, use 'with'"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = self._outcome(exc)
        try:
            await _publish_async(self._client, self.task_id, entry, self.ttl)
        except Exception:
            logger.warning(
                "could not publish %r for Celery task %s", entry.status, self.task_id, exc_info=True
            )

    def _outcome(self, exc: BaseException | None) -> StreamEntry:
        if exc is not None:
            if _is_celery_retry(exc):  # self.retry(): not the end, Celery runs the task again
                return StreamEntry(RETRY, message=str(exc) or "the task will be retried")
            return StreamEntry.failed(exc)
        if self._result is _UNSET:
            return StreamEntry.done()
        entry = StreamEntry.done(has_result=True, result=self._result)
        try:
            entry.to_fields()
        except (TypeError, ValueError):
            logger.warning(
                "the result of Celery task %s is not JSON data; 'done' is published without it "
                "(the caller reads the result backend)",
                self.task_id,
                exc_info=True,
            )
            return StreamEntry.done()
        return entry


def task_stream_notifier(
    client: Any, task_id: str, ttl: int = STREAM_TTL_SECONDS
) -> TaskStreamNotifier:
    """A context manager that publishes ``done`` or ``error`` on stream ``task:{task_id}:progress``.

    Use ``with`` for a ``redis.Redis`` client, ``async with`` for a ``redis.asyncio.Redis``
    one. On success it publishes ``done`` (with ``notifier.result`` if the body set it); if
    the body raises, it publishes ``error`` (the exception's class name, message and
    traceback) and the exception propagates; Celery's ``Retry`` (``self.retry()``) publishes
    ``retry`` instead, which is not final. Each entry renews the stream's TTL.

    Args:
        client: A ``redis.Redis`` or ``redis.asyncio.Redis`` client.
        task_id: The Celery task id (``self.request.id`` in a task declared ``bind=True``).
        ttl: Seconds the stream is kept after its last entry (default one day).

    Raises:
        ValueError: ``task_id`` is empty or ``ttl`` is not a positive whole number.
    """
    return TaskStreamNotifier(client, task_id, ttl)


@overload
def report_progress(
    client: redis.asyncio.Redis,
    task_id: str,
    fraction: float | None,
    message: str | None = None,
    *,
    ttl: int = STREAM_TTL_SECONDS,
) -> Coroutine[Any, Any, None]: ...


@overload
def report_progress(
    client: redis.Redis,
    task_id: str,
    fraction: float | None,
    message: str | None = None,
    *,
    ttl: int = STREAM_TTL_SECONDS,
) -> None: ...


def report_progress(
    client: Any,
    task_id: str,
    fraction: float | None,
    message: str | None = None,
    *,
    ttl: int = STREAM_TTL_SECONDS,
) -> Coroutine[Any, Any, None] | None:
    """Publish progress of Celery task ``task_id``: how far it is (0.0 to 1.0) and a message.

    With a ``redis.asyncio`` client it returns a coroutine to await. The caller (the
    ``celery.task`` executor) makes it the taskflow task's progress; a message without a
    fraction (``fraction=None``) becomes a log line of the task. Progress is best effort: if
    Redis cannot be reached, a warning is logged and the Celery task goes on.

    Raises:
        ValueError: ``fraction`` is not between 0.0 and 1.0.
    """
    entry = StreamEntry.progress(fraction, message)
    if _is_async(client):
        return _report_async(client, task_id, entry, ttl)
    try:
        _publish(client, task_id, entry, ttl)
    except Exception:
        logger.warning("could not publish progress for Celery task %s", task_id, exc_info=True)
    return None


async def _report_async(client: Any, task_id: str, entry: StreamEntry, ttl: int) -> None:
    try:
        await _publish_async(client, task_id, entry, ttl)
    except Exception:
        logger.warning("could not publish progress for Celery task %s", task_id, exc_info=True)


def _publish(client: Any, task_id: str, entry: StreamEntry, ttl: int) -> None:
    key = stream_key(task_id)
    pipe = client.pipeline()  # MULTI: the entry and the TTL together
    pipe.xadd(key, entry.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)
    pipe.expire(key, ttl)
    pipe.execute()


async def _publish_async(client: Any, task_id: str, entry: StreamEntry, ttl: int) -> None:
    key = stream_key(task_id)
    async with client.pipeline() as pipe:
        pipe.xadd(key, entry.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)
        pipe.expire(key, ttl)
        await pipe.execute()


def _is_async(client: Any) -> bool:
    """Whether ``client`` is an asyncio Redis client (its commands return awaitables)."""
    return inspect.iscoroutinefunction(getattr(client, "execute_command", None))


def _is_celery_retry(exc: BaseException) -> bool:
    try:
        from celery.exceptions import Retry
    except ImportError:  # pragma: no cover - celery is a dependency
        return False
    return isinstance(exc, Retry)
