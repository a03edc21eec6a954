"""`CelerySettings`: the broker, Redis, routes and timings both sides agree on."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping

from taskflow.exceptions import ConfigurationError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "taskflow"
STREAM_TTL_SECONDS = 86400  # a finished attempt's stream is kept a day (re-attach, duplicates)
MAX_RESULT_BYTES = 1024 * 1024  # the largest outcome (as JSON) a worker publishes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CelerySettings:
    """How the Celery backend and its workers talk to each other.

    Both sides read the same settings (`from_env` on a worker), so that they agree on the
    broker, the Redis database and the key prefix.

    Attributes:
        broker_url: The Celery broker (Redis, or RabbitMQ with ``amqp://``).
        redis_url: The Redis that holds attempt streams, claims and heartbeats.
        key_prefix: Prefix of every Redis key taskflow writes.
        default_queue: The queue of attempts nothing else routes.
        routes: Queue by executor id (an executor's ``queue`` attribute and a task's own
            ``queue`` win over it).
        local_executors: Executors whose attempts run in the orchestrating process (an
            executor's ``runs_locally = True`` does the same).
        heartbeat_seconds: How often a worker says an attempt is alive.
        worker_lost_seconds: An attempt whose heartbeats stop for this long is reported
            failed with ``WorkerLost`` (and goes to its retry policy).
        stream_ttl_seconds: How long an attempt's stream (and its claim) outlives it.
        max_result_bytes: The largest outcome a worker sends back; a bigger one fails the
            attempt with ``ResultError``.
        max_deliveries: How many times one attempt's message may be delivered (Celery
            redelivers after a worker dies) before it fails instead of running again.
        visibility_timeout: The Redis broker's visibility timeout (seconds): an unacknowledged
            message is delivered again after it.
        force_margin_seconds: After a cancel's grace period, how long the worker gets to
            report before the attempt is revoked with ``terminate=True``.
        permit_seconds: How long a concurrency permit (an executor's limit, shared by every
            orchestrator) outlives the orchestrator that took it without renewing it; its
            successor takes it again when it follows the attempt. Keep it above the
            engine's ``lease_seconds``, so that a successor on another machine finds it.
    """

    broker_url: str = DEFAULT_REDIS_URL
    redis_url: str = DEFAULT_REDIS_URL
    key_prefix: str = "taskflow"
    default_queue: str = DEFAULT_QUEUE
    routes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    local_executors: frozenset[str] = frozenset()
    heartbeat_seconds: float = 2.0
    worker_lost_seconds: float = 10.0
    stream_ttl_seconds: int = STREAM_TTL_SECONDS
    max_result_bytes: int = MAX_RESULT_BYTES
    max_deliveries: int = 3
    visibility_timeout: float = 3600.0
    force_margin_seconds: float = 3.0
    permit_seconds: float = 90.0

    def __post_init__(self) -> None:
        for name in (
            "heartbeat_seconds",
            "worker_lost_seconds",
            "visibility_timeout",
            "permit_seconds",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigurationError(f"celery {name} must be a positive number, not {value!r}")
        if self.worker_lost_seconds <= 2 * self.heartbeat_seconds:
            raise ConfigurationError(
                f"celery worker_lost_seconds ({self.worker_lost_seconds:g}) must exceed twice "
                f"heartbeat_seconds ({self.heartbeat_seconds:g})"
            )
        for name in ("stream_ttl_seconds", "max_result_bytes", "max_deliveries"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"celery {name} must be at least 1")
        if not self.key_prefix or not self.default_queue:
            raise ConfigurationError("celery key_prefix and default_queue must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CelerySettings:
        """The settings named by ``TASKFLOW_CELERY_*`` variables (see docs/distributed.md).

        ``TASKFLOW_CELERY_BROKER_URL``, ``TASKFLOW_REDIS_URL`` (default: the broker),
        ``TASKFLOW_CELERY_KEY_PREFIX``, ``TASKFLOW_CELERY_QUEUE``,
        ``TASKFLOW_CELERY_ROUTES`` (``executor=queue,...``), ``TASKFLOW_CELERY_LOCAL``
        (``executor,...``), ``TASKFLOW_CELERY_HEARTBEAT_SECONDS``,
        ``TASKFLOW_CELERY_WORKER_LOST_SECONDS``, ``TASKFLOW_CELERY_VISIBILITY_TIMEOUT``,
        ``TASKFLOW_CELERY_MAX_DELIVERIES``, ``TASKFLOW_CELERY_MAX_RESULT_BYTES``,
        ``TASKFLOW_CELERY_PERMIT_SECONDS``.

        Raises:
            ConfigurationError: a value is malformed.
        """
        env = os.environ if environ is None else environ
        broker = env.get("TASKFLOW_CELERY_BROKER_URL") or DEFAULT_REDIS_URL
        values: dict[str, object] = {
            "broker_url": broker,
            "redis_url": env.get("TASKFLOW_REDIS_URL") or broker,
        }
        text = {
            "key_prefix": "TASKFLOW_CELERY_KEY_PREFIX",
            "default_queue": "TASKFLOW_CELERY_QUEUE",
        }
        values.update({k: env[v] for k, v in text.items() if env.get(v)})
        numbers = {
            "heartbeat_seconds": "TASKFLOW_CELERY_HEARTBEAT_SECONDS",
            "worker_lost_seconds": "TASKFLOW_CELERY_WORKER_LOST_SECONDS",
            "visibility_timeout": "TASKFLOW_CELERY_VISIBILITY_TIMEOUT",
            "force_margin_seconds": "TASKFLOW_CELERY_FORCE_MARGIN_SECONDS",
            "permit_seconds": "TASKFLOW_CELERY_PERMIT_SECONDS",
        }
        values.update({k: _number(v, env[v]) for k, v in numbers.items() if env.get(v)})
        counts = {
            "max_deliveries": "TASKFLOW_CELERY_MAX_DELIVERIES",
            "max_result_bytes": "TASKFLOW_CELERY_MAX_RESULT_BYTES",
        }
        values.update({k: int(_number(v, env[v])) for k, v in counts.items() if env.get(v)})
        if env.get("TASKFLOW_CELERY_ROUTES"):
            values["routes"] = _routes(env["TASKFLOW_CELERY_ROUTES"])
        if env.get("TASKFLOW_CELERY_LOCAL"):
            names = env["TASKFLOW_CELERY_LOCAL"].split(",")
            values["local_executors"] = frozenset(n.strip() for n in names if n.strip())
        return cls(**values)  # type: ignore[arg-type]


def _number(variable: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{variable} must be a number, not {text!r}") from None


def _routes(text: str) -> dict[str, str]:
    routes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        executor, sep, queue = item.partition("=")
        if not sep or not executor.strip() or not queue.strip():
            raise ConfigurationError(
                f"TASKFLOW_CELERY_ROUTES: expected executor=queue, not {item!r}"
            )
        routes[executor.strip()] = queue.strip()
    return routes
