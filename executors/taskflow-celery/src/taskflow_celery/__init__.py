"""taskflow-celery: trigger existing Celery tasks from taskflow, long-poll their results.

Installing the package registers the ``celery.task`` executor (entry point
``taskflow.executors``). For the Celery side it provides `task_stream_notifier` and
`report_progress`, which publish a task's outcome and progress on its Redis stream
``task:{task_id}:progress``.

Loading the package imports neither celery nor redis: they are imported when a task runs.
"""

from __future__ import annotations

from taskflow_celery.errors import (
    CeleryRemoteError,
    CeleryTaskError,
    CeleryTaskRevoked,
    CeleryUnavailable,
)
from taskflow_celery.executor import CeleryTask
from taskflow_celery.notifier import TaskStreamNotifier, report_progress, task_stream_notifier
from taskflow_celery.settings import CelerySettings
from taskflow_celery.stream import STREAM_MAXLEN, STREAM_TTL_SECONDS, StreamEntry, stream_key

__all__ = [
    "STREAM_MAXLEN",
    "STREAM_TTL_SECONDS",
    "CeleryRemoteError",
    "CelerySettings",
    "CeleryTask",
    "CeleryTaskError",
    "CeleryTaskRevoked",
    "CeleryUnavailable",
    "StreamEntry",
    "TaskStreamNotifier",
    "report_progress",
    "stream_key",
    "task_stream_notifier",
]
__version__ = "0.1.0"
