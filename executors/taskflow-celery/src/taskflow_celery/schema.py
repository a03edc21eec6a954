"""The input and output schemas of ``celery.task`` (JSON Schema, Draft 2020-12)."""

from __future__ import annotations

from typing import Any

DEFAULT_TIMEOUT_SECONDS = 600
MAX_TIMEOUT_SECONDS = 7 * 86400
MAX_COUNTDOWN_SECONDS = 86400
_URL = "^[A-Za-z][A-Za-z0-9+.-]*://"
_REDIS_URL = "^(redis|rediss|unix)://"

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "description": (
                "The registered name of the Celery task, as in @celery.task(name=...). It is sent "
                "by name (send_task): taskflow does not import the task's code."
            ),
        },
        "args": {
            "type": "array",
            "default": [],
            "description": (
                "Positional arguments, as JSON values (a pydantic=True task's model argument as "
                "an object of its fields)."
            ),
        },
        "kwargs": {
            "type": "object",
            "default": {},
            "description": "Keyword arguments, as JSON values.",
        },
        "queue": {
            "type": ["string", "null"],
            "minLength": 1,
            "default": None,
            "description": (
                "The queue to send the task to. Default: Celery's default queue, 'celery' (the "
                "worker application's task_routes are not known here)."
            ),
        },
        "countdown": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_COUNTDOWN_SECONDS,
            "default": 0,
            "description": "Seconds before a worker may start the task (it counts in timeout).",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT_SECONDS,
            "default": DEFAULT_TIMEOUT_SECONDS,
            "description": (
                "Seconds to wait for the outcome, from sending (queueing and countdown "
                "included). Past it the Celery task is revoked and the task fails with "
                "TaskTimeout."
            ),
        },
        "expect_stream": {
            "type": "boolean",
            "default": True,
            "description": (
                "Wait on the task's Redis stream task:{id}:progress (published by "
                "task_stream_notifier), falling back to the result backend when nothing is "
                "published. false: poll the result backend only."
            ),
        },
        "redis_url": {
            "type": ["string", "null"],
            "pattern": _REDIS_URL,
            "default": None,
            "description": (
                "The Redis holding the progress streams. Default: $TASKFLOW_REDIS_URL, else "
                "redis://127.0.0.1:6379/0."
            ),
        },
        "broker_url": {
            "type": ["string", "null"],
            "pattern": _URL,
            "default": None,
            "description": (
                "Celery's broker. Default: $TASKFLOW_CELERY_BROKER_URL, else the Redis URL. "
                "Inputs are stored with the task: keep passwords in the environment."
            ),
        },
        "result_backend": {
            "type": ["string", "null"],
            "pattern": _URL,
            "default": None,
            "description": (
                "Celery's result backend. Default: $TASKFLOW_CELERY_RESULT_BACKEND, else the "
                "Redis URL."
            ),
        },
    },
    "required": ["name"],
    "additionalProperties": False,
    "examples": [
        {"name": "my_task", "args": [{"field1": "hello", "field2": 3}]},
        {"name": "reports.build", "kwargs": {"month": "2030-01"}, "queue": "reports"},
        {"name": "ping", "timeout": 30, "expect_stream": False},
    ],
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "description": (
        "A completed run. A failed one stores {status: failed, error, error_type, "
        "celery_task_id, name, ...}; a cancelled one {cancelled: true, revoked: true, ...}."
    ),
    "properties": {
        "result": {
            "description": (
                "What the Celery task returned, as JSON (a pydantic model as its fields); null "
                "when it returned nothing, or when no result could be read."
            ),
        },
        "celery_task_id": {
            "type": "string",
            "description": "The Celery task id (taskflow-{task id}-{attempt}).",
        },
        "name": {"type": "string", "description": "The Celery task's name."},
        "state": {"const": "SUCCESS", "description": "The Celery state: always SUCCESS here."},
        "source": {
            "enum": ["stream", "result_backend", "none"],
            "description": (
                "Where the result was read: the done entry of the stream, the result backend, "
                "or nowhere (the task said done, and no result backend had the result)."
            ),
        },
        "adopted": {
            "type": "boolean",
            "description": (
                "Whether this attempt picked up a Celery task that an interrupted earlier "
                "attempt had sent, instead of sending it again."
            ),
        },
        "elapsed_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "Time from sending (or picking up) to the outcome.",
        },
    },
    "required": [
        "result",
        "celery_task_id",
        "name",
        "state",
        "source",
        "adopted",
        "elapsed_seconds",
    ],
    "additionalProperties": False,
}
