"""The worker's claim on real Redis, in this process: what a delivered message may run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskflow.backends import Attempt
from taskflow.backends.celery import CelerySettings
from taskflow.backends.celery.protocol import Keys, decode
from taskflow.backends.celery.worker import AttemptRunner
from taskflow.executors import get_registry


@pytest.fixture
def runner(celery_settings: CelerySettings) -> Iterator[AttemptRunner]:
    import celery_executors  # noqa: F401

    made = AttemptRunner(celery_settings, get_registry())
    yield made
    made.close()


def attempt(executor: str = "ct.noop", n: int = 1, **inputs: Any) -> Attempt:
    return Attempt(
        dispatch_id=f"task-1.{n}", task_id="task-1", tree_id="tree", key="k",
        executor=executor, inputs=inputs, attempt=n,
    )  # fmt: skip


def outcome_of(redis_client: Any, keys: Keys, dispatch_id: str) -> dict[str, Any]:
    entries = redis_client.xrange(keys.stream(dispatch_id))
    kind, data = decode(entries[-1][1])
    assert kind == "done"
    return data


def test_a_first_delivery_runs_and_a_duplicate_does_nothing(
    runner: AttemptRunner, redis_client: Any, celery_settings: CelerySettings
) -> None:
    keys = Keys(celery_settings.key_prefix)
    redis_client.set(keys.current("task-1"), "task-1.1")
    assert runner.run(attempt().to_json()) == "ran"
    assert outcome_of(redis_client, keys, "task-1.1")["status"] == "completed"
    assert runner.run(attempt().to_json()) == "busy"  # finished: not run again
    kinds = [decode(fields)[0] for _, fields in redis_client.xrange(keys.stream("task-1.1"))]
    assert kinds.count("done") == 1


def test_an_older_attempt_or_one_given_up_never_runs(
    runner: AttemptRunner, redis_client: Any, celery_settings: CelerySettings
) -> None:
    keys = Keys(celery_settings.key_prefix)
    redis_client.set(keys.current("task-1"), "task-1.2")
    assert runner.run(attempt(n=1).to_json()) == "stale"
    redis_client.set(keys.lost("task-1.2"), "1")
    assert runner.run(attempt(n=2).to_json()) == "lost"
    assert not redis_client.exists(keys.stream("task-1.1"), keys.stream("task-1.2"))


def test_a_redelivery_after_its_worker_died(
    runner: AttemptRunner, redis_client: Any, celery_settings: CelerySettings
) -> None:
    keys = Keys(celery_settings.key_prefix)
    redis_client.set(keys.current("task-1"), "task-1.1")
    redis_client.set(keys.deliveries("task-1.1"), 1)  # taken once; its claim expired with it
    assert runner.run(attempt("ct.unsafe", seconds=0).to_json()) == "NotRerunSafe"
    done = outcome_of(redis_client, keys, "task-1.1")
    assert done["error_type"] == "NotRerunSafe"
    assert "not safe to re-run" in done["error"]


def test_redelivery_is_bounded(
    runner: AttemptRunner, redis_client: Any, celery_settings: CelerySettings
) -> None:
    keys = Keys(celery_settings.key_prefix)
    redis_client.set(keys.current("task-1"), "task-1.1")
    redis_client.set(keys.deliveries("task-1.1"), celery_settings.max_deliveries)
    assert runner.run(attempt().to_json()) == "WorkerLost"
    assert "max_deliveries" in outcome_of(redis_client, keys, "task-1.1")["error"]
