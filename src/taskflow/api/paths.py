"""The OpenAPI paths of trees, tasks, executors and health (schedules: `schedules`)."""

from __future__ import annotations

from typing import Any

from taskflow.api.operations import (
    EXAMPLE_TREE,
    ID_EXAMPLE,
    SSE_EVENT,
    SSE_EXAMPLE,
    ok,
    operation,
    path_id,
    query,
)


def _submit() -> dict[str, Any]:
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
                **ok("TreeAccepted", accepted)["200"],
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
            "description": "The same key (per user) returns the tree the first request made; "
            "the same key with a body defining another tree is refused (422).",
            "schema": {"type": "string", "maxLength": 200},
        }
    ]
    return submit


def _listing() -> dict[str, Any]:
    from taskflow.api.schemas import TREE_PROPERTIES

    statuses = TREE_PROPERTIES["status"]["enum"]
    return operation(
        "listTrees",
        "List your trees (an admin: everyone's), newest first",
        ok("TreePage", {"items": [], "next_cursor": None}),
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


def _events() -> dict[str, Any]:
    return operation(
        "listTreeEvents",
        "The tree's stored events after a sequence number",
        ok("EventPage", {"items": [], "last_seq": 0, "finished": False}),
        errors=("400", "404"),
        params=[
            path_id("tree_id", "tree"),
            query("after", {"type": "integer", "minimum": 0}, "Events with seq above this."),
            query(
                "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most this many."
            ),
        ],
    )


def _stream() -> dict[str, Any]:
    return operation(
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


def _tree_paths() -> dict[str, Any]:
    detail = operation(
        "getTree",
        "A tree with every task",
        ok("TreeDetail", {"id": ID_EXAMPLE, "status": "completed", "tasks": []}),
        errors=("404",),
        params=[path_id("tree_id", "tree")],
    )
    return {
        "/v1/trees": {"post": _submit(), "get": _listing()},
        "/v1/trees/{tree_id}": {"get": detail},
        "/v1/trees/{tree_id}/events": {"get": _events()},
        "/v1/trees/{tree_id}/events/stream": {"get": _stream()},
    }


TASK_PARAM = [path_id("task_id", "task")]
TASK_ACCEPTED = {
    "id": ID_EXAMPLE,
    "tree_id": ID_EXAMPLE,
    "action": "notify",
    "status_url": f"/v1/trees/{ID_EXAMPLE}",
    "events_url": f"/v1/trees/{ID_EXAMPLE}/events/stream",
}
#: The control routes: action -> (summary, body schema, body example, body required).
TASK_ACTIONS: dict[str, tuple[str, str, Any, bool]] = {
    "cancel": ("Cancel the task and its subtree (a root: the tree)", "CancelRequest",
               {"reason": "not needed"}, False),
    "notify": ("Send data to the task's wait(key): an approval", "NotifyRequest",
               {"key": "approval", "data": {"by": "ann"}}, True),
    "retry": ("Run a failed or cancelled task again", "RetryRequest",
              {"with_dependents": True}, False),
}  # fmt: skip


def _action(name: str) -> dict[str, Any]:
    summary, body, example, required = TASK_ACTIONS[name]
    return operation(
        f"{name}Task",
        summary,
        ok("TaskAccepted", {**TASK_ACCEPTED, "action": name}, "202", "Requested"),
        errors=("404", "409", "422"),
        params=TASK_PARAM,
        body=(body, example, required),
        tag="tasks",
    )


def _task_paths() -> dict[str, Any]:
    one = operation(
        "getTask",
        "One task: result, error, attempts, what it waits for",
        ok("Task", {"id": ID_EXAMPLE, "key": "report", "status": "completed"}),
        errors=("404",),
        params=TASK_PARAM,
        tag="tasks",
    )
    paths: dict[str, Any] = {"/v1/tasks/{task_id}": {"get": one}}
    for name in TASK_ACTIONS:
        paths[f"/v1/tasks/{{task_id}}/{name}"] = {"post": _action(name)}
    return paths


def _metrics() -> dict[str, Any]:
    text = {
        "description": "Prometheus text exposition",
        "content": {
            "text/plain": {"schema": {"type": "string"}, "example": "taskflow_queue_depth 0.0\n"}
        },
    }
    summary = "Prometheus text: tasks by status and executor, queue depth, durations, retries"
    return operation("metrics", summary, {"200": text}, errors=("503",), tag="health")


def _other_paths() -> dict[str, Any]:
    health = ok("Health", {"status": "ok"})
    return {
        "/v1/executors": {
            "get": operation(
                "listExecutors",
                "What tasks can use, with their schemas",
                ok("ExecutorList", {"items": []}),
                tag="executors",
            )
        },
        "/v1/executors/{executor_id}": {
            "get": operation(
                "getExecutor",
                "One executor",
                ok("Executor", {"id": "noop", "input_schema": {}}),
                errors=("404",),
                params=[{**path_id("executor_id", "executor"), "example": "noop"}],
                tag="executors",
            )
        },
        "/metrics": {"get": _metrics()},
        "/healthz": {
            "get": operation("healthz", "The process answers", health, public=True, tag="health")
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "The database answers",
                ok("Health", {"status": "ready"}),
                errors=("503",),
                public=True,
                tag="health",
            )
        },
    }


SCHEDULE_EXAMPLE = {
    "name": "nightly-cleanup",
    "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris"},
    "tasks": [{"key": "prune", "executor": "noop"}],
}
ONE_SCHEDULE = {"id": ID_EXAMPLE, "name": "nightly-cleanup", "state": "active",
                "spec": {"cron": "0 2 * * *"}}  # fmt: skip
