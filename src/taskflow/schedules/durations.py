"""Durations as schedules write them: seconds as a number, or a string such as ``1h30m``."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from taskflow.exceptions import ScheduleError

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_NUMBER = r"(\d+(?:\.\d+)?)"
# Units in descending order, each at most once: "1d12h", "1h30m", "90s"; never "30m1h".
_DURATION = re.compile("".join(f"(?:{_NUMBER}{unit})?" for unit in _UNIT_SECONDS))
_MICROSECONDS_PER_SECOND = 1_000_000
DURATION_EXAMPLES = "seconds as a number, or a string such as 30s, 5m, 1h, 1d, 1h30m"


def parse_duration(value: object, *, field: str) -> timedelta:
    """A duration from seconds (a number or a numeric string) or a ``1h30m``-style string.

    Args:
        value: ``90``, ``1.5``, ``"90"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"1d"``, ``"2w"``,
            or a `timedelta`.
        field: the field's path, for the error.

    Returns:
        The duration, to the microsecond; never negative.

    Raises:
        ScheduleError: the value is not a duration, or is negative, or too long.
    """
    if isinstance(value, timedelta):
        seconds = Decimal(value // timedelta(microseconds=1)) / _MICROSECONDS_PER_SECOND
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScheduleError(f"{value!r} is not a duration ({DURATION_EXAMPLES})", field=field)
    elif isinstance(value, str):
        seconds = _seconds_of_text(value, field)
    else:
        if not math.isfinite(value):
            raise ScheduleError(f"{value!r} is not a finite number of seconds", field=field)
        seconds = Decimal(str(value))
    if seconds < 0:
        raise ScheduleError(f"{value!r} is negative; a duration is 0 or more", field=field)
    try:
        return timedelta(microseconds=int(seconds * _MICROSECONDS_PER_SECOND))
    except OverflowError:  # past timedelta's 999,999,999 days
        raise ScheduleError(f"{value!r} is longer than any duration can be", field=field) from None


def _seconds_of_text(text: str, field: str) -> Decimal:
    compact = text.replace(" ", "").lower()
    sign, compact = (-1, compact[1:]) if compact.startswith("-") else (1, compact)
    try:
        if compact and compact[-1].isdigit():
            return sign * Decimal(compact)
        return sign * _sum_of_units(compact)
    except (InvalidOperation, ValueError):
        raise ScheduleError(
            f"{text!r} is not a duration ({DURATION_EXAMPLES}; units w, d, h, m, s in that order)",
            field=field,
        ) from None


def _sum_of_units(compact: str) -> Decimal:
    match = _DURATION.fullmatch(compact)
    if not compact or match is None:
        raise ValueError(compact)
    return sum(
        (
            Decimal(number) * seconds
            for number, seconds in zip(match.groups(), _UNIT_SECONDS.values(), strict=True)
            if number is not None
        ),
        Decimal(0),
    )


def format_duration(duration: timedelta) -> str:
    """A duration written the way `parse_duration` reads it: ``1h30m``, ``45s``, ``0.5s``."""
    microseconds = duration // timedelta(microseconds=1)
    whole, fraction = divmod(microseconds, _MICROSECONDS_PER_SECOND)
    parts = []
    for unit, size in list(_UNIT_SECONDS.items())[:-1]:
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    if whole or fraction or not parts:
        seconds = Decimal(whole) + Decimal(fraction) / _MICROSECONDS_PER_SECOND
        parts.append(f"{seconds.normalize():f}s")
    return "".join(parts)


def duration_seconds(duration: timedelta) -> int | float:
    """Seconds as a JSON number: an int when whole, else a float."""
    microseconds = duration // timedelta(microseconds=1)
    whole, fraction = divmod(microseconds, _MICROSECONDS_PER_SECOND)
    return whole if not fraction else microseconds / _MICROSECONDS_PER_SECOND
