"""What a tree run does first: re-queue tasks run again on request, and settle the attempts
a manager that died left running.

A task reset by `taskflow.engine.rerun` is written ``pending`` in the run's first batch. A
task left ``in_progress`` whose attempt no backend follows any more runs again as a new
attempt, or fails as not safe to re-run (`taskflow.engine.judge.judge_left_running`); one under a
cancelled group is cancelled, as its manager was doing when it died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from taskflow.engine.batch import WritePipeline
from taskflow.engine.changes import Changes
from taskflow.engine.decide import Decision
from taskflow.engine.graph import Node, RunGraph
from taskflow.engine.judge import judge_left_running
from taskflow.events import EventType
from taskflow.executors import ExecutorRegistry
from taskflow.models import ErrorType, TaskStatus

S = TaskStatus


def apply_resets(
    graph: RunGraph, resets: Mapping[str, TaskStatus], batch: WritePipeline, now: datetime
) -> None:
    """Write the tasks run again on request pending (``resets``: their status before)."""
    for task_id, was in resets.items():
        node = graph.nodes[task_id]
        node.dirty_from = was
        node.updated_at = now
        batch.dirty.append(node)
        data = {"key": node.key, "status": node.status.value, "attempt": node.attempt}
        batch.emit(node, EventType.RETRYING, {**data, "reason": "run again"}, now)


def left_running(graph: RunGraph) -> list[Node]:
    """The tasks the tree's last manager left ``in_progress``."""
    return [node for node in graph if not node.is_group and node.status is S.IN_PROGRESS]


def recover(
    graph: RunGraph,
    *,
    changes: Changes,
    batch: WritePipeline,
    registry: ExecutorRegistry,
    followed: set[str],
    now: datetime,
) -> None:
    """Tasks left running by a manager that died: run again, or fail if not safe to —
    except those whose attempts the backend still follows (``followed``: on other machines)."""
    for node in left_running(graph):
        if node.id in followed:
            continue
        decision = judge_left_running(node, registry=registry, now=now)
        batch.released.append((node.id, node.attempt))  # its signals are due again
        cancelled = next((up for up in _ancestors(node) if up.status is S.CANCELLED), None)
        if cancelled is not None:  # it was being stopped when its manager died
            why = f"parent {cancelled.key!r} was cancelled: {cancelled.error or 'cancelled'}"
            decision = Decision(
                status=S.CANCELLED,
                error=why,
                error_type=cancelled.error_type or ErrorType.CANCELLED,
                record=decision.record,
            )
        if decision.status is S.PENDING:
            changes.requeue(node, decision, EventType.RESUMED)
        else:
            changes.finish(node, decision)
            graph.finished(node)  # its dependents and parent are examined next


def _ancestors(node: Node) -> Iterable[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent
