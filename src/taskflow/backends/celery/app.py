"""The Celery application both sides use, configured from `CelerySettings`.

Celery and redis-py are the ``celery`` extra: they are imported here, when a Celery backend or
worker is made, and a missing one fails with a message naming the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from taskflow.backends.celery.settings import CelerySettings
from taskflow.exceptions import ConfigurationError

if TYPE_CHECKING:
    from celery import Celery

EXTRA_HINT = "install it with: pip install 'taskflow[celery]'"


def require(module: str) -> Any:
    """Import ``module`` (``celery``, ``redis``...), or explain which extra brings it.

    Raises:
        ConfigurationError: the ``celery`` extra is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"the Celery backend needs {module.partition('.')[0]!r} ({exc}); {EXTRA_HINT}"
        ) from exc


def create_app(settings: CelerySettings, name: str = "taskflow") -> Celery:
    """A Celery application on the settings' broker, configured for taskflow attempts.

    Messages are acknowledged after the attempt (``acks_late``) and given back when the
    process running them dies (``reject_on_worker_lost``); each worker process takes one
    message at a time. Results go through Redis streams, never Celery's result backend.
    """
    celery = require("celery")
    require("redis")
    app: Celery = celery.Celery(name, broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.default_queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # unacknowledged messages of a dead worker come back soon after their timeout
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


def redis_client(settings: CelerySettings) -> Any:
    """A synchronous Redis client on the settings' Redis (``decode_responses``)."""
    redis = require("redis")
    return redis.Redis.from_url(settings.redis_url, decode_responses=True)


def async_redis_client(settings: CelerySettings) -> Any:
    """An asyncio Redis client on the settings' Redis (``decode_responses``)."""
    redis_asyncio = require("redis.asyncio")
    return redis_asyncio.Redis.from_url(settings.redis_url, decode_responses=True)
