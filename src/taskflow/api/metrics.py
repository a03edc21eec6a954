"""``GET /metrics``: Prometheus text (prometheus-client, the ``api`` extra, loaded lazily).

From the database at each scrape: tasks by status and executor, trees by status, the queue's
depth (queued trees). From this process since it started: task durations by final status,
retries, failures by error type, and HTTP error responses by status. Needs an admin key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from taskflow.api.auth import principal_of
from taskflow.api.context import MANAGER
from taskflow.api.problems import Handler, Problem
from taskflow.events import EventBus, EventType, TaskEvent
from taskflow.exceptions import ConfigurationError

if TYPE_CHECKING:
    from taskflow.runtime.manager import TaskManager

routes = web.RouteTableDef()
METRICS: web.AppKey[ApiMetrics] = web.AppKey("metrics")
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600)  # seconds
_TERMINAL = {EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED}


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise ConfigurationError(
            "/metrics needs prometheus-client: pip install 'taskflow[api]'"
        ) from exc
    return prometheus_client


class ApiMetrics:
    """What this process counts (its own registry), fed by the manager's event bus."""

    def __init__(self, events: EventBus) -> None:
        client = _client()
        self.registry = client.CollectorRegistry()
        self.durations = client.Histogram(
            "taskflow_task_duration_seconds", "Task attempts run here, by final status",
            ["status"], buckets=DURATION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.retries = client.Counter(
            "taskflow_task_retries", "Tasks scheduled to run again", registry=self.registry
        )
        self.failures = client.Counter(
            "taskflow_task_failures", "Tasks that failed, by error type", ["error_type"],
            registry=self.registry,
        )  # fmt: skip
        self.http_errors = client.Counter(
            "taskflow_http_errors", "HTTP responses with an error status", ["status"],
            registry=self.registry,
        )  # fmt: skip
        self._started: dict[str, float] = {}
        self._unsubscribe = events.subscribe(self.on_event)

    def on_event(self, event: TaskEvent) -> None:
        """Count what a committed event says."""
        if event.type is EventType.STARTED:
            self._started[event.task_id] = event.time.timestamp()
        elif event.type is EventType.RETRYING:
            self.retries.inc()
        elif event.type in _TERMINAL:
            started = self._started.pop(event.task_id, None)
            if started is not None:
                self.durations.labels(event.type.value).observe(event.time.timestamp() - started)
            if event.type is EventType.FAILED:
                self.failures.labels(str(event.data.get("error_type") or "unknown")).inc()

    def close(self) -> None:
        """Stop listening to the bus."""
        self._unsubscribe()


async def exposition(manager: TaskManager, metrics: ApiMetrics) -> bytes:
    """The Prometheus text: the database's counts now, then this process's counters."""
    client = _client()
    registry = client.CollectorRegistry()
    tasks = client.Gauge(
        "taskflow_tasks", "Tasks by status and executor", ["status", "executor"],
        registry=registry,
    )  # fmt: skip
    for (status, executor), count in (await manager.storage.task_counts()).items():
        tasks.labels(status, executor or "group").set(count)
    trees = client.Gauge("taskflow_trees", "Trees by status", ["status"], registry=registry)
    tree_counts = await manager.storage.tree_counts()
    for status, count in tree_counts.items():
        trees.labels(status).set(count)
    queue = client.Gauge("taskflow_queue_depth", "Trees queued for a worker", registry=registry)
    queue.set(tree_counts.get("queued", 0))
    text: bytes = client.generate_latest(registry) + client.generate_latest(metrics.registry)
    return text


async def with_metrics(app: web.Application) -> Any:
    """While the app runs: count events and errors (when prometheus-client is installed)."""
    try:
        app[METRICS] = ApiMetrics(app[MANAGER].events)
    except ConfigurationError:
        yield
        return
    try:
        yield
    finally:
        app[METRICS].close()


@web.middleware
async def count_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count error responses (after the error boundary made them)."""
    response = await handler(request)
    metrics = request.app.get(METRICS)
    if metrics is not None and response.status >= 400:
        metrics.http_errors.labels(str(response.status)).inc()
    return response


@routes.get("/metrics")
async def metrics_text(request: web.Request) -> web.Response:
    """Prometheus text exposition (admin keys only: it counts every user's tasks)."""
    if not principal_of(request).is_admin:
        raise Problem(403, "forbidden", "Forbidden", "/metrics needs an admin key")
    metrics = request.app.get(METRICS)
    if metrics is None:
        _client()  # raises naming the extra
        raise Problem(503, "not-ready", "Not ready", "metrics are not collected")
    body = await exposition(request.app[MANAGER], metrics)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


__all__ = ["ApiMetrics", "count_errors", "exposition", "routes", "with_metrics"]
