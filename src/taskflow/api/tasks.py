"""``/v1/tasks/{id}``: read one task; cancel it, send it data, run it again.

Control requests answer 202: the change is requested (and stored); the tree's manager acts
on it — here, or in the process that runs the tree, within a poll.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
from aiohttp import web

from taskflow.api.auth import principal_of
from taskflow.api.context import MANAGER, READER, WAKE
from taskflow.api.problems import Problem, body_text, not_found
from taskflow.api.views import API, task_view, tree_urls
from taskflow.models import Task

routes = web.RouteTableDef()
#: The request bodies of the control routes (the OpenAPI document shows these same schemas).
CANCEL_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 1000}},
}
NOTIFY_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key"],
    "properties": {
        "key": {"type": "string", "minLength": 1, "maxLength": 200},
        "data": {"description": "Any JSON value; the task's context.wait(key) returns it."},
    },
}
RETRY_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"with_dependents": {"type": "boolean", "default": False}},
}


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    from taskflow.api.schedules import UNPAUSE_BODY

    bodies = {"cancel": CANCEL_BODY, "notify": NOTIFY_BODY, "retry": RETRY_BODY}
    schema = {**bodies, "unpause": UNPAUSE_BODY}[name]
    return jsonschema.Draft202012Validator(schema)


async def json_body(request: web.Request, name: str, *, optional: bool) -> dict[str, Any]:
    """The request's JSON body, checked against its schema.

    Raises:
        Problem: 422 naming the field for a body that is not JSON or breaks the schema.
    """
    text = await body_text(request)
    if not text.strip():
        if optional:
            return {}
        raise Problem(422, "invalid-body", "Invalid request body", "a JSON body is required")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise Problem(
            422, "invalid-body", "Invalid request body", f"not JSON: {exc}", line=exc_line(exc)
        ) from None
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(body))
    if error is not None:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise Problem(
            422,
            "invalid-body",
            "Invalid request body",
            f"{field.lstrip('.') or 'the body'}: {error.message}",
            field=field.lstrip(".") or None,
        )
    assert isinstance(body, dict)
    return body


def exc_line(exc: ValueError) -> int | None:
    """The line a `json.JSONDecodeError` points at."""
    return getattr(exc, "lineno", None)


async def visible_task(request: web.Request) -> Task:
    """The task named in the path, if the caller may see its tree (404 otherwise)."""
    task_id = request.match_info["task_id"]
    repository = request.app[READER]
    task = await repository.get_task(task_id)
    if task is None:
        raise not_found("task", task_id)
    tree = await repository.get_tree(task.tree_id)
    if tree is None or not principal_of(request).sees(tree.user_id):
        raise not_found("task", task_id)
    return task


def _accepted(task: Task, action: str) -> web.Response:
    body = {"id": task.id, "tree_id": task.tree_id, "action": action, **tree_urls(task.tree_id)}
    return web.json_response(body, status=202)


@routes.get(f"{API}/tasks/{{task_id}}")
async def get_task(request: web.Request) -> web.Response:
    """One task, with its result, error, attempts and what it waits for."""
    task = await visible_task(request)
    return web.json_response(task_view(task), dumps=lambda v: json.dumps(v, default=str))


@routes.post(f"{API}/tasks/{{task_id}}/cancel")
async def cancel_task(request: web.Request) -> web.Response:
    """Cancel the task, its subtree and what requires it (a root: the whole tree)."""
    task = await visible_task(request)
    body = await json_body(request, "cancel", optional=True)
    who = principal_of(request).user_id
    await request.app[MANAGER].cancel(task.id, body.get("reason") or f"cancelled by {who}")
    return _accepted(task, "cancel")


@routes.post(f"{API}/tasks/{{task_id}}/notify")
async def notify_task(request: web.Request) -> web.Response:
    """Send data to the task's ``context.wait(key)`` (an approval, an answer)."""
    task = await visible_task(request)
    body = await json_body(request, "notify", optional=False)
    await request.app[MANAGER].notify(task.id, body["key"], body.get("data"))
    return _accepted(task, "notify")


@routes.post(f"{API}/tasks/{{task_id}}/retry")
async def retry_task(request: web.Request) -> web.Response:
    """Run a failed or cancelled task again (with its dependents, on request): the task is
    reset here and its tree queued for a worker (this process runs nothing)."""
    task = await visible_task(request)
    body = await json_body(request, "retry", optional=True)
    manager = request.app[MANAGER]
    await manager.retry_task(task.id, with_dependents=bool(body.get("with_dependents")), queue=True)
    request.app[WAKE]()
    return _accepted(task, "retry")


__all__ = ["CANCEL_BODY", "NOTIFY_BODY", "RETRY_BODY", "json_body", "routes", "visible_task"]
