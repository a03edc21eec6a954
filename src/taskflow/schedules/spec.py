"""`ScheduleSpec`: when a schedule fires and what it does with late and overlapping runs.

The mapping form (a tree file's ``schedule:`` section, and the HTTP API's body)::

    cron: "30 2 * * *"          # or  every: 1h30m   (exactly one of the two)
    timezone: Europe/Berlin     # IANA name; default UTC
    start: 2025-01-01T00:00     # optional; naive times are in `timezone`
    end: 2025-12-31T23:59       # optional
    jitter: 5m                  # optional delay, at most this, the same in every process
    grace: 60                   # how late a fire may start and still be on time
    misfire: latest             # skip | latest | all
    catch_up: 1h                # with `all`: how far back missed times are still run
    overlap: skip               # allow | skip | buffer_one | cancel_previous
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from taskflow.exceptions import ScheduleError
from taskflow.schedules.cron import CronExpression
from taskflow.schedules.durations import duration_seconds, format_duration, parse_duration

DEFAULT_GRACE = timedelta(seconds=60)
DEFAULT_CATCH_UP = timedelta(hours=1)
SHORTEST_INTERVAL = timedelta(seconds=1)


class MisfirePolicy(StrEnum):
    """What to do with fire times that were missed (later than ``grace``) while nothing ran.

    Fire times that are on time always run; the policy decides about the missed ones.
    """

    SKIP = "skip"
    """Run none of them."""
    LATEST = "latest"
    """Run the latest one, once, unless an on-time fire runs anyway (the default)."""
    ALL = "all"
    """Run every one that is less than ``catch_up`` late, oldest first."""


class OverlapPolicy(StrEnum):
    """What to do with a fire while a tree an earlier fire started is still unfinished."""

    ALLOW = "allow"
    """Start it anyway."""
    SKIP = "skip"
    """Do not start it, and record why (the default)."""
    BUFFER_ONE = "buffer_one"
    """Start it when the unfinished tree finishes; at most one waits, later ones are skipped."""
    CANCEL_PREVIOUS = "cancel_previous"
    """Cancel the unfinished trees, then start it."""


FIELDS = (
    "cron",
    "every",
    "timezone",
    "start",
    "end",
    "jitter",
    "grace",
    "misfire",
    "catch_up",
    "overlap",
)


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """When a schedule fires, and its misfire and overlap policies. A checked, plain value.

    Build one with `ScheduleSpec.from_mapping` (strings and numbers, as in a tree file) or
    directly (Python values); both check every field and raise `ScheduleError` naming it.

    Attributes:
        cron: a cron expression (5 fields, or 6 with seconds first), or ``None``.
        every: a fixed interval (at least 1 s), or ``None``. Exactly one of the two is set.
        timezone: the IANA time zone the cron fields, and naive ``start``/``end``, are read in.
        start: the first instant the schedule may fire (aware, UTC); an interval's fire times
            are ``start + k * every``.
        end: the last instant it may fire (aware, UTC).
        jitter: each fire starts up to this much after its nominal time; the delay is derived
            from the schedule id and the nominal time, so every process computes the same.
        grace: how late a fire may start and still count as on time.
        misfire: what to do with fire times later than ``grace``.
        catch_up: with ``misfire=all``, missed times later than this are not run.
        overlap: what to do with a fire while an earlier fire's tree is unfinished.
        created_at: when the schedule was created (aware, UTC), given by its store; an
            interval without ``start`` counts from it. Not part of the mapping form.
    """

    cron: str | None = None
    every: timedelta | None = None
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    jitter: timedelta = timedelta(0)
    grace: timedelta = DEFAULT_GRACE
    misfire: MisfirePolicy = MisfirePolicy.LATEST
    catch_up: timedelta = DEFAULT_CATCH_UP
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    created_at: datetime | None = None
    _expression: CronExpression | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        zone = zone_named(self.timezone, field="timezone")
        if self.cron is None and self.every is None:
            raise ScheduleError("needs `cron` (a cron expression) or `every` (an interval)")
        if self.cron is not None and self.every is not None:
            raise ScheduleError("give either `cron` or `every`, not both")
        if self.cron is not None:
            expression = CronExpression.parse(self.cron, field="cron")
            object.__setattr__(self, "_expression", expression)
            object.__setattr__(self, "cron", expression.text)
        else:
            every = parse_duration(self.every, field="every")
            if every < SHORTEST_INTERVAL:
                raise ScheduleError(f"{self.every!r} is shorter than 1 second", field="every")
            object.__setattr__(self, "every", every)
        for name in ("jitter", "grace", "catch_up"):
            object.__setattr__(self, name, parse_duration(getattr(self, name), field=name))
        self._check_times(zone)
        object.__setattr__(self, "misfire", _choice(MisfirePolicy, self.misfire, "misfire"))
        object.__setattr__(self, "overlap", _choice(OverlapPolicy, self.overlap, "overlap"))

    def _check_times(self, zone: ZoneInfo) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _in_utc(_datetime_of(value, zone, name), zone))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ScheduleError(f"{self.end.isoformat()} is before `start`", field="end")
        if self.created_at is not None:
            object.__setattr__(self, "created_at", _aware_utc(self.created_at, "created_at"))

    @classmethod
    def from_mapping(
        cls, data: object, *, created_at: datetime | None = None, path: str = ""
    ) -> ScheduleSpec:
        """Parse and check the mapping form (see the module docstring).

        Args:
            data: the mapping, as loaded from YAML or JSON.
            created_at: when the schedule was created (see `ScheduleSpec.created_at`).
            path: where the mapping sits, to prefix error fields (``"schedule"`` in a tree
                file gives ``schedule.every``).

        Raises:
            ScheduleError: naming the field that is missing, unknown or invalid.
        """
        try:
            return cls(**_arguments(data), created_at=created_at)
        except ScheduleError as exc:
            field = ".".join(part for part in (path, exc.field) if part) or None
            raise ScheduleError(exc.detail, field=field) from None

    def to_mapping(self) -> dict[str, Any]:
        """The mapping form, JSON-ready (durations in seconds); ``from_mapping`` reads it back."""
        mapping: dict[str, Any] = (
            {"cron": self.cron}
            if self.cron is not None
            else {"every": duration_seconds(self.every or SHORTEST_INTERVAL)}
        )
        mapping["timezone"] = self.timezone
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                mapping[name] = value.isoformat()
        for name in ("jitter", "grace", "catch_up"):
            mapping[name] = duration_seconds(getattr(self, name))
        mapping["misfire"] = self.misfire.value
        mapping["overlap"] = self.overlap.value
        return mapping

    @property
    def zone(self) -> ZoneInfo:
        """The time zone, as a `ZoneInfo`."""
        return ZoneInfo(self.timezone)

    @property
    def expression(self) -> CronExpression | None:
        """The parsed cron expression, or ``None`` for an interval."""
        return self._expression

    @property
    def anchor(self) -> datetime | None:
        """What an interval counts from: ``start``, else ``created_at`` (``None`` if neither)."""
        return self.start if self.start is not None else self.created_at

    def with_created_at(self, created_at: datetime) -> ScheduleSpec:
        """The same spec, created at ``created_at`` (what a store does when it saves one)."""
        return dataclasses.replace(self, created_at=created_at)

    def describe(self) -> str:
        """A short human description: ``cron '30 2 * * *' (Europe/Berlin)``, ``every 1h30m``."""
        when = f"cron {self.cron!r}" if self.cron is not None else f"every {self._every_text}"
        return f"{when} ({self.timezone})"

    @property
    def _every_text(self) -> str:
        return format_duration(self.every) if self.every is not None else ""


def schedule_of(document: object, *, created_at: datetime | None = None) -> ScheduleSpec | None:
    """The schedule of a loaded tree-file document (its ``schedule:`` section), or ``None``.

    Args:
        document: the document as parsed from YAML or JSON (a flat task list has none).
        created_at: passed to `ScheduleSpec.from_mapping`.

    Raises:
        ScheduleError: the section is invalid; ``field`` starts with ``schedule.``.
    """
    if not isinstance(document, Mapping) or document.get("schedule") is None:
        return None
    return ScheduleSpec.from_mapping(document["schedule"], created_at=created_at, path="schedule")


@cache
def _zone_names() -> frozenset[str]:
    # "localtime" is this machine's zone: a schedule must mean the same on every machine.
    return frozenset(available_timezones() - {"localtime"})


def zone_named(name: object, *, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone of that name.

    Raises:
        ScheduleError: not a known IANA name (with the names that look alike).
    """
    if isinstance(name, str) and name in _zone_names():
        return ZoneInfo(name)
    by_lower = {known.lower(): known for known in _zone_names()}
    alike = difflib.get_close_matches(str(name).lower(), by_lower, n=3)
    hint = f"; did you mean {', '.join(repr(by_lower[a]) for a in alike)}?" if alike else ""
    raise ScheduleError(f"{name!r} is not an IANA time zone name{hint}", field=field)


def _arguments(data: object) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ScheduleError(f"expected a mapping of schedule fields, got {data!r}")
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    if unknown:
        alike = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        hint = f"; did you mean {alike[0]!r}?" if alike else f" (known: {', '.join(FIELDS)})"
        raise ScheduleError(f"unknown field{hint}", field=unknown[0])
    return {str(key): value for key, value in data.items()}


def _datetime_of(value: object, zone: ZoneInfo, field: str) -> datetime:
    """An ISO 8601 string, a datetime or a date (YAML loads unquoted timestamps as those)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ScheduleError(
        f"{value!r} is not an ISO 8601 date-time (e.g. 2025-01-31T02:30:00+01:00; without an "
        f"offset it is in the schedule's time zone, {zone.key})",
        field=field,
    )


def _in_utc(value: datetime, zone: ZoneInfo) -> datetime:
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


def _aware_utc(value: object, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ScheduleError(f"{value!r} is not an aware datetime", field=field)
    return value.astimezone(UTC)


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(kind: type[_Choice], value: object, field: str) -> _Choice:
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    choices = ", ".join(member.value for member in kind)
    raise ScheduleError(f"{value!r} is not one of {choices}", field=field)
