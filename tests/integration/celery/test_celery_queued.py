"""Attempts no worker has taken: they wait, unless Redis forgot them (no workers needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskflow.backends import Attempt
from taskflow.backends.celery import CeleryBackend, CelerySettings
from taskflow.backends.celery.protocol import Keys
from taskflow.executors import Outcome

pytestmark = pytest.mark.slow


class Reports:
    """Keeps the outcomes."""

    def __init__(self, finished: dict[str, Outcome]) -> None:
        self.outcomes = finished

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        """Not used here."""

    def log(self, dispatch_id: str, message: str, fields: Any) -> None:
        """Not used here."""

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        """Not used here."""

    def position(self, dispatch_id: str, cursor: str) -> None:
        """Not used here."""

    def finished(self, dispatch_id: str, outcome: Outcome) -> None:
        self.outcomes[dispatch_id] = outcome


async def test_a_queued_attempt_waits_unless_redis_forgot_it(
    celery_settings: CelerySettings, redis_client: Any
) -> None:
    finished: dict[str, Outcome] = {}
    backend = CeleryBackend(celery_settings)
    attempts = [
        Attempt(dispatch_id=f"q{i}.1", task_id=f"q{i}", tree_id="r", key=f"q{i}",
                executor="ct.noop", inputs={}, attempt=1, queue=f"{celery_settings.default_queue}-none")
        for i in range(2)
    ]  # fmt: skip
    try:
        for attempt in attempts:
            backend.submit(attempt, Reports(finished))
        await asyncio.sleep(celery_settings.worker_lost_seconds + 1)
        assert finished == {}  # nobody took them: they wait
        redis_client.delete(Keys(celery_settings.key_prefix).current("q0"))
        for _ in range(100):
            if finished:
                break
            await asyncio.sleep(0.1)
        assert set(finished) == {"q0.1"}
        assert finished["q0.1"].error_type == "WorkerLost"
        assert "no longer knows it" in (finished["q0.1"].error or "")
    finally:
        await backend.close()
        redis_client.delete(f"{celery_settings.default_queue}-none")  # the messages nobody took
