"""taskflow's Celery application: ``celery -A taskflow.celery worker -Q QUEUES``.

It runs taskflow attempts sent by an orchestrator using the Celery backend
(``TASKFLOW_BACKEND=celery``). Its settings come from the environment
(`CelerySettings.from_env`: ``TASKFLOW_CELERY_BROKER_URL``, ``TASKFLOW_REDIS_URL``,
``TASKFLOW_CELERY_KEY_PREFIX``...); its executors from installed packages (entry points) and
the modules named by ``TASKFLOW_IMPORT`` (comma-separated). ``taskflow celery worker`` starts
the same worker.
"""

from __future__ import annotations

from typing import Any

from taskflow.backends.celery.app import create_app
from taskflow.backends.celery.protocol import TASK_NAME
from taskflow.backends.celery.settings import CelerySettings
from taskflow.backends.celery.worker import AttemptRunner, import_executor_modules
from taskflow.executors import get_registry

settings = CelerySettings.from_env()
import_executor_modules()
runner = AttemptRunner(settings, get_registry())
app = create_app(settings)


@app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
def run(attempt: dict[str, Any]) -> str:
    """Run one taskflow attempt (the message is its `Attempt.to_json`)."""
    return runner.run(attempt)


__all__ = ["app", "run"]
