"""The schemas of the OpenAPI document: what every route takes and answers.

The tree definition is the shipped tree-file schema itself (its ``$defs`` become components
named ``TreeFile_*``); the control bodies are the schemas the routes validate with.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from taskflow.api.tasks import CANCEL_BODY, NOTIFY_BODY, RETRY_BODY
from taskflow.events import EventType
from taskflow.models import TaskStatus, TreeStatus
from taskflow.treefile import tree_file_schema

TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}
OBJECT = {"type": "object"}
NULLABLE_OBJECT = {"type": ["object", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def tree_file_components() -> dict[str, Any]:
    """The tree-file schema as components: ``TreeFile`` and one ``TreeFile_*`` per ``$defs``."""
    schema = copy.deepcopy(tree_file_schema())
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps({"TreeFile": schema, **{f"TreeFile_{k}": v for k, v in defs.items()}})
    return dict(json.loads(text.replace('"#/$defs/', '"#/components/schemas/TreeFile_')))


_TREE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "user_id": NULLABLE_STRING,
    "status": {"type": "string", "enum": [s.value for s in TreeStatus]},
    "concurrency": {"type": ["integer", "null"]},
    "deadline_at": TIME,
    "created_at": TIME,
    "updated_at": TIME,
    "started_at": TIME,
    "finished_at": TIME,
    "owner": {**NULLABLE_STRING, "description": "The process that runs it now, if any."},
    "progress": {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "Rolled up from every task (1 once the tree is finished).",
    },
    "status_url": {"type": "string"},
    "events_url": {"type": "string"},
}
_TASK_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "tree_id": {"type": "string"},
    "parent_id": NULLABLE_STRING,
    "key": {"type": "string"},
    "name": {"type": "string"},
    "executor": NULLABLE_STRING,
    "user_id": NULLABLE_STRING,
    "inputs": OBJECT,
    "params": OBJECT,
    "dependencies": {"type": "array", "items": OBJECT},
    "priority": {"type": "integer"},
    "position": {"type": "integer"},
    "status": {"type": "string", "enum": [s.value for s in TaskStatus]},
    "progress": {"type": "number"},
    "message": NULLABLE_STRING,
    "result": {**NULLABLE_OBJECT, "description": "What the executor returned, once completed."},
    "error": NULLABLE_STRING,
    "error_type": NULLABLE_STRING,
    "traceback": NULLABLE_STRING,
    "attempt": {"type": "integer"},
    "attempts": {"type": "array", "items": OBJECT},
    "timeout": {"type": ["number", "null"]},
    "soft_timeout": {"type": ["number", "null"]},
    "retry": NULLABLE_OBJECT,
    "retry_at": TIME,
    "waiting": {**NULLABLE_OBJECT, "description": "While it waits: {key, since, timeout}."},
    "waiting_for": {**NULLABLE_STRING, "description": "The key it waits for (notify it)."},
    "deadline_at": TIME,
    "concurrency": {"type": ["integer", "null"]},
    "created_at": TIME,
    "updated_at": TIME,
    "started_at": TIME,
    "completed_at": TIME,
}


def schemas() -> dict[str, Any]:
    """Every component schema."""
    found: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details, with the task, field and line if known.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "task": {"type": "string"},
                "field": {"type": "string"},
                "line": {"type": "integer"},
                "errors": {"type": "array", "items": OBJECT},
                "retry_after": {"type": "integer"},
                "limit": {"type": "integer"},
            },
        },
        "TreeAccepted": {
            "type": "object",
            "required": ["id", "status", "status_url", "events_url"],
            "properties": {
                k: _TREE_PROPERTIES[k] for k in ("id", "status", "status_url", "events_url")
            },
        },
        "TreeSummary": {
            "type": "object",
            "required": ["id", "status"],
            "properties": _TREE_PROPERTIES,
        },
        "Task": {
            "type": "object",
            "required": ["id", "key", "status"],
            "properties": _TASK_PROPERTIES,
        },
        "TreeDetail": {
            "type": "object",
            "required": ["id", "status", "tasks"],
            "properties": {
                **_TREE_PROPERTIES,
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "waiting": {"type": "array", "items": {"type": "string"}},
                "tasks": {"type": "array", "items": _ref("Task")},
            },
        },
        "TreePage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("TreeSummary")},
                "next_cursor": {
                    **NULLABLE_STRING,
                    "description": "Pass as ?cursor= for the next page.",
                },
            },
        },
        "Event": {
            "type": "object",
            "required": ["seq", "type", "task_id", "tree_id", "data", "time"],
            "properties": {
                "seq": {"type": "integer"},
                "type": {"type": "string", "enum": [t.value for t in EventType]},
                "task_id": {"type": "string"},
                "tree_id": {"type": "string"},
                "data": OBJECT,
                "time": {"type": "string", "format": "date-time"},
            },
        },
        "EventPage": {
            "type": "object",
            "required": ["items", "last_seq", "finished"],
            "properties": {
                "items": {"type": "array", "items": _ref("Event")},
                "last_seq": {"type": "integer"},
                "finished": {"type": "boolean"},
            },
        },
        "TaskAccepted": {
            "type": "object",
            "required": ["id", "tree_id", "action", "status_url", "events_url"],
            "properties": {
                "id": {"type": "string"},
                "tree_id": {"type": "string"},
                "action": {"type": "string", "enum": ["cancel", "notify", "retry"]},
                "status_url": {"type": "string"},
                "events_url": {"type": "string"},
            },
        },
        "Executor": {
            "type": "object",
            "required": ["id", "input_schema"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "source": NULLABLE_STRING,
                "max_concurrency": {"type": ["integer", "null"]},
                "rerun_safe": {"type": "boolean"},
                "input_schema": OBJECT,
                "output_schema": NULLABLE_OBJECT,
                "safety": {"type": "array", "items": OBJECT},
            },
        },
        "ExecutorList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref("Executor")}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}},
        },
        "CancelRequest": CANCEL_BODY,
        "NotifyRequest": NOTIFY_BODY,
        "RetryRequest": RETRY_BODY,
    }
    from taskflow.api.schedules import SCHEDULE_SCHEMAS

    found.update(SCHEDULE_SCHEMAS)
    found.update(tree_file_components())
    return found


__all__ = ["schemas", "tree_file_components"]
