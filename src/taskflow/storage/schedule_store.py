"""The schedule seam of storage: schedule records, their fires, and the one firing transaction.

`ScheduleStore.commit` writes a `Firing` all or nothing: the schedule's new watermark (only if
its version is still the one the evaluation read), the fire rows, and the trees they start. Two
workers that evaluate the same schedule at once both compute the same fires; the second
commit finds the version moved (or a fire row taken) and writes nothing.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime

from taskflow.exceptions import ScheduleError
from taskflow.models import FINISHED_TREE_STATUSES, Task, TaskTree
from taskflow.models.schedule import FireRecord, FireStatus, ScheduleRecord


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleQuery:
    """Which schedules to select (unset criteria match all), by name.

    Attributes:
        due_by: Only active schedules due at or before this time (``next_fire_at``).
        buffered: Only schedules with a buffered fire (waiting for an earlier run).
    """

    ids: Collection[str] | None = None
    id_prefix: str | None = None
    name: str | None = None
    user_id: str | None = None
    due_by: datetime | None = None
    buffered: bool = False
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Advance:
    """A schedule's new state, written only if its version is still ``version``.

    Attributes:
        version: The version the change was computed from.
        watermark: The latest nominal fire time handled.
        next_fire_at: When it is next due (``None``: never again).
        missed: Fire times passed over by this change (added to the count).
        paused_at: When it was paused; ``None`` for an active schedule.
        at: When the change is made.
    """

    version: int
    watermark: datetime | None
    next_fire_at: datetime | None
    missed: int = 0
    paused_at: datetime | None = None
    at: datetime


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Firing:
    """One transaction of a schedule: its advance, new fire rows, a buffered fire that now
    starts, and the trees (records and tasks) the fires start, queued for any worker."""

    schedule_id: str
    advance: Advance | None = None
    fires: Sequence[FireRecord] = ()
    promoted: FireRecord | None = None
    trees: Sequence[tuple[TaskTree, Sequence[Task]]] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Runs:
    """What a schedule's earlier fires left unfinished: their trees, oldest fire first, and
    the fire waiting for them (``overlap: buffer_one``)."""

    unfinished: tuple[str, ...] = ()
    buffered: FireRecord | None = None


class ScheduleStore(abc.ABC):
    """Schedules and their fires."""

    @abc.abstractmethod
    async def add(self, schedule: ScheduleRecord) -> None:
        """Store a new schedule.

        Raises:
            ScheduleError: its name is taken.
        """

    @abc.abstractmethod
    async def select(self, query: ScheduleQuery) -> list[ScheduleRecord]:
        """The matching schedules, by name."""

    @abc.abstractmethod
    async def delete(self, schedule_id: str) -> bool:
        """Delete a schedule and its fire records (not the trees they started); return whether
        it existed."""

    @abc.abstractmethod
    async def fires(
        self, schedule_id: str, *, limit: int = 20, before: datetime | None = None
    ) -> list[FireRecord]:
        """The schedule's fire records, newest first (``before``: older than that time)."""

    @abc.abstractmethod
    async def runs(self, schedule_id: str) -> Runs:
        """The unfinished trees of the schedule's fires, and its buffered fire."""

    @abc.abstractmethod
    async def commit(self, firing: Firing) -> bool:
        """Write ``firing`` in one transaction; return ``False``, having written nothing, when
        its advance is stale (the schedule changed since it was read), a fire row exists
        already, or the buffered fire it starts is no longer buffered."""


def taken(name: str) -> str:
    """The error for a schedule name in use."""
    return (
        f"a schedule named {name!r} exists already (give another with --name, or "
        f"`taskflow schedules delete {name}` first)"
    )


