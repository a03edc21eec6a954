"""The HTTP API's one error boundary: every error becomes ``application/problem+json``.

RFC 9457 problem details: ``type``, ``title``, ``status``, ``detail``, plus what is known of
the cause — the task, the field path, the line of the submitted document (``errors`` lists
every problem of a definition at once). Handlers raise `Problem` for HTTP-level refusals
(401, 403, 404, 413, 429) or let a `TaskflowError` through; `error_boundary` maps both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from taskflow.exceptions import (
    AmbiguousId,
    ConfigurationError,
    DefinitionError,
    DefinitionErrors,
    InvalidTransition,
    LeaseLost,
    StorageError,
    TaskConflict,
    TaskflowError,
    TaskNotFound,
    TreeBusy,
)

logger = logging.getLogger("taskflow.api")

PROBLEM_TYPE = "application/problem+json"
#: Where each kind of problem is described (the API reference's section of that name).
TYPE_BASE = "https://taskflow.dev/problems/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """An HTTP error with a problem+json body.

    Args:
        status: The HTTP status.
        kind: The last part of the problem's ``type`` URI (``not-found``).
        title: A short summary, the same for every problem of this kind.
        detail: What happened this time.
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
        extra: More members of the body (``task``, ``field``, ``line``, ``errors``).
    """

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        body: dict[str, Any] = {"type": TYPE_BASE + self.kind, "title": self.title}
        body["status"] = self.status
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body

    def response(self, instance: str | None = None) -> web.Response:
        """The response carrying it."""
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(instance)),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


async def body_text(request: web.Request) -> str:
    """The request body as text.

    Raises:
        Problem: 422 for a body that is not UTF-8.
    """
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "invalid-body", "Invalid request body", f"the body is not UTF-8: {exc.reason}"
        ) from None
    if "\\u" in text:  # a JSON escape may stand for a lone surrogate, which no database stores
        _refuse_surrogates(text)
    return text


def _refuse_surrogates(text: str) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        return  # not JSON: the route says so
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        raise Problem(
            422,
            "invalid-body",
            "Invalid request body",
            f"the body holds a lone surrogate ({bad}), which is not valid Unicode",
        ) from None


def not_found(what: str, ident: str) -> Problem:
    """404 for an id that does not exist — or belongs to another user (the same answer, so
    that ids cannot be probed)."""
    return Problem(404, "not-found", "Not found", f"{what} {ident!r} does not exist", id=ident)


LineOf = Callable[[str], "int | None"]


def definition_problem(exc: DefinitionError, line_of: LineOf | None = None) -> Problem:
    """422 for a definition, with every problem (task, field path, line of the document:
    ``line_of(task_key)`` finds a task's line where the error itself does not say)."""
    errors = [
        _one_error(e, line_of) for e in (exc.errors if isinstance(exc, DefinitionErrors) else [exc])
    ]
    first = errors[0]
    return Problem(
        422,
        "invalid-definition",
        "Invalid tree definition",
        str(exc),
        task=first.get("task"),
        field=first.get("field"),
        line=first.get("line"),
        errors=errors,
    )


def _one_error(exc: DefinitionError, line_of: LineOf | None) -> dict[str, Any]:
    cause = exc.__cause__
    field = getattr(exc, "field", None) or getattr(cause, "path", None)
    line = getattr(exc, "line", None) or getattr(cause, "line", None)
    if line is None and line_of is not None and exc.task:
        line = line_of(exc.task)
    found = {"detail": str(exc), "task": exc.task, "field": field, "line": line}
    return {k: v for k, v in found.items() if v is not None}


def problem_of(exc: TaskflowError) -> Problem:
    """The problem a taskflow error means over HTTP."""
    if isinstance(exc, TaskNotFound | AmbiguousId):
        return Problem(404, "not-found", "Not found", str(exc))
    if isinstance(exc, InvalidTransition | TaskConflict | TreeBusy | LeaseLost):
        return Problem(409, "conflict", "Conflict", str(exc), task=getattr(exc, "task_id", None))
    if isinstance(exc, DefinitionError):
        return definition_problem(exc)
    if isinstance(exc, StorageError):
        return Problem(503, "storage", "The database is unavailable", str(exc))
    if isinstance(exc, ConfigurationError):
        return Problem(500, "configuration", "Server misconfigured", str(exc))
    return Problem(400, "bad-request", "Bad request", str(exc))


def _http_problem(exc: web.HTTPException) -> Problem:
    titles = {
        404: ("not-found", "Not found"),
        405: ("method-not-allowed", "Method not allowed"),
        413: ("too-large", "Request body too large"),
    }
    kind, title = titles.get(exc.status, ("http", exc.reason))
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return Problem(exc.status, kind, title, exc.text if exc.status != 404 else None,
                   headers=headers)  # fmt: skip


@web.middleware
async def error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place an error becomes an HTTP status and a problem+json body."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except TaskflowError as exc:
        return problem_of(exc).response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_problem(exc).response(request.path)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return Problem(500, "internal", "Internal server error").response(request.path)


__all__ = [
    "PROBLEM_TYPE",
    "Problem",
    "body_text",
    "definition_problem",
    "error_boundary",
    "not_found",
    "problem_of",
]
