"""The bare Celery side of bench/distributed.py: a no-op task and a chord callback.

Broker and result backend: ``$BENCH_REDIS_URL``. Started by the benchmark as
``celery -A chord_app worker -Q QUEUE -c 1``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
app = Celery("bench-chord", broker=URL, backend=URL, set_as_current=False)
app.conf.update(
    task_acks_late=True,  # as taskflow's workers run
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(n: int) -> dict[str, Any]:
    """Does nothing, like taskflow's built-in noop."""
    return {"n": n}


@app.task(name="bench.collect")  # type: ignore[untyped-decorator]
def collect(results: list[dict[str, Any]]) -> int:
    """The chord's callback: how many no-ops came back."""
    return len(results)
