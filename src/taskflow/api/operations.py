"""The building blocks of the OpenAPI document: operations, their answers and errors."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
ERRORS = {
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


def error_responses() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for status, (name, description) in ERRORS.items():
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


def ok(schema: str, example: Any, status: str = "200", description: str = "OK") -> dict[str, Any]:
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
        **{c: {"$ref": f"#/components/responses/{ERRORS[c][0]}"} for c in codes},
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


__all__ = [
    "ERRORS",
    "ID_EXAMPLE",
    "PROBLEM_JSON",
    "error_responses",
    "ok",
    "operation",
    "path_id",
    "query",
]
