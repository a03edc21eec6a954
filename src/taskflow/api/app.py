"""`create_app`: the aiohttp application of the HTTP API around a `TaskManager`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from taskflow.api import dashboard, executors, sse, tasks, trees
from taskflow.api.auth import KEYS, KeyCache, authentication
from taskflow.api.context import LIMITS, MANAGER, READER, SETTINGS, WAKE
from taskflow.api.limits import RateLimits
from taskflow.api.problems import error_boundary
from taskflow.api.settings import ApiSettings
from taskflow.repository import TaskRepository
from taskflow.runtime.manager import TaskManager


def _nothing() -> None:
    """No worker in this process to wake: one elsewhere polls for queued trees."""


def create_app(
    manager: TaskManager,
    settings: ApiSettings | None = None,
    *,
    wake: Callable[[], None] | None = None,
    reader: TaskRepository | None = None,
) -> web.Application:
    """The HTTP API's application.

    Args:
        manager: The engine the API reads and controls trees through (its database is the
            one every worker shares).
        settings: Limits, timings, authentication (default: `ApiSettings`).
        wake: Called when a tree is queued, so that a worker in this process takes it at
            once (`taskflow.runtime.Worker.wake`).
        reader: Where reads of trees and tasks go (default: the manager's repository; on
            a SQLite file, `taskflow.runtime.session.create_reader`'s is much faster).

    While the application runs, the process-wide trust profile is ``settings.trust``
    (``server``: trees from others), so that submitted trees are checked and run under it;
    when it stops, the environment's profile is in force again.
    """
    settings = settings or ApiSettings()
    from taskflow.api import metrics, openapi, schedules

    app = web.Application(
        middlewares=[metrics.count_errors, error_boundary, authentication],
        client_max_size=settings.max_body_bytes,
    )
    app[MANAGER] = manager
    app[READER] = reader or manager.task_repository
    app[KEYS] = KeyCache(settings.key_cache_seconds)
    app[SETTINGS] = settings
    app[LIMITS] = RateLimits(settings)
    app[WAKE] = wake or _nothing
    for module in (trees, tasks, sse, executors, dashboard):
        app.add_routes(module.routes)
    for extra in (openapi, schedules, metrics):
        app.add_routes(extra.routes)
    app.cleanup_ctx.append(_trust(settings.trust))
    app.cleanup_ctx.append(metrics.with_metrics)
    return app


def _trust(profile: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def under_trust(app: web.Application) -> AsyncIterator[None]:
        from taskflow.executors.trust import TrustSettings, use_trust

        use_trust(TrustSettings.from_environment(profile))
        try:
            yield
        finally:
            use_trust(None)  # the environment's again

    return under_trust


__all__ = ["create_app"]
