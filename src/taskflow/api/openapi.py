"""The OpenAPI 3.1 document at ``/openapi.json``, and the reference page at ``/docs``.

Built by hand from the schemas the routes use (`taskflow.api.schemas`), with an example for
every operation. ``/docs`` is a small page shipped in the package that renders the document
in the browser (no CDN).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from taskflow import __version__
from taskflow.api.schemas import schemas

routes = web.RouteTableDef()
PROBLEM_JSON = "application/problem+json"
_ERRORS = {
    "400": ("BadRequest", "A query parameter is malformed (`field` names it)."),
    "401": ("Unauthorized", "No API key, or an unknown or revoked one."),
    "403": ("Forbidden", "The key lacks the scope (read for GET, write otherwise)."),
    "404": ("NotFound", "No such id — or it belongs to another user."),
    "409": ("Conflict", "The task's state does not allow it (finished, running elsewhere)."),
    "413": ("TooLarge", "The body, or the tree (tasks per tree), is over the server's limit."),
    "422": ("Invalid", "The definition or body is invalid: task, field and line of each problem."),
    "429": ("RateLimited", "The key's rate limit is reached; retry after `Retry-After` seconds."),
    "503": ("Unavailable", "The database does not answer."),
}
EXAMPLE_TREE = {
    "name": "nightly-report",
    "parameters": {"day": "2026-12-01"},
    "tasks": [
        {
            "key": "fetch",
            "executor": "http.request",
            "inputs": {"url": "https://example.com/rows?day=${params.day}"},
        },
        {
            "key": "approve",
            "executor": "signal.wait",
            "inputs": {"key": "approval"},
            "dependencies": ["fetch"],
        },
        {"key": "report", "executor": "aggregate", "dependencies": ["approve"]},
    ],
}
ID_EXAMPLE = "3f2a8c1e-5d7b-4a39-9c1e-2b4d6f8a0c13"
#: One event of the stream as SSE parsers see it (``data`` is an Event as JSON text).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": ["string", "integer"]},
    },
}
SSE_EXAMPLE = (
    'id: 1\nevent: started\ndata: {"seq": 1, "type": "started"}\n\n'
    'event: end\ndata: {"status": "completed"}\n\n'
)


def _error_responses() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for status, (name, description) in _ERRORS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == "401":
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == "429":
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        found[name] = response
    return found


def _ok(schema: str, example: Any, status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{schema}"},
                    "example": example,
                }
            },
        }
    }


def operation(
    op_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    errors: tuple[str, ...] = (),
    params: list[dict[str, Any]] | None = None,
    body: tuple[str, Any, bool] | None = None,
    tag: str = "trees",
    public: bool = False,
) -> dict[str, Any]:
    """One operation: its answers plus the errors it may give (401, 403, 429 for any
    authenticated one)."""
    codes = errors if public else ("401", "403", "429", *errors)
    out: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    out["responses"] = {
        **responses,
        **{c: {"$ref": f"#/components/responses/{_ERRORS[c][0]}"} for c in codes},
    }
    if params:
        out["parameters"] = params
    if body is not None:
        name, example, required = body
        out["requestBody"] = {
            "required": required,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{name}"},
                    "example": example,
                }
            },
        }
    if public:
        out["security"] = []
    return out


def path_id(name: str, what: str) -> dict[str, Any]:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id.",
        "schema": {"type": "string"},
        "example": ID_EXAMPLE,
    }


def query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **extra,
    }


def _tree_paths() -> dict[str, Any]:
    from taskflow.api.schemas import _TREE_PROPERTIES

    statuses = _TREE_PROPERTIES["status"]["enum"]
    accepted = {
        "id": ID_EXAMPLE,
        "status": "queued",
        "status_url": f"/v1/trees/{ID_EXAMPLE}",
        "events_url": f"/v1/trees/{ID_EXAMPLE}/events/stream",
    }
    submit = operation(
        "submitTree",
        "Submit a tree (a tree file's document as JSON); it is queued for a worker",
        {
            "202": {
                **_ok("TreeAccepted", accepted)["200"],
                "description": "Queued; poll status_url or stream events_url",
                "headers": {"Location": {"schema": {"type": "string"}}},
            }
        },
        errors=("413", "422"),
        body=("TreeFile", EXAMPLE_TREE, True),
    )
    submit["parameters"] = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "The same key (per user) returns the tree the first request made.",
            "schema": {"type": "string", "maxLength": 200},
        }
    ]
    listing = operation(
        "listTrees",
        "List your trees (an admin: everyone's), newest first",
        _ok("TreePage", {"items": [], "next_cursor": None}),
        errors=("400",),
        params=[
            query(
                "status",
                {"type": "string", "enum": statuses},
                "Only trees in this status (repeatable).",
            ),
            query("name", {"type": "string"}, "Only trees whose name contains this."),
            query("since", {"type": "string", "format": "date-time"}, "Only trees created since."),
            query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                "Page size.",
            ),
            query("cursor", {"type": "string"}, "next_cursor of the previous page."),
        ],
    )
    detail = operation(
        "getTree",
        "A tree with every task",
        _ok("TreeDetail", {"id": ID_EXAMPLE, "status": "completed", "tasks": []}),
        errors=("404",),
        params=[path_id("tree_id", "tree")],
    )
    events = operation(
        "listTreeEvents",
        "The tree's stored events after a sequence number",
        _ok("EventPage", {"items": [], "last_seq": 0, "finished": False}),
        errors=("400", "404"),
        params=[
            path_id("tree_id", "tree"),
            query("after", {"type": "integer", "minimum": 0}, "Events with seq above this."),
            query(
                "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most this many."
            ),
        ],
    )
    stream = operation(
        "streamTreeEvents",
        "Server-Sent Events: id is the event's seq; Last-Event-ID resumes; an end event closes",
        {
            "200": {
                "description": "text/event-stream: `event: TYPE`, `data: Event`, then `event: end`",
                "content": {
                    "text/event-stream": {
                        "schema": SSE_EVENT,
                        "example": SSE_EXAMPLE,
                    }
                },
            }
        },
        errors=("400", "404"),
        params=[
            path_id("tree_id", "tree"),
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
            },
            query("after", {"type": "integer", "minimum": 0}, "Like Last-Event-ID."),
        ],
    )
    return {
        "/v1/trees": {"post": submit, "get": listing},
        "/v1/trees/{tree_id}": {"get": detail},
        "/v1/trees/{tree_id}/events": {"get": events},
        "/v1/trees/{tree_id}/events/stream": {"get": stream},
    }


def _task_paths() -> dict[str, Any]:
    task_param = [path_id("task_id", "task")]
    accepted = {
        "id": ID_EXAMPLE,
        "tree_id": ID_EXAMPLE,
        "action": "notify",
        "status_url": f"/v1/trees/{ID_EXAMPLE}",
        "events_url": f"/v1/trees/{ID_EXAMPLE}/events/stream",
    }

    def action(name: str, summary: str, body: str, example: Any, required: bool) -> dict[str, Any]:
        return operation(
            f"{name}Task",
            summary,
            _ok("TaskAccepted", {**accepted, "action": name}, "202", "Requested"),
            errors=("404", "409", "422"),
            params=task_param,
            body=(body, example, required),
            tag="tasks",
        )

    return {
        "/v1/tasks/{task_id}": {
            "get": operation(
                "getTask",
                "One task: result, error, attempts, what it waits for",
                _ok("Task", {"id": ID_EXAMPLE, "key": "report", "status": "completed"}),
                errors=("404",),
                params=task_param,
                tag="tasks",
            )
        },
        "/v1/tasks/{task_id}/cancel": {
            "post": action(
                "cancel",
                "Cancel the task and its subtree (a root: the tree)",
                "CancelRequest",
                {"reason": "not needed"},
                False,
            )
        },
        "/v1/tasks/{task_id}/notify": {
            "post": action(
                "notify",
                "Send data to the task's wait(key): an approval",
                "NotifyRequest",
                {"key": "approval", "data": {"by": "ann"}},
                True,
            )
        },
        "/v1/tasks/{task_id}/retry": {
            "post": action(
                "retry",
                "Run a failed or cancelled task again",
                "RetryRequest",
                {"with_dependents": True},
                False,
            )
        },
    }


def _other_paths() -> dict[str, Any]:
    health = _ok("Health", {"status": "ok"})
    return {
        "/v1/executors": {
            "get": operation(
                "listExecutors",
                "What tasks can use, with their schemas",
                _ok("ExecutorList", {"items": []}),
                tag="executors",
            )
        },
        "/v1/executors/{executor_id}": {
            "get": operation(
                "getExecutor",
                "One executor",
                _ok("Executor", {"id": "noop", "input_schema": {}}),
                errors=("404",),
                params=[{**path_id("executor_id", "executor"), "example": "noop"}],
                tag="executors",
            )
        },
        "/metrics": {
            "get": {
                **operation(
                    "metrics",
                    "Prometheus text: tasks by status and executor, queue "
                    "depth, durations, retries, errors (admin keys)",
                    {},
                    tag="health",
                ),
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition",
                        "content": {
                            "text/plain": {
                                "schema": {"type": "string"},
                                "example": "taskflow_queue_depth 0.0\n",
                            }
                        },
                    },
                    **{
                        c: {"$ref": f"#/components/responses/{_ERRORS[c][0]}"}
                        for c in ("401", "403", "429", "503")
                    },
                },
            }
        },
        "/healthz": {
            "get": operation("healthz", "The process answers", health, public=True, tag="health")
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "The database answers",
                _ok("Health", {"status": "ready"}),
                errors=("503",),
                public=True,
                tag="health",
            )
        },
    }


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    from taskflow.api.schedules import schedule_paths

    paths = {**_tree_paths(), **_task_paths(), **schedule_paths(), **_other_paths()}
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
            "responses": _error_responses(),
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