SCHEDULE_PARAM = [path_id("schedule_id", "schedule")]
FIRE = {"nominal": "2026-12-02T01:00:00+00:00", "kind": "trigger", "status": "started"}


def _schedule(op_id: str, summary: str, answer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    extra.setdefault("params", SCHEDULE_PARAM)
    extra.setdefault("errors", ("404", "409", "422"))
    return operation(op_id, summary, answer, tag="schedules", **extra)


def _schedule_paths() -> dict[str, Any]:
    one = ok("Schedule", ONE_SCHEDULE)
    base, item = "/v1/schedules", "/v1/schedules/{schedule_id}"
    unpause = ("UnpauseRequest", {"replay": False}, False)
    return {
        base: {
            "get": _schedule("listSchedules", "Your schedules (an admin: everyone's)",
                             ok("ScheduleList", {"items": [ONE_SCHEDULE]}), params=None, errors=()),
            "post": _schedule("createSchedule", "A schedule: a tree file with a schedule section",
                              ok("Schedule", ONE_SCHEDULE, "201", "Created"), params=None,
                              errors=("413", "422"), body=("TreeFile", SCHEDULE_EXAMPLE, True)),
        },
        item: {
            "get": _schedule("getSchedule", "A schedule, its next fire times and latest fires",
                             one, errors=("404",)),
            "delete": _schedule("deleteSchedule", "Delete a schedule (its trees stay)",
                                {"204": {"description": "Deleted"}}, errors=("404",)),
        },
        f"{item}/pause": {"post": _schedule("pauseSchedule", "Stop firing", one)},
        f"{item}/unpause": {"post": _schedule("unpauseSchedule", "Fire again", one, body=unpause)},
        f"{item}/trigger": {"post": _schedule("triggerSchedule", "Start the schedule's tree now",
                                              ok("Fire", FIRE, "202", "Queued"))},
    }  # fmt: skip


def api_paths() -> dict[str, Any]:
    """Every path of the API."""
    return {**_tree_paths(), **_task_paths(), **_schedule_paths(), **_other_paths()}


__all__ = ["api_paths"]
