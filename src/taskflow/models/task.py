"""The task value, its statuses and the one table of allowed status changes."""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from taskflow.exceptions import InvalidTransition
from taskflow.models.attempt import AttemptRecord

PRIORITY_URGENT = 0
PRIORITY_HIGH = 1
PRIORITY_DEFAULT = 2
PRIORITY_LOW = 3


class TaskStatus(enum.StrEnum):
    """Where a task stands. ``completed``, ``failed`` and ``cancelled`` are terminal."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the task has finished for good (until an explicit re-run)."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})

#: Every allowed status change. ``in_progress -> pending`` is a scheduled retry or a resumed
#: run; ``failed/cancelled -> pending`` is an explicit re-execution.
TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset(
        {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.PENDING}
    ),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.PENDING}),
}


def check_transition(task_id: str, current: TaskStatus, target: TaskStatus) -> None:
    """Raise `InvalidTransition` unless the state table allows ``current -> target``."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(task_id, current.value, target.value, "not allowed")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_task_id() -> str:
    """A fresh task id: a random (version 4) UUID, as text.

    The same value ``str(uuid.uuid4())`` gives, built from the random bytes directly (a tree
    of 10,000 tasks needs 10,000 of them).
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Dependency:
    """An edge to another task of the same tree.

    Attributes:
        id: The task depended on (its id, or its key within the tree).
        required: If true, that task must complete; otherwise any terminal state will do.
    """

    id: str
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with the task."""
        return {"id": self.id, "required": self.required}

    @classmethod
    def parse(cls, value: object) -> Dependency:
        """Accept ``"id"``, ``{"id": ..., "required": ...}`` or a `Dependency`."""
        if isinstance(value, Dependency):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            required = value.get("required", True)
            if not isinstance(required, bool):
                raise TypeError(f"dependency {value['id']!r}: 'required' must be true or false")
            return cls(value["id"], required)
        raise TypeError(
            f"a dependency is a task id or {{'id': ..., 'required': ...}}, not {value!r}"
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """One use of an executor with concrete inputs, placed in a tree.

    A task whose ``executor`` is ``None`` is a *group*: it finishes when its children have,
    with their rolled-up status.

    Attributes:
        id: A uuid4 string.
        tree_id: The id of the tree (which is its root task's id: a root's ``tree_id`` is its
            own ``id``); the tree's own record is a `TaskTree`.
        parent_id: The parent task, or ``None`` for a root.
        key: A name unique within the tree that inputs use to refer to this task's result.
        name: A display name.
        executor: The registered executor id that runs this task, or ``None`` for a group.
        user_id: Who owns the tree.
        inputs: What the executor receives, after references are resolved.
        params: Free-form settings kept with the task (not passed to the executor).
        dependencies: Edges to tasks of the same tree that must finish first.
        priority: 0 (urgent) to 3 (low); ready tasks run in priority order.
        position: Creation order within the tree (tasks that become ready together start in
            this order when their priorities are equal).
        status: Where the task stands; see `TRANSITIONS`.
        progress: 0.0 to 1.0.
        message: The last progress message the executor reported.
        result: What the executor returned (a JSON object), once completed. A group's result
            is not stored: it is made of its children's (see `TaskTreeNode.result`).
        error: Why the task failed or was cancelled.
        error_type: The error's kind: an exception class name, or e.g. ``DependencyFailed``.
        traceback: The formatted traceback of an exception raised by the executor.
        attempt: How many times the task has started (0 before the first run).
        attempts: One `AttemptRecord` per finished attempt: the attempt history.
        timeout: Hard time limit of one attempt, in seconds; the attempt fails with
            ``error_type="TaskTimeout"``.
        soft_timeout: Seconds after which the executor's context reports
            ``soft_timed_out`` so that it can wrap up.
        retry: The retry policy (see `taskflow.RetryPolicy`), or ``None`` for the executor's.
        retry_at: When a scheduled retry is due (the task is ``pending`` until then).
        waiting: While the executor waits in ``context.wait``: ``{"key": ..., "since": ISO time,
            "timeout": seconds or None}``; ``None`` otherwise.
        cursor: While an attempt runs elsewhere (a distributed backend): how far its reports
            were read — an opaque marker of the backend's, stored with the events of those
            reports — so that a manager taking the tree over follows the attempt from there;
            ``None`` otherwise. Internal: not part of `to_dict`.
        deadline_at: On a root: when the whole tree must be finished, or is cancelled.
        concurrency: On a root: at most this many of the tree's tasks run at once.
    """

    id: str
    tree_id: str
    parent_id: str | None = None
    key: str
    name: str
    executor: str | None
    user_id: str | None = None
    inputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()
    priority: int = PRIORITY_DEFAULT
    position: int = 0
    status: TaskStatus = TaskStatus.PENDING
    progress: float = 0.0
    message: str | None = None
    result: Mapping[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    attempt: int = 0
    attempts: tuple[AttemptRecord, ...] = ()
    timeout: float | None = None
    soft_timeout: float | None = None
    retry: Mapping[str, Any] | None = None
    retry_at: datetime | None = None
    waiting: Mapping[str, Any] | None = None
    cursor: str | None = None
    deadline_at: datetime | None = None
    concurrency: int | None = None
    created_at: datetime = dataclasses.field(default_factory=utcnow)
    updated_at: datetime = dataclasses.field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_root(self) -> bool:
        """Whether this task is the root of its tree."""
        return self.parent_id is None

    @property
    def is_group(self) -> bool:
        """Whether this task only groups children (it has no executor of its own)."""
        return self.executor is None

    @property
    def is_terminal(self) -> bool:
        """Whether the task has finished (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    def evolve(self, **changes: Any) -> Task:
        """A copy with ``changes`` applied (the task itself never changes).

        Unknown field names raise `TypeError`. A copy of the instance dict rather than
        `dataclasses.replace`, which re-runs ``__init__`` field by field.
        """
        unknown = changes.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"Task has no field(s) {', '.join(sorted(unknown))}")
        return self.evolve_known(changes)

    def evolve_known(self, changes: Mapping[str, Any]) -> Task:
        """`evolve` for callers whose field names are known to be right (the engine)."""
        new = object.__new__(Task)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        return new

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field but ``cursor`` (times in ISO 8601)."""
        data = {name: getattr(self, name) for name in _PUBLIC_NAMES}
        data["status"] = self.status.value
        data["dependencies"] = [d.to_dict() for d in self.dependencies]
        data["attempts"] = [a.to_dict() for a in self.attempts]
        data["waiting"] = dict(self.waiting) if self.waiting is not None else None
        data["inputs"] = dict(self.inputs)
        data["params"] = dict(self.params)
        for name in (
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
            "retry_at",
            "deadline_at",
        ):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Task))
_FIELD_SET = frozenset(_FIELD_NAMES)
#: What `Task.to_dict` (the CLI's JSON, the API's views) shows: the backend's cursor is its own.
_PUBLIC_NAMES = tuple(name for name in _FIELD_NAMES if name != "cursor")
_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(Task) if f.default is not dataclasses.MISSING
}


def task_from_fields(values: dict[str, Any]) -> Task:
    """A `Task` from a dict of field values, without ``__init__``'s per-field work.

    For callers that give every field without a plain default (``id``, ``tree_id``, ``key``,
    ``name``, ``executor``, ``inputs``, ``params``, ``created_at``, ``updated_at``): building
    the tasks of a large tree this way costs a third of calling the class.
    """
    task = object.__new__(Task)
    fields = task.__dict__
    fields.update(_DEFAULTS)
    fields.update(values)
    return task
