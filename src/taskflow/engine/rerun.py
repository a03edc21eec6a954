"""Explicit re-execution: put a failed or cancelled task (and optionally its dependents) back
to ``pending``, reopening the groups around it, so that running the tree again runs them."""

from __future__ import annotations

from collections.abc import Sequence

from taskflow.engine.graph import Node, RunGraph
from taskflow.exceptions import InvalidTransition
from taskflow.models import Task, TaskStatus

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


def reset(
    tasks: Sequence[Task], task_id: str, *, with_dependents: bool
) -> tuple[list[Task], dict[str, TaskStatus]]:
    """The tree's tasks with ``task_id`` (and its failed or cancelled dependents and
    descendants, on request) pending again and the finished groups above them reopened; and
    the statuses those tasks had (what their first write expects).

    Raises:
        InvalidTransition: the task is not failed or cancelled.
    """
    graph = RunGraph(tasks)
    target = graph.nodes[task_id]
    if target.status not in _RETRYABLE:
        raise InvalidTransition(
            task_id,
            target.status.value,
            "pending",
            "only failed or cancelled tasks can be run again",
        )
    chosen = [target, *graph.subtree(target)]
    if with_dependents:
        for dependent in _dependents(target):
            chosen.extend([dependent, *graph.subtree(dependent)])
    again = {node.id: node for node in chosen if node.status in _RETRYABLE}
    for node in list(again.values()):
        parent = node.parent
        while parent is not None and parent.is_group and parent.status in _RETRYABLE:
            again[parent.id] = parent
            parent = parent.parent
    cleared = {
        "status": TaskStatus.PENDING,
        "error": None,
        "error_type": None,
        "traceback": None,
        "result": None,
        "completed_at": None,
        "progress": 0.0,
        "message": None,
        "retry_at": None,
        "waiting": None,
        "cursor": None,
    }
    was = {task_id: node.status for task_id, node in again.items()}
    return [task.evolve_known(cleared) if task.id in was else task for task in tasks], was
