"""``/v1/executors``: what tasks can use, with their input and output schemas; and health."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from taskflow.api.context import MANAGER
from taskflow.api.problems import Problem, not_found
from taskflow.api.views import API
from taskflow.executors import ExecutorInfo

routes = web.RouteTableDef()


def executor_view(info: ExecutorInfo) -> dict[str, Any]:
    """An executor: its id, description, schemas, limits and safety settings."""
    try:
        safety = [setting.to_dict() for setting in info.create().safety()]
    except TypeError:  # a class that does not implement execute(): nothing to declare
        safety = []
    return {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "source": info.source,
        "max_concurrency": info.max_concurrency,
        "rerun_safe": info.rerun_safe,
        "input_schema": dict(info.input_schema),
        "output_schema": dict(info.output_schema) if info.output_schema is not None else None,
        "safety": safety,
    }


@routes.get(f"{API}/executors")
async def list_executors(request: web.Request) -> web.Response:
    """Every executor this server can run, by id."""
    registry = request.app[MANAGER].registry
    items = [executor_view(info) for info in sorted(registry, key=lambda i: i.id)]
    return web.json_response({"items": items})


@routes.get(f"{API}/executors/{{executor_id}}")
async def get_executor(request: web.Request) -> web.Response:
    """One executor."""
    executor_id = request.match_info["executor_id"]
    info = request.app[MANAGER].registry.get(executor_id)
    if info is None:
        raise not_found("executor", executor_id)
    return web.json_response(executor_view(info))


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process answers."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The database answers (503 otherwise)."""
    try:
        await request.app[MANAGER].storage.events.last_seq("readyz")
    except Exception as exc:
        raise Problem(
            503, "not-ready", "Not ready", f"the database does not answer: {exc}"
        ) from exc
    return web.json_response({"status": "ready"})


__all__ = ["executor_view", "routes"]
