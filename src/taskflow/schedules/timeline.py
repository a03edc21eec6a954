"""A schedule's nominal fire times, found without walking more of them than needed.

Internal: `fire_times` and `misfire` are built on it. Every datetime is aware UTC.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import takewhile

from taskflow.exceptions import ScheduleError
from taskflow.schedules.spec import ScheduleSpec

_TICK = timedelta(microseconds=1)
_FIRST_LOOKBACK = timedelta(minutes=1)


def aware(value: datetime, field: str) -> datetime:
    """``value`` in UTC; a naive clock value is a caller's bug, reported by field."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ScheduleError(f"{value!r} is not an aware datetime", field=field)
    return value.astimezone(UTC)


class Timeline:
    """The nominal fire times of one spec: its cron or interval times within start and end."""

    def __init__(self, spec: ScheduleSpec) -> None:
        self.spec = spec
        if spec.every is not None and spec.anchor is None:
            raise ScheduleError(
                "an interval without `start` counts from the schedule's creation time: give "
                "`start`, or create the spec with created_at",
                field="start",
            )

    def after(self, after: datetime) -> Iterator[datetime]:
        """Every fire time strictly after ``after``, ascending."""
        spec = self.spec
        lower = after if spec.start is None else max(after, spec.start - _TICK)
        if spec.expression is not None:
            times = spec.expression.times_after(lower, spec.zone)
        else:
            times = self._interval_after(lower)
        if spec.end is None:
            return times
        end = spec.end
        return takewhile(lambda t: t <= end, times)

    def count_between(self, lower: datetime, upper: datetime, cap: int) -> int:
        """How many fire times lie in (lower, upper), counted up to ``cap``."""
        if upper <= lower:
            return 0
        if self.spec.every is not None:
            first, last = self._interval_range(lower, upper)
            return max(0, min(cap, last - first + 1))
        count = 0
        for _ in takewhile(lambda t: t < upper, self.after(lower)):
            count += 1
            if count >= cap:
                break
        return count

    def latest_between(self, lower: datetime, upper: datetime) -> datetime | None:
        """The latest fire time in (lower, upper), or ``None``."""
        if upper <= lower:
            return None
        if self.spec.every is not None:
            first, last = self._interval_range(lower, upper)
            return self._interval_time(last) if last >= first else None
        # Look back from `upper` over windows that double, so that a dense schedule is not
        # walked from `lower` (which may be months back) and a sparse one takes few steps.
        lookback = _FIRST_LOOKBACK
        while True:
            start = max(lower, upper - lookback)
            window = deque(takewhile(lambda t: t < upper, self.after(start)), maxlen=1)
            if window or start == lower:
                return window[0] if window else None
            lookback *= 2

    def _interval_after(self, lower: datetime) -> Iterator[datetime]:
        k = self._index_after(lower)
        while True:
            yield self._interval_time(k)
            k += 1

    def _index_after(self, moment: datetime) -> int:
        """The index of the first interval time strictly after ``moment``."""
        anchor, every = self._anchor_and_every()
        k = (moment - anchor) // every + 1
        return max(k, 0) if self.spec.start is not None else k

    def _interval_range(self, lower: datetime, upper: datetime) -> tuple[int, int]:
        """Indexes of the first and last interval times in (lower, upper), within the end."""
        anchor, every = self._anchor_and_every()
        last = -((anchor - upper) // every) - 1  # the last k with anchor + k * every < upper
        if self.spec.end is not None:
            last = min(last, (self.spec.end - anchor) // every)
        return self._index_after(lower), last

    def _interval_time(self, k: int) -> datetime:
        anchor, every = self._anchor_and_every()
        return anchor + k * every

    def _anchor_and_every(self) -> tuple[datetime, timedelta]:
        anchor, every = self.spec.anchor, self.spec.every
        assert anchor is not None, "checked in __init__"
        assert every is not None, "only called for intervals"
        return anchor, every
