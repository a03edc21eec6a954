"""The typed records that storage reads and writes: queries, task states, tree batches.

The engine never hands storage a column dict. What a tree run writes in one transaction is a
`TreeBatch`: the new `TaskState` of every task it changed (compare-and-set on the status the
task had when the batch opened), the tree's own `TreeState`, the events describing all of it,
the signals it consumed or gave back — all conditional on the run's lease (fencing).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from taskflow.events import TaskEvent
from taskflow.models import AttemptRecord, Dependency, TaskStatus, TreeStatus


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TaskQuery:
    """Which tasks to select. Unset criteria match everything; results come in tree order.

    ``with_results=False`` leaves ``result``, ``inputs`` and ``traceback`` out of what is read
    (they are ``None``/empty in the tasks returned): listings stay cheap however large results
    are.
    """

    ids: Collection[str] | None = None
    id_prefix: str | None = None
    key: str | None = None
    tree_id: str | None = None
    parent_id: str | None = None
    user_id: str | None = None
    statuses: Collection[TaskStatus] | None = None
    roots_only: bool = False
    waiting: bool = False
    with_results: bool = True
    limit: int | None = None
    offset: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TreeQuery:
    """Which tree records to select, newest first (keyset pagination with ``before``).

    Attributes:
        ids: Only these trees.
        user_id: Only this user's trees.
        statuses: Only trees in these statuses.
        name: Only trees whose name contains this text.
        since: Only trees created at or after this time.
        before: Only trees created before this ``(created_at, id)`` (the next page's cursor).
        limit: At most this many.
    """

    ids: Collection[str] | None = None
    id_prefix: str | None = None
    user_id: str | None = None
    statuses: Collection[TreeStatus] | None = None
    name: str | None = None
    since: datetime | None = None
    before: tuple[datetime, str] | None = None
    limit: int | None = None


class TaskState(NamedTuple):
    """Everything about a task that changes while its tree runs, to be written at once.

    The write is a compare-and-set: it applies only if the task's stored status is still
    ``expected`` (the status it had when the batch opened). A named tuple: one is made per
    changed task per batch, on the engine's hot path.
    """

    id: str
    expected: TaskStatus
    status: TaskStatus
    progress: float
    message: str | None
    result: Mapping[str, Any] | None
    error: str | None
    error_type: str | None
    traceback: str | None
    attempt: int
    attempts: Sequence[AttemptRecord]
    started_at: datetime | None
    completed_at: datetime | None
    retry_at: datetime | None
    waiting: Mapping[str, Any] | None
    cursor: str | None
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseClaim:
    """The lease a writer holds: its identity and the fencing token it was granted."""

    owner: str
    token: int


@dataclasses.dataclass(slots=True, kw_only=True)
class TreeState:
    """The tree record's changing part, written with every batch (it renews the lease too)."""

    status: TreeStatus
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    lease_expires_at: datetime | None
    keep_lease: bool = True  # false: the owner lets the tree go (finished, or handed back)


@dataclasses.dataclass(frozen=True, slots=True)
class SignalUse:
    """A stored signal that an attempt consumed (``attempt`` set) or that is given back
    because the attempt that consumed it did not finish (``attempt=None``)."""

    signal_id: int
    attempt: int | None


@dataclasses.dataclass(slots=True)
class TreeBatch:
    """One transaction of one tree run, all or nothing, fenced by ``claim``."""

    tree_id: str
    claim: LeaseClaim
    tree: TreeState
    tasks: list[TaskState] = dataclasses.field(default_factory=list)
    events: list[TaskEvent] = dataclasses.field(default_factory=list)
    signals: list[SignalUse] = dataclasses.field(default_factory=list)
    released_attempts: list[tuple[str, int]] = dataclasses.field(default_factory=list)

    @property
    def size(self) -> int:
        """How many rows it writes (for logs and limits)."""
        return 1 + len(self.tasks) + len(self.events) + len(self.signals)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TaskEdit:
    """A user's edit of a task that is not running (`TaskRepository.update_task`)."""

    name: str | None = None
    inputs: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    priority: int | None = None
    dependencies: tuple[Dependency, ...] | None = None
    user_id: str | None = None
    progress: float | None = None

    def values(self) -> dict[str, Any]:
        """The fields set by the edit."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Signal:
    """A stored request for a task: data sent by ``notify`` (``kind="notify"``), or a cancel
    request made by a process that does not run the tree (``kind="cancel"``, ``key`` is the
    reason)."""

    id: int
    tree_id: str
    task_id: str
    kind: str
    key: str
    data: Any


NOTIFY = "notify"
CANCEL = "cancel"


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process that announces itself with heartbeats (``taskflow worker``)."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    trees: int = 0
