"""The engine's knobs, grouped in one value."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from taskflow.exceptions import ConfigurationError


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """How a `TaskManager` schedules.

    Attributes:
        concurrency: At most this many tasks run at once in one manager, across all the
            trees it runs.
        executor_limits: Per-executor caps in one manager, by executor id (an executor's own
            ``max_concurrency`` applies too; the smaller wins).
        lease_seconds: How long a claim on a running task lasts without renewal.
        cancel_grace_seconds: How long a cancelled executor may take to stop by itself
            before its asyncio task is cancelled.
        poll_seconds: How often to look for changes made by other processes.
    """

    concurrency: int = 100
    executor_limits: Mapping[str, int] = dataclasses.field(default_factory=dict)
    lease_seconds: float = 30.0
    cancel_grace_seconds: float = 5.0
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, not {self.concurrency}")
        for executor_id, limit in self.executor_limits.items():
            if limit < 1:
                raise ConfigurationError(
                    f"executor_limits[{executor_id!r}] must be at least 1, not {limit}"
                )
