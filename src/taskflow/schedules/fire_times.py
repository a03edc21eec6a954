"""Fire times: the next ones, a backfill range, and each one's jittered start.

Every function takes the clock as an argument and returns aware UTC datetimes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile

from taskflow.exceptions import ScheduleError
from taskflow.schedules.spec import ScheduleSpec
from taskflow.schedules.timeline import Timeline, aware

BACKFILL_LIMIT = 1000  # fire times one backfill may return
_TICK = timedelta(microseconds=1)
_HASH_BITS = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Fire:
    """One fire of a schedule.

    Attributes:
        nominal: the schedule's time for it (aware, UTC); what a fire is recorded by.
        run_at: when it should start: ``nominal`` plus its jitter delay (aware, UTC).
    """

    nominal: datetime
    run_at: datetime


def next_fire_times(spec: ScheduleSpec, after: datetime, count: int) -> tuple[datetime, ...]:
    """The next ``count`` nominal fire times strictly after ``after`` (fewer past ``end``).

    Args:
        spec: the schedule.
        after: an aware datetime, e.g. the caller's ``now``.
        count: how many, 0 or more.

    Raises:
        ScheduleError: ``after`` is naive, ``count`` negative, or an interval has no anchor.
    """
    if count < 0:
        raise ScheduleError(f"{count} is negative", field="count")
    return tuple(islice(Timeline(spec).after(aware(after, "after")), count))


def next_fires(
    spec: ScheduleSpec, *, schedule_id: str, after: datetime, count: int
) -> tuple[Fire, ...]:
    """Like `next_fire_times`, with each time's jittered `Fire.run_at`."""
    if count < 0:
        raise ScheduleError(f"{count} is negative", field="count")
    return tuple(islice(fires_after(spec, schedule_id, aware(after, "after")), count))


def backfill(
    spec: ScheduleSpec, start: datetime, end: datetime, *, limit: int = BACKFILL_LIMIT
) -> tuple[datetime, ...]:
    """Every nominal fire time from ``start`` to ``end``, both included.

    Only the schedule's own times count: those of its cron expression or interval, within its
    own ``start`` and ``end``. Naive ``start``/``end`` are in the schedule's time zone.

    Args:
        spec: the schedule.
        start: the first instant of the range.
        end: the last instant of the range.
        limit: the most fire times returned; a range holding more is refused.

    Raises:
        ScheduleError: ``end`` before ``start``, or more than ``limit`` fire times in the
            range (``field`` is ``end``; narrow the range, or backfill it in parts).
    """
    first, last = (_in_zone(moment, spec) for moment in (start, end))
    if last < first:
        raise ScheduleError(
            f"{last.isoformat()} is before the range's start {first.isoformat()}", field="end"
        )
    times = tuple(
        islice(takewhile(lambda t: t <= last, Timeline(spec).after(first - _TICK)), limit + 1)
    )
    if len(times) > limit:
        raise ScheduleError(
            f"the range from {first.isoformat()} to {last.isoformat()} holds more than {limit} "
            f"fire times (the first past the limit is {times[-1].isoformat()}); narrow the "
            "range or backfill it in parts",
            field="end",
        )
    return times


def jitter_delay(schedule_id: str, nominal: datetime, bound: timedelta) -> timedelta:
    """A delay in [0, ``bound``) derived from the schedule id and the nominal time alone.

    It comes from SHA-256 (never Python's per-process ``hash()``) and integer arithmetic, so
    every process, on every machine, computes the same delay for the same fire.
    """
    bound_us = bound // _TICK
    if bound_us <= 0:
        return timedelta(0)
    key = f"{schedule_id}\n{aware(nominal, 'nominal').isoformat()}".encode()
    fraction = int.from_bytes(hashlib.sha256(key).digest()[: _HASH_BITS // 8], "big")
    return timedelta(microseconds=(fraction * bound_us) >> _HASH_BITS)


def fires_after(spec: ScheduleSpec, schedule_id: str, after: datetime) -> Iterator[Fire]:
    """Every fire strictly after ``after``, with its jitter.

    A fire's delay is bounded by the gap to the next nominal time, so runs start in the order
    of their nominal times whatever the jitter.
    """
    times = Timeline(spec).after(after)
    current = next(times, None)
    while current is not None:
        following = next(times, None)
        bound = spec.jitter if following is None else min(spec.jitter, following - current)
        yield Fire(current, current + jitter_delay(schedule_id, current, bound))
        current = following


def _in_zone(moment: datetime, spec: ScheduleSpec) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=spec.zone)
    return moment.astimezone(UTC)