class MemoryScheduleStore(ScheduleStore):
    """Schedules in dicts, beside a `MemoryStorage`'s trees and tasks."""

    def __init__(self, tasks: dict[str, Task], trees: dict[str, TaskTree]) -> None:
        self._tasks = tasks
        self._trees = trees
        self._schedules: dict[str, ScheduleRecord] = {}
        self._fires: dict[tuple[str, datetime], FireRecord] = {}

    async def add(self, schedule: ScheduleRecord) -> None:
        """Store a new schedule (its name must be free)."""
        if any(s.name == schedule.name for s in self._schedules.values()):
            raise ScheduleError(taken(schedule.name))
        self._schedules[schedule.id] = schedule

    async def select(self, query: ScheduleQuery) -> list[ScheduleRecord]:
        """Matching schedules, by name."""
        found = [
            s
            for s in self._schedules.values()
            if _matches(s, query) and (not query.buffered or self._has_buffered(s.id))
        ]
        found.sort(key=lambda s: s.name)
        return found[: query.limit]

    def forget_fires(self, recorded_before: datetime) -> int:
        """Delete fire records written before the cutoff whose tree is gone (see
        `Storage.prune_fires`)."""
        old = [
            key
            for key, f in self._fires.items()
            if f.recorded_at < recorded_before
            and f.status is not FireStatus.BUFFERED
            and (f.tree_id is None or f.tree_id not in self._trees)
        ]
        for key in old:
            del self._fires[key]
        return len(old)

    def _has_buffered(self, schedule_id: str) -> bool:
        return any(
            f.status is FireStatus.BUFFERED
            for (sid, _), f in self._fires.items()
            if sid == schedule_id
        )

    async def delete(self, schedule_id: str) -> bool:
        """Delete the schedule and its fire records."""
        for key in [k for k in self._fires if k[0] == schedule_id]:
            del self._fires[key]
        return self._schedules.pop(schedule_id, None) is not None

    async def fires(
        self, schedule_id: str, *, limit: int = 20, before: datetime | None = None
    ) -> list[FireRecord]:
        """Newest first."""
        found = [
            f
            for (sid, nominal), f in self._fires.items()
            if sid == schedule_id and (before is None or nominal < before)
        ]
        found.sort(key=lambda f: f.nominal, reverse=True)
        return found[:limit]

    async def runs(self, schedule_id: str) -> Runs:
        """Unfinished trees of started fires, and the buffered fire."""
        mine = sorted(
            (f for (sid, _), f in self._fires.items() if sid == schedule_id),
            key=lambda f: f.nominal,
        )
        unfinished = tuple(
            f.tree_id
            for f in mine
            if f.status is FireStatus.STARTED
            and f.tree_id is not None
            and f.tree_id in self._trees
            and self._trees[f.tree_id].status not in FINISHED_TREE_STATUSES
        )
        buffered = next((f for f in mine if f.status is FireStatus.BUFFERED), None)
        return Runs(unfinished, buffered)

    async def commit(self, firing: Firing) -> bool:
        """All or nothing, without awaiting (atomic on the event loop)."""
        schedule = self._schedules.get(firing.schedule_id)
        if schedule is None:
            return False
        advance = firing.advance
        if advance is not None and schedule.version != advance.version:
            return False
        if any((f.schedule_id, f.nominal) in self._fires for f in firing.fires):
            return False
        promoted = firing.promoted
        if promoted is not None:
            current = self._fires.get((promoted.schedule_id, promoted.nominal))
            if current is None or current.status is not FireStatus.BUFFERED:
                return False
        for tree, tasks in firing.trees:
            self._trees[tree.id] = tree
            self._tasks.update((task.id, task) for task in tasks)
        for fire in (*firing.fires, *([promoted] if promoted is not None else [])):
            self._fires[(fire.schedule_id, fire.nominal)] = fire
        if advance is not None:
            self._schedules[schedule.id] = dataclasses.replace(
                schedule,
                watermark=advance.watermark,
                next_fire_at=advance.next_fire_at,
                missed=schedule.missed + advance.missed,
                paused_at=advance.paused_at,
                version=schedule.version + 1,
                updated_at=advance.at,
            )
        return True


def _matches(schedule: ScheduleRecord, query: ScheduleQuery) -> bool:
    due = query.due_by
    return (
        (query.ids is None or schedule.id in query.ids)
        and (query.id_prefix is None or schedule.id.startswith(query.id_prefix))
        and (query.name is None or schedule.name == query.name)
        and (query.user_id is None or schedule.user_id == query.user_id)
        and (
            due is None
            or (
                schedule.paused_at is None
                and schedule.next_fire_at is not None
                and schedule.next_fire_at <= due
            )
        )
    )
