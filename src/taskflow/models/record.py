"""`TaskTree`: the record of a tree as a whole — its status, owner, times and lease.

A tree's status is rolled up from *all* its tasks: it is finished only when every task is
terminal (a root with an executor of its own may finish long before its children do). The
lease says which manager runs the tree; its ``token`` grows with every takeover, and every
write a manager makes is conditional on the token it holds (fencing).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from taskflow.models.task import Task, TaskStatus, utcnow


class TreeStatus(enum.StrEnum):
    """Where a tree stands.

    ``pending``: created, not started. ``queued``: created to be run by any free worker.
    ``in_progress``: started and not finished (running, or waiting to be resumed).
    ``completed``, ``failed``, ``cancelled``: every task is terminal.
    """

    PENDING = "pending"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        """Whether every task of the tree is terminal."""
        return self in FINISHED_TREE_STATUSES


FINISHED_TREE_STATUSES = frozenset({TreeStatus.COMPLETED, TreeStatus.FAILED, TreeStatus.CANCELLED})


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """Who runs a tree, until when unless renewed, and the fencing token of that claim.

    Attributes:
        owner: The manager's identity (host, process and a random part; see
            `taskflow.identity`), or ``None`` when nobody holds the tree.
        expires_at: When the claim runs out unless renewed.
        token: Grows with every claim; a write carrying an older token is refused.
    """

    owner: str | None
    expires_at: datetime | None
    token: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TaskTree:
    """One tree: the unit of work that is submitted, listed, owned, run and cancelled.

    Attributes:
        id: The tree's id, which is also its root task's id.
        name: The root task's name.
        user_id: Who owns the tree.
        status: See `TreeStatus`.
        concurrency: At most this many of its tasks run at once (``None``: the manager's limit).
        deadline_at: When the whole tree must be finished, or is cancelled.
        created_at: When it was created.
        updated_at: When its record last changed.
        started_at: When a manager first started it.
        finished_at: When its last task ended.
        lease: Who runs it (see `Lease`).
    """

    id: str
    name: str
    user_id: str | None = None
    status: TreeStatus = TreeStatus.PENDING
    concurrency: int | None = None
    deadline_at: datetime | None = None
    created_at: datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime = dataclasses.field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease: Lease = Lease(None, None, 0)

    @property
    def is_finished(self) -> bool:
        """Whether every task of the tree is terminal."""
        return self.status.is_finished

    def held_by(self, now: datetime | None = None) -> str | None:
        """The owner whose lease is still running at ``now``, or ``None``."""
        lease = self.lease
        if lease.owner is None or lease.expires_at is None:
            return None
        return lease.owner if lease.expires_at > (now or utcnow()) else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""

        def time(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "name": self.name,
            "user_id": self.user_id,
            "status": self.status.value,
            "concurrency": self.concurrency,
            "deadline_at": time(self.deadline_at),
            "created_at": time(self.created_at),
            "updated_at": time(self.updated_at),
            "started_at": time(self.started_at),
            "finished_at": time(self.finished_at),
            "lease": {
                "owner": self.lease.owner,
                "expires_at": time(self.lease.expires_at),
                "token": self.lease.token,
            },
        }

    @classmethod
    def of(cls, root: Task, *, status: TreeStatus = TreeStatus.PENDING) -> TaskTree:
        """The record of a new tree, from its root task."""
        return cls(
            id=root.id,
            name=root.name,
            user_id=root.user_id,
            status=status,
            concurrency=root.concurrency,
            deadline_at=root.deadline_at,
            created_at=root.created_at,
            updated_at=root.created_at,
        )


def rolled_up_status(statuses: Iterable[TaskStatus]) -> TreeStatus:
    """A tree's status from all its tasks' statuses.

    Every task completed: completed. All terminal: failed if any failed, else cancelled.
    Nothing started: pending. Anything else: in progress.
    """
    seen = set(statuses)
    if seen <= {TaskStatus.COMPLETED}:
        return TreeStatus.COMPLETED
    if all(status.is_terminal for status in seen):
        return TreeStatus.FAILED if TaskStatus.FAILED in seen else TreeStatus.CANCELLED
    if seen == {TaskStatus.PENDING}:
        return TreeStatus.PENDING
    return TreeStatus.IN_PROGRESS
