"""The JSON the API answers with: trees, tasks, events, pages (one function per shape)."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from taskflow.api.problems import Problem
from taskflow.events import TaskEvent
from taskflow.models import Task, TaskTree, TaskTreeNode

API = "/v1"


def tree_urls(tree_id: str) -> dict[str, str]:
    """Where a tree's status and its live events are."""
    return {
        "status_url": f"{API}/trees/{tree_id}",
        "events_url": f"{API}/trees/{tree_id}/events/stream",
    }


def tree_summary(tree: TaskTree, progress: float | None = None) -> dict[str, Any]:
    """A tree as listed: its record (who runs it, not the lease's token), its progress (its
    root's, from 0 to 1; 1 once finished) and its URLs."""
    data = tree.to_dict()
    data["progress"] = 1.0 if tree.is_finished else (progress or 0.0)
    lease = data.pop("lease")
    data["owner"] = lease["owner"] if tree.held_by() else None
    data.update(tree_urls(tree.id))
    return data


def task_view(task: Task) -> dict[str, Any]:
    """A task: every field, and what it waits for (the key of its ``context.wait``)."""
    data = task.to_dict()
    data["waiting_for"] = task.waiting.get("key") if task.waiting else None
    return data


def tree_detail(tree: TaskTree, tasks: Sequence[Task]) -> dict[str, Any]:
    """A tree with every task: status, progress, result, error, times, waits."""
    data = tree_summary(tree)
    data["progress"] = TaskTreeNode.from_tasks(tasks).calculate_progress() if tasks else 0.0
    data["counts"] = dict(Counter(task.status.value for task in tasks))
    data["waiting"] = [task.id for task in tasks if task.waiting]
    data["tasks"] = [task_view(task) for task in tasks]
    return data


def event_view(event: TaskEvent) -> dict[str, Any]:
    """An event of the tree's log."""
    return event.to_dict()


def encode_cursor(tree: TaskTree) -> str:
    """The opaque cursor of the page after ``tree``."""
    raw = f"{tree.created_at.isoformat()}|{tree.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor stands for.

    Raises:
        Problem: 400 for a cursor this server did not make.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, tree_id = raw.partition("|")
        stamp = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_query("cursor", "not a cursor this server made") from None
    if not tree_id or stamp.tzinfo is None:
        raise bad_query("cursor", "not a cursor this server made")
    return stamp, tree_id


def bad_query(name: str, detail: str) -> Problem:
    """400 naming the query parameter."""
    return Problem(400, "bad-request", "Bad request", f"{name}: {detail}", field=name)


__all__ = [
    "API",
    "bad_query",
    "decode_cursor",
    "encode_cursor",
    "event_view",
    "task_view",
    "tree_detail",
    "tree_summary",
    "tree_urls",
]
