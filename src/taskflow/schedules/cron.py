"""Cron expressions evaluated in a time zone, with cron's daylight-saving behaviour.

An expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds
first, in the syntax of cronsim (Debian cron's: lists, ranges, steps, names, ``L``, ``LW``,
``#n``), or is one of the macros ``@yearly @annually @monthly @weekly @daily @midnight
@hourly``.

Daylight saving follows Debian cron, as cronsim does for 5-field expressions, and the same
rule is applied to 6-field ones:

- an expression whose minute and hour fields both name fixed values (``30 2 * * *``) is a job
  "at a particular time": a time skipped by a spring-forward transition fires once, at the
  first valid minute after the gap; a time repeated by a fall-back transition fires once, on
  its first occurrence;
- an expression with ``*`` at the start of its minute or hour field (``0 * * * *``,
  ``*/15 * * * *``) follows the clock as it is: an hourly job fires every real hour (both
  02:00s of a fall-back night, no 02:00 on a spring-forward night).

Every time is returned as an aware UTC `datetime`, strictly after the one asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from taskflow.exceptions import ScheduleError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FORMAT = "5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first"
_FIELD_COUNTS = (5, 6)
_MINUTE, _HOUR = 1, 2  # indexes in the 6-field form (seconds first)
_LONGEST_GAP_MINUTES = 2 * 24 * 60  # no zone has skipped more than a day (Samoa, 2011)
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class CronExpression:
    """A checked cron expression.

    Attributes:
        text: the expression as written (whitespace collapsed), e.g. ``"30 2 * * *"``.
        fields: its 6 fields, seconds first (``"0"`` added to a 5-field expression).
    """

    text: str
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: object, *, field: str = "cron") -> CronExpression:
        """Check an expression and return it.

        Raises:
            ScheduleError: not a string, a wrong number of fields, a bad field, or an
                expression that matches no date.
        """
        if not isinstance(text, str) or not text.strip():
            raise ScheduleError(f"expected a cron expression ({CRON_FORMAT})", field=field)
        written = " ".join(text.split())
        expanded = MACROS.get(written.lower(), written)
        if expanded.startswith("@"):
            raise ScheduleError(
                f"unknown macro {written!r}; known: {', '.join(MACROS)}", field=field
            )
        parts = expanded.split()
        if len(parts) not in _FIELD_COUNTS:
            raise ScheduleError(
                f"{written!r} has {len(parts)} fields; expected {CRON_FORMAT}", field=field
            )
        fields = tuple(["0", *parts] if len(parts) == 5 else parts)
        expression = cls(written, fields)
        try:
            next(CronSim(expression.six_fields, _PROBE))
        except CronSimError as exc:
            detail = str(exc).lower() or "invalid expression"
            raise ScheduleError(f"{written!r}: {detail} ({CRON_FORMAT})", field=field) from exc
        except StopIteration:
            raise ScheduleError(f"{written!r} matches no date", field=field) from None
        return expression

    @property
    def six_fields(self) -> str:
        """The expression in its 6-field form, seconds first."""
        return " ".join(self.fields)

    @property
    def at_fixed_time(self) -> bool:
        """Whether this is a job "at a particular time" for daylight saving (see the module)."""
        return not (self.fields[_MINUTE].startswith("*") or self.fields[_HOUR].startswith("*"))

    def times_after(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """Every fire time strictly after ``after``, ascending, as aware UTC datetimes.

        Args:
            after: an aware datetime.
            zone: the time zone the fields are read in.
        """
        if self.at_fixed_time:
            return self._wall_clock_times(after, zone)
        return self._real_clock_times(after, zone)

    def _real_clock_times(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        last = after
        for local in CronSim(self.six_fields, after.astimezone(zone)):
            instant = local.astimezone(UTC)
            if instant > last:
                yield instant
                last = instant

    def _wall_clock_times(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        # Walk the naive wall clock (no daylight saving inside cronsim), then place each wall
        # time on the real clock as Debian cron does. A wall time at or before `after`'s own
        # maps to an instant at or before `after`, so starting from it misses nothing; the
        # filter drops the first-occurrence times of a repeated hour when `after` is in its
        # second occurrence.
        last = after
        for wall in CronSim(self.six_fields, after.astimezone(zone).replace(tzinfo=None)):
            instant = _instant_of_wall_time(wall, zone)
            if instant > last:
                yield instant
                last = instant


def _instant_of_wall_time(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time fires at: skipped times move to the first valid minute
    after the gap; repeated ones take their first occurrence (``fold=0``)."""
    candidate = wall
    for _ in range(_LONGEST_GAP_MINUTES):
        if not _is_skipped(candidate, zone):
            break
        candidate = candidate.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _is_skipped(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall-clock time does not exist in the zone (a spring-forward gap)."""
    local = wall.replace(tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
