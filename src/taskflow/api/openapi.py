"""The OpenAPI 3.1 document at ``/openapi.json``, and the reference page at ``/docs``.

Built by hand from the schemas the routes use (`taskflow.api.schemas`), with an example for
every operation (`taskflow.api.paths`). ``/docs`` is a small page
shipped in the package that renders the document in the browser (no CDN).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from taskflow import __version__
from taskflow.api.operations import error_responses
from taskflow.api.schemas import schemas

routes = web.RouteTableDef()


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    from taskflow.api.paths import api_paths

    paths = api_paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "taskflow",
            "version": __version__,
            "description": "Trees of tasks over HTTP: submit a tree (202 and a status URL), "
            "poll or stream its events, cancel, approve, retry. Errors are "
            "application/problem+json.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "tags": [{"name": n} for n in ("trees", "tasks", "schedules", "executors", "health")],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": error_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer KEY",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document."""
    return web.json_response(document())


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    """The API reference, rendered from /openapi.json in the browser."""
    page = resources.files("taskflow.api").joinpath("static/docs.html").read_text()
    return web.Response(text=page, content_type="text/html")


__all__ = ["document", "routes"]
