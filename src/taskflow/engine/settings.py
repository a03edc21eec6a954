"""The engine's knobs, grouped in one value."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from taskflow.exceptions import ConfigurationError
from taskflow.models.rate import RateLimit
from taskflow.models.values import MAX_VALUE_BYTES


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """How a `TaskManager` schedules.

    Attributes:
        concurrency: At most this many tasks run at once in one manager, across all the
            trees it runs.
        executor_limits: Per-executor caps in one manager, by executor id (an executor's own
            ``max_concurrency`` applies too; the smaller wins).
        lease_seconds: How long a manager's claim on a tree lasts without renewal (it is
            renewed by a thread of its own every third of that, whatever executors do).
        cancel_grace_seconds: How long a cancelled executor may take to stop by itself
            before it is stopped by force.
        poll_seconds: How often to look for requests made by other processes (cancel,
            notify).
        commit_retry_seconds: How long a failing write is retried (with backoff) before the
            manager gives the tree up, leaving it resumable.
        max_result_bytes: The largest result (as JSON) a task may store; a bigger one fails
            the task with ``ResultError``.
        max_log_bytes: How much log text one attempt may store in events; lines past it are
            counted, not stored.
        rate_limit: At most this many attempts start per second, minute or hour overall
            (``"1000/m"``; ``None``: no limit). Shared by every manager on one Redis with the
            Celery backend; per manager otherwise.
        rate_limits: Per-executor rate limits, by executor id (they replace the executor's
            own ``rate_limit``; a task's own wins over both).
    """

    concurrency: int = 100
    executor_limits: Mapping[str, int] = dataclasses.field(default_factory=dict)
    lease_seconds: float = 30.0
    cancel_grace_seconds: float = 5.0
    poll_seconds: float = 0.5
    commit_retry_seconds: float = 10.0
    max_result_bytes: int = MAX_VALUE_BYTES
    max_log_bytes: int = 4 * 1024 * 1024
    rate_limit: str | None = None
    rate_limits: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_counts()
        self._check_times()
        self._check_rates()

    def _check_rates(self) -> None:
        named = {"rate_limit": self.rate_limit} if self.rate_limit is not None else {}
        named.update({f"rate_limits[{k!r}]": v for k, v in self.rate_limits.items()})
        for name, value in named.items():
            try:
                RateLimit.parse(value)
            except ValueError as exc:
                raise ConfigurationError(f"{name}: {exc}") from None

    def _check_counts(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, not {self.concurrency}")
        for executor_id, limit in self.executor_limits.items():
            if limit < 1:
                raise ConfigurationError(
                    f"executor_limits[{executor_id!r}] must be at least 1, not {limit}"
                )
        for name in ("max_result_bytes", "max_log_bytes"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be at least 1")

    def _check_times(self) -> None:
        for name in ("lease_seconds", "poll_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigurationError(
                    f"{name} must be a positive number of seconds, not {value!r}"
                )
        if self.poll_seconds > self.lease_seconds:
            raise ConfigurationError(
                f"poll_seconds ({self.poll_seconds}) must not exceed lease_seconds "
                f"({self.lease_seconds})"
            )
        for name in ("cancel_grace_seconds", "commit_retry_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a number of seconds >= 0, not {value!r}")
