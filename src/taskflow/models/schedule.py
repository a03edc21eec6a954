"""Schedules as stored: the schedule record, and one record per fire time.

A schedule's *watermark* is the latest nominal fire time it has handled (fired, skipped or
passed over); the next evaluation starts after it. Each fire is a row keyed by (schedule,
nominal time), written in the transaction that creates its tree: however many workers
evaluate a schedule, a fire time gets one row and at most one tree.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class FireStatus(enum.StrEnum):
    """What became of one fire time."""

    STARTED = "started"
    """Its tree was created (queued for a worker)."""
    SKIPPED = "skipped"
    """Nothing was started: the overlap policy said so (`FireRecord.reason` says why)."""
    BUFFERED = "buffered"
    """Waiting for the schedule's unfinished trees (``overlap: buffer_one``)."""
    FAILED = "failed"
    """Its tree could not be created (an executor missing here, an invalid input ...)."""


class FireKind(enum.StrEnum):
    """Why a fire happened."""

    SCHEDULE = "schedule"
    """The schedule's own time came."""
    TRIGGER = "trigger"
    """Someone asked for a run now (``taskflow schedules trigger``)."""
    BACKFILL = "backfill"
    """A past time of the schedule, run on request (``taskflow schedules backfill``)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRecord:
    """A stored schedule.

    Attributes:
        id: Its id.
        name: Its unique name (``taskflow schedules show NAME``).
        user_id: Who owns it; the trees it starts belong to them.
        spec: When it fires (`taskflow.schedules.ScheduleSpec.to_mapping`).
        definition: The tree to start at each fire (as ``TaskManager.create_tree`` takes it).
        source: The tree file it was read from, if any (for people: it is not read again).
        paused_at: When it was paused (``None``: it is active).
        watermark: The latest nominal fire time handled (``None``: none yet).
        next_fire_at: When it is next due (the next fire's jittered time), or ``None``
            when it has no more fire times (past its ``end``).
        missed: How many fire times were passed over in all (misfired, or while paused).
        version: Grows with every change; evaluations and edits are conditional on it.
        created_at: When it was created (an interval counts from it unless it has a
            ``start``).
        updated_at: When it last changed.
    """

    id: str
    name: str
    user_id: str | None = None
    spec: Mapping[str, Any]
    definition: Any
    source: str | None = None
    paused_at: datetime | None = None
    watermark: datetime | None = None
    next_fire_at: datetime | None = None
    missed: int = 0
    version: int = 1
    created_at: datetime
    updated_at: datetime

    @property
    def is_paused(self) -> bool:
        """Whether it is paused."""
        return self.paused_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of what people see of it (times in ISO 8601; ``state`` is
        ``paused`` or ``active``; the definition and the version left out)."""
        return {
            "id": self.id,
            "name": self.name,
            "user_id": self.user_id,
            "source": self.source,
            "state": "paused" if self.is_paused else "active",
            "spec": dict(self.spec),
            "paused_at": _iso(self.paused_at),
            "watermark": _iso(self.watermark),
            "next_fire_at": _iso(self.next_fire_at),
            "missed": self.missed,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FireRecord:
    """One fire time of a schedule, and what became of it.

    Attributes:
        schedule_id: The schedule.
        nominal: The fire time (the schedule's own time; for a trigger, when it was asked).
        run_at: When it was due (``nominal`` plus jitter).
        kind: Why it happened (`FireKind`).
        status: What became of it (`FireStatus`).
        tree_id: The tree it started, if any.
        reason: Why it was skipped, buffered or failed.
        recorded_at: When this record was written.
    """

    schedule_id: str
    nominal: datetime
    run_at: datetime
    kind: FireKind = FireKind.SCHEDULE
    status: FireStatus
    tree_id: str | None = None
    reason: str | None = None
    recorded_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""
        return {
            "schedule_id": self.schedule_id,
            "nominal": _iso(self.nominal),
            "run_at": _iso(self.run_at),
            "kind": self.kind.value,
            "status": self.status.value,
            "tree_id": self.tree_id,
            "reason": self.reason,
            "recorded_at": _iso(self.recorded_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
