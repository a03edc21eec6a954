"""The Celery backend's settings, read from the environment, and the missing extra."""

from __future__ import annotations

import pytest

from taskflow.backends import Attempt
from taskflow.backends.celery import CelerySettings
from taskflow.backends.celery.app import require
from taskflow.exceptions import ConfigurationError


def test_settings_from_the_environment() -> None:
    settings = CelerySettings.from_env(
        {
            "TASKFLOW_CELERY_BROKER_URL": "amqp://rabbit//",
            "TASKFLOW_REDIS_URL": "redis://r:6379/2",
            "TASKFLOW_CELERY_KEY_PREFIX": "app",
            "TASKFLOW_CELERY_QUEUE": "main",
            "TASKFLOW_CELERY_ROUTES": "render.video=gpu, http.request = io",
            "TASKFLOW_CELERY_LOCAL": "approval.wait,",
            "TASKFLOW_CELERY_WORKER_LOST_SECONDS": "12.5",
            "TASKFLOW_CELERY_MAX_DELIVERIES": "5",
        }
    )
    assert settings.broker_url == "amqp://rabbit//"
    assert settings.redis_url == "redis://r:6379/2"
    assert (settings.key_prefix, settings.default_queue) == ("app", "main")
    assert settings.routes == {"render.video": "gpu", "http.request": "io"}
    assert settings.local_executors == frozenset({"approval.wait"})
    assert settings.worker_lost_seconds == 12.5
    assert settings.max_deliveries == 5


def test_redis_defaults_to_the_broker() -> None:
    settings = CelerySettings.from_env({"TASKFLOW_CELERY_BROKER_URL": "redis://b:6379/3"})
    assert settings.redis_url == "redis://b:6379/3"
    assert settings.worker_lost_seconds <= 15


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TASKFLOW_CELERY_ROUTES": "gpu"}, "expected executor=queue"),
        ({"TASKFLOW_CELERY_HEARTBEAT_SECONDS": "soon"}, "must be a number"),
        ({"TASKFLOW_CELERY_WORKER_LOST_SECONDS": "3"}, "must exceed twice"),
        ({"TASKFLOW_CELERY_MAX_DELIVERIES": "0"}, "max_deliveries must be at least 1"),
    ],
)
def test_malformed_settings(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CelerySettings.from_env(environ)


def test_a_missing_extra_names_it() -> None:
    with pytest.raises(ConfigurationError, match=r"pip install 'taskflow\[celery\]'"):
        require("celery_that_is_not_installed")


def test_attempts_travel_as_json_and_queues_are_chosen_in_order() -> None:
    from taskflow.backends.celery.backend import CeleryBackend

    attempt = Attempt(
        dispatch_id="t.1", task_id="t", tree_id="r", key="k", executor="render.video",
        inputs={"n": 1}, attempt=1, queue=None,
    )  # fmt: skip
    assert Attempt.from_json(attempt.to_json()) == attempt
    settings = CelerySettings(routes={"render.video": "gpu"})
    backend = CeleryBackend.__new__(CeleryBackend)  # no broker needed to route
    backend.settings = settings
    assert backend.queue_of(attempt) == "gpu"
    attempt.queue = "own"
    assert backend.queue_of(attempt) == "own"
    attempt.executor, attempt.queue = "other", None
    assert backend.queue_of(attempt) == "taskflow"
