"""`due`: which fire times to start now, per the misfire policy and a pause.

A fire is *due* once its `Fire.run_at` (the nominal time plus jitter) has passed. It is *on
time* while it is at most ``grace`` late (``now - run_at``); later, it has *misfired*, and the
misfire policy decides: ``skip`` runs none of the misfired ones, ``latest`` runs the latest one
once (unless an on-time fire runs anyway), ``all`` runs those at most ``catch_up`` late.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from taskflow.exceptions import ScheduleError
from taskflow.schedules.fire_times import Fire, fires_after
from taskflow.schedules.spec import MisfirePolicy, ScheduleSpec
from taskflow.schedules.timeline import Timeline, aware

DUE_LIMIT = 100  # fires one call returns; the rest come from the next call
MISSED_COUNT_LIMIT = 1000  # `DueFires.missed` counts up to this
_TICK = timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True, slots=True)
class DueFires:
    """What `due` found.

    Attributes:
        fires: the fires to start now, oldest first.
        missed: how many fire times were passed over (misfired, or in the paused period),
            counted up to `MISSED_COUNT_LIMIT`.
        watermark: the latest nominal time handled, fired or passed over: store it as the
            schedule's ``last_fired`` with the fires, and pass it to the next call.
        next_fire: the first fire after ``watermark``, or ``None`` when the schedule has no
            more (past its ``end``). Its ``run_at`` is when to call `due` again; it is already
            past when ``fires`` was cut at the limit.
    """

    fires: tuple[Fire, ...]
    missed: int
    watermark: datetime
    next_fire: Fire | None


def due(
    spec: ScheduleSpec,
    *,
    schedule_id: str,
    last_fired: datetime | None,
    now: datetime,
    paused_since: datetime | None = None,
    replay_paused: bool = False,
    limit: int = DUE_LIMIT,
) -> DueFires:
    """The fires to start at ``now``: nominal times after ``last_fired`` whose run time passed.

    Args:
        spec: the schedule.
        schedule_id: its id, which the jitter is derived from.
        last_fired: the previous call's `DueFires.watermark`; for a schedule never evaluated,
            its creation time (``None`` means ``spec.created_at``). Only later times are due.
        now: the caller's clock (aware).
        paused_since: given when the schedule is being unpaused at ``now``: when it was
            paused. The fires whose run time falls from then to ``now`` (the paused period)
            are passed over unless ``replay_paused``. Workers do not evaluate a schedule
            while it is paused; its unpause evaluates it once, with this.
        replay_paused: treat the paused period's fire times as any missed ones (the misfire
            policy decides) instead of passing over them.
        limit: the most fires returned at once.

    Raises:
        ScheduleError: a naive clock value, a ``limit`` below 1, an interval without anchor,
            or neither ``last_fired`` nor ``spec.created_at``.
    """
    if limit < 1:
        raise ScheduleError(f"{limit} is below 1", field="limit")
    first = last_fired if last_fired is not None else spec.created_at
    if first is None:
        raise ScheduleError(
            "give the watermark of the previous call, or the schedule's creation time",
            field="last_fired",
        )
    lower = aware(first, "last_fired")
    now = aware(now, "now")
    pause = None
    if paused_since is not None and not replay_paused:
        pause = aware(paused_since, "paused_since")
    scan = _Scan(spec, schedule_id, lower, now)
    last_due = scan.last_due()
    if last_due is None:
        return DueFires((), 0, lower, next(fires_after(spec, schedule_id, lower), None))
    chosen = scan.chosen(scan.unpaused_before(pause, last_due), limit)
    fires = tuple(chosen[:limit])
    watermark = fires[-1].nominal if len(chosen) > limit else last_due
    counted = scan.timeline.count_between(lower, watermark + _TICK, MISSED_COUNT_LIMIT + limit)
    missed = min(MISSED_COUNT_LIMIT, counted - len(fires))
    return DueFires(fires, missed, watermark, next(fires_after(spec, schedule_id, watermark), None))


class _Scan:
    """The due fire times after a watermark: found with a few look-ups, and walked one by one
    only where some may run (the last ``grace``, or ``catch_up`` for ``all``)."""

    def __init__(self, spec: ScheduleSpec, schedule_id: str, lower: datetime, now: datetime):
        self.spec, self.schedule_id, self.lower, self.now = spec, schedule_id, lower, now
        self.timeline = Timeline(spec)
        self.late_at_most = spec.grace
        if spec.misfire is MisfirePolicy.ALL:
            self.late_at_most = max(spec.grace, spec.catch_up)

    def fire_of(self, nominal: datetime) -> Fire:
        """The fire of a nominal time (its jitter depends on the next nominal time)."""
        fire = next(fires_after(self.spec, self.schedule_id, nominal - _TICK))
        assert fire.nominal == nominal, "fire_of takes one of the schedule's own times"
        return fire

    def last_due(self) -> datetime | None:
        """The latest nominal time after the watermark whose run time has passed."""
        latest = self.timeline.latest_between(self.lower, self.now + _TICK)
        if latest is not None and self.fire_of(latest).run_at > self.now:
            # Only the last time can still be waiting: a run time is before the next nominal.
            return self.timeline.latest_between(self.lower, latest)
        return latest

    def unpaused_before(self, pause: datetime | None, last_due: datetime) -> datetime:
        """The nominal bound (exclusive) of due times not in the paused period, which holds
        the fires whose run time is at or after ``pause``."""
        end = last_due + _TICK
        if pause is None:
            return end
        before = self.timeline.latest_between(self.lower, pause)
        if before is not None and self.fire_of(before).run_at >= pause:
            return min(end, before)
        return min(end, pause)

    def chosen(self, bound: datetime, limit: int) -> list[Fire]:
        """The fires to start among nominal times in (watermark, ``bound``), oldest first;
        at most ``limit + 1``, so that the caller sees when there are more."""
        chosen: list[Fire] = []
        for fire in fires_after(self.spec, self.schedule_id, self._walk_from() - _TICK):
            if fire.nominal >= bound or len(chosen) > limit:
                break
            if fire.nominal > self.lower and self.now - fire.run_at <= self.late_at_most:
                chosen.append(fire)
        if chosen or self.spec.misfire is not MisfirePolicy.LATEST:
            return chosen
        latest = self.timeline.latest_between(self.lower, bound)
        return [self.fire_of(latest)] if latest is not None else []

    def _walk_from(self) -> datetime:
        """No nominal time before this can run: it is more than ``late_at_most`` late."""
        oldest_run_at = self.now - self.late_at_most
        start = max(self.lower + _TICK, oldest_run_at - self.spec.jitter)
        if self.spec.jitter:
            # A run time is before the next nominal time, so only the latest nominal time at
            # or before `oldest_run_at` may still run.
            latest = self.timeline.latest_between(start - _TICK, oldest_run_at + _TICK)
            if latest is not None:
                return latest
        return start
