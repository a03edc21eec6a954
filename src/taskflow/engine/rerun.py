"""Explicit re-execution: put a failed or cancelled task (and optionally its dependents) back
to ``pending``, reopening the groups around it, so that running the tree again runs them."""

from __future__ import annotations

from collections.abc import Sequence

from taskflow.engine.graph import Node, RunGraph
from taskflow.exceptions import InvalidTransition
from taskflow.models import Task, TaskStatus, utcnow
from taskflow.storage import Change

_RETRYABLE = (TaskStatus.FAILED, TaskStatus.CANCELLED)


def _dependents(node: Node) -> list[Node]:
    found: list[Node] = []
    stack = [dependent for dependent, _ in node.dependents]
    while stack:
        current = stack.pop()
        if current not in found:
            found.append(current)
            stack.extend(dependent for dependent, _ in current.dependents)
    return found


def reset_changes(tasks: Sequence[Task], task_id: str, *, with_dependents: bool) -> list[Change]:
    """The changes that make ``task_id`` (and its failed or cancelled dependents and
    descendants, on request) pending again, and reopen the finished groups above them.

    Raises:
        InvalidTransition: the task is not failed or cancelled.
    """
    graph = RunGraph(tasks)
    target = graph.nodes[task_id]
    if target.task.status not in _RETRYABLE:
        raise InvalidTransition(
            task_id,
            target.task.status.value,
            "pending",
            "only failed or cancelled tasks can be run again",
        )
    chosen = [target, *graph.subtree(target)]
    if with_dependents:
        for dependent in _dependents(target):
            chosen.extend([dependent, *graph.subtree(dependent)])
    again = {node.task.id: node for node in chosen if node.task.status in _RETRYABLE}
    for node in list(again.values()):
        parent = node.parent
        while parent is not None and parent.is_group and parent.task.status in _RETRYABLE:
            again[parent.task.id] = parent
            parent = parent.parent
    now = utcnow()
    cleared = {
        "status": TaskStatus.PENDING,
        "error": None,
        "error_type": None,
        "traceback": None,
        "result": None,
        "completed_at": None,
        "progress": 0.0,
        "retry_at": None,
        "cancel_requested": None,
        "updated_at": now,
    }
    return [Change(node.task.id, node.task.status, cleared) for node in again.values()]
