"""The Celery application of examples/celery_task.yaml.

Run its worker from the repository's root (Redis from $TASKFLOW_REDIS_URL, by default
redis://127.0.0.1:6379/0)::

    celery --workdir examples/celery -A tasks worker --loglevel INFO

``my_task`` follows the pattern exactly: pydantic schemas shared with the caller
(task_schemas.py), ``bind=True, pydantic=True``, the body wrapped in ``task_stream_notifier``.
``count_words`` also reports its progress.
"""

from __future__ import annotations

import functools
import os

import redis
from celery import Celery, Task
from task_schemas import MyTaskInput, MyTaskOutput
from taskflow_celery import report_progress, task_stream_notifier

REDIS_URL = os.environ.get("TASKFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")

celery = Celery(
    "taskflow_example",
    broker=os.environ.get("TASKFLOW_CELERY_BROKER_URL", REDIS_URL),
    backend=os.environ.get("TASKFLOW_CELERY_RESULT_BACKEND", REDIS_URL),
)
celery.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])


@functools.cache
def get_redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


def run_my_task(arg: MyTaskInput) -> MyTaskOutput:
    """Your task logic here: shout field1, field2 times."""
    result = " ".join([arg.field1.upper()] * arg.field2)
    return MyTaskOutput(result=result, token_consumption={"repeats": arg.field2})


@celery.task(name="my_task", bind=True, pydantic=True)
def run(self: Task, arg: MyTaskInput) -> MyTaskOutput:
    """Celery task wrapper."""
    task_id = self.request.id
    redis_client = get_redis_client()

    # Context manager automatically handles stream notifications
    with task_stream_notifier(redis_client, task_id):
        return run_my_task(arg)


@celery.task(name="count_words", bind=True)
def count_words(self: Task, text: str) -> dict[str, int]:
    """Counts the words of ``text``, reporting progress word by word."""
    redis_client = get_redis_client()
    with task_stream_notifier(redis_client, self.request.id) as notifier:
        words = text.split()
        for done, word in enumerate(words, start=1):
            report_progress(redis_client, self.request.id, done / len(words), f"counted {word}")
        notifier.result = {"words": len(words), "distinct": len(set(words))}
        return notifier.result
