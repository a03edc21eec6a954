"""Cron fire times: fields, seconds, macros, time zones, and daylight saving as cron does it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from taskflow.schedules import ScheduleSpec, next_fire_times

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=zone, fold=fold).astimezone(UTC)  # type: ignore[misc]


def times(cron: str, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
    return list(next_fire_times(ScheduleSpec(cron=cron, timezone=timezone), after, count))


def test_five_fields_in_utc() -> None:
    assert times("*/15 9-10 * * MON-FRI", utc(2025, 1, 3, 10, 40), 3) == [
        utc(2025, 1, 3, 10, 45),  # Friday
        utc(2025, 1, 6, 9, 0),  # Monday
        utc(2025, 1, 6, 9, 15),
    ]


def test_times_are_strictly_after_the_given_instant() -> None:
    assert times("0 * * * *", utc(2025, 1, 1, 5, 0), 1) == [utc(2025, 1, 1, 6, 0)]
    assert times("0 * * * *", utc(2025, 1, 1, 4, 59, 59, 999999), 1) == [utc(2025, 1, 1, 5)]


def test_six_fields_have_seconds_first() -> None:
    assert times("*/20 * * * * *", utc(2025, 1, 1, 0, 0, 5), 4) == [
        utc(2025, 1, 1, 0, 0, 20),
        utc(2025, 1, 1, 0, 0, 40),
        utc(2025, 1, 1, 0, 1, 0),
        utc(2025, 1, 1, 0, 1, 20),
    ]


def test_macros_and_debian_extensions() -> None:
    assert times("@hourly", utc(2025, 1, 1, 0, 30), 1) == [utc(2025, 1, 1, 1)]
    assert times("@weekly", utc(2025, 1, 1), 1) == [utc(2025, 1, 5)]  # Sunday
    assert times("@monthly", utc(2025, 1, 15), 1) == [utc(2025, 2, 1)]
    assert times("@yearly", utc(2025, 3, 1), 1) == [utc(2026, 1, 1)]
    assert times("0 0 L * *", utc(2025, 2, 1), 1) == [utc(2025, 2, 28)]  # last day
    assert times("0 0 * * MON#1", utc(2025, 1, 1), 1) == [utc(2025, 1, 6)]  # first Monday


def test_fields_are_read_in_the_time_zone() -> None:
    assert times("0 9 * * *", utc(2025, 1, 10), 1, "America/New_York") == [
        utc(2025, 1, 10, 14)  # 09:00 EST
    ]
    assert times("0 9 * * *", utc(2025, 7, 10), 1, "America/New_York") == [
        utc(2025, 7, 10, 13)  # 09:00 EDT
    ]
    assert times("0 9 * * *", utc(2025, 7, 10), 1, "Asia/Kolkata") == [utc(2025, 7, 10, 3, 30)]


def test_end_and_start_bound_the_times() -> None:
    spec = ScheduleSpec(cron="0 12 * * *", start=utc(2025, 1, 3, 12), end=utc(2025, 1, 5, 12))
    assert next_fire_times(spec, utc(2025, 1, 1), 10) == (
        utc(2025, 1, 3, 12),
        utc(2025, 1, 4, 12),
        utc(2025, 1, 5, 12),
    )
    assert next_fire_times(spec, utc(2025, 1, 5, 12), 10) == ()


# --- Daylight saving. Berlin: 2025-03-30 02:00 CET -> 03:00 CEST, 2025-10-26 03:00 CEST ->
# 02:00 CET. New York: 2025-03-09 02:00 EST -> 03:00 EDT, 2025-11-02 02:00 EDT -> 01:00 EST.


@pytest.mark.parametrize(
    ("zone", "day_before", "expected"),
    [
        (
            BERLIN,
            (2025, 3, 29),
            [(2025, 3, 29, 2, 30), (2025, 3, 30, 3, 0), (2025, 3, 31, 2, 30)],
        ),
        (
            NEW_YORK,
            (2025, 3, 8),
            [(2025, 3, 8, 2, 30), (2025, 3, 9, 3, 0), (2025, 3, 10, 2, 30)],
        ),
    ],
)
def test_spring_forward_a_skipped_daily_time_fires_once_when_the_gap_ends(
    zone: ZoneInfo, day_before: tuple[int, int, int], expected: list[tuple[int, ...]]
) -> None:
    after = local(zone, *day_before)
    assert times("30 2 * * *", after, 3, zone.key) == [local(zone, *t) for t in expected]


def test_fall_back_a_repeated_daily_time_fires_once_on_its_first_occurrence() -> None:
    got = times("30 2 * * *", local(BERLIN, 2025, 10, 25), 3, "Europe/Berlin")
    assert got == [
        local(BERLIN, 2025, 10, 25, 2, 30),
        local(BERLIN, 2025, 10, 26, 2, 30, fold=0),  # 00:30 UTC, CEST
        local(BERLIN, 2025, 10, 27, 2, 30),
    ]
    assert got[1] == utc(2025, 10, 26, 0, 30)
    # New York repeats 01:00-02:00: a 01:30 job fires once, a 02:30 job is not affected.
    assert times("30 1 * * *", local(NEW_YORK, 2025, 11, 1, 12), 2, "America/New_York") == [
        utc(2025, 11, 2, 5, 30),  # 01:30 EDT
        utc(2025, 11, 3, 6, 30),  # 01:30 EST the next day
    ]
    assert times("30 2 * * *", local(NEW_YORK, 2025, 11, 1, 12), 2, "America/New_York") == [
        utc(2025, 11, 2, 7, 30),  # 02:30 EST
        utc(2025, 11, 3, 7, 30),
    ]


@pytest.mark.parametrize(
    ("zone", "start", "expected_utc"),
    [
        (BERLIN, (2025, 3, 30, 0, 30), [(2025, 3, 30, 0), (2025, 3, 30, 1), (2025, 3, 30, 2)]),
        (NEW_YORK, (2025, 3, 9, 0, 30), [(2025, 3, 9, 6), (2025, 3, 9, 7), (2025, 3, 9, 8)]),
    ],
)
def test_spring_forward_an_hourly_job_fires_every_real_hour(
    zone: ZoneInfo, start: tuple[int, ...], expected_utc: list[tuple[int, ...]]
) -> None:
    got = times("0 * * * *", local(zone, *start), 3, zone.key)
    assert got == [utc(*t) for t in expected_utc]
    # There is no 02:00 that night: 01:00 standard time, then 03:00 summer time.
    assert [t.astimezone(zone).hour for t in got] == [1, 3, 4]


@pytest.mark.parametrize(
    ("zone", "start", "repeated_hour"),
    [(BERLIN, (2025, 10, 26, 0, 30), 2), (NEW_YORK, (2025, 11, 1, 23, 30), 1)],
)
def test_fall_back_an_hourly_job_fires_every_real_hour(
    zone: ZoneInfo, start: tuple[int, ...], repeated_hour: int
) -> None:
    got = times("0 * * * *", local(zone, *start), 4, zone.key)
    assert [b - a for a, b in itertools.pairwise(got)] == [timedelta(hours=1)] * 3
    hours = [t.astimezone(zone).hour for t in got]
    assert hours == [repeated_hour - 1, repeated_hour, repeated_hour, repeated_hour + 1]


@pytest.mark.parametrize(
    ("zone", "after"),
    [
        (BERLIN, datetime(2025, 3, 29, 12, tzinfo=UTC)),
        (BERLIN, datetime(2025, 10, 25, 12, tzinfo=UTC)),
        (NEW_YORK, datetime(2025, 3, 8, 12, tzinfo=UTC)),
        (NEW_YORK, datetime(2025, 11, 1, 12, tzinfo=UTC)),
    ],
)
def test_six_field_expressions_follow_the_same_daylight_saving_rule(
    zone: ZoneInfo, after: datetime
) -> None:
    for five, six in (("30 2 * * *", "0 30 2 * * *"), ("30 1 * * *", "0 30 1 * * *")):
        assert times(six, after, 4, zone.key) == times(five, after, 4, zone.key)
    assert times("0 0 * * * *", after, 30, zone.key) == times("0 * * * *", after, 30, zone.key)


def test_an_instant_in_the_second_pass_of_a_repeated_hour_never_yields_an_earlier_time() -> None:
    after = local(BERLIN, 2025, 10, 26, 2, 15, fold=1)  # 01:15 UTC, after 02:30 CEST fired
    assert times("30 2 * * *", after, 1, "Europe/Berlin") == [utc(2025, 10, 27, 1, 30)]
    # cronsim alone, read with the wall clock, would answer 02:30 CEST, before `after`:
    raw = next(CronSim("30 2 * * *", after.astimezone(BERLIN)))
    assert raw.astimezone(UTC) < after


# --- Properties.

MONTH_DAYS = st.sets(st.integers(1, 28), min_size=1, max_size=4)
SET_OR_STAR = {
    "minute": st.one_of(st.none(), st.sets(st.integers(0, 59), min_size=1, max_size=5)),
    "hour": st.one_of(st.none(), st.sets(st.integers(0, 23), min_size=1, max_size=4)),
    "dom": st.one_of(st.none(), MONTH_DAYS),
    "month": st.one_of(st.none(), st.sets(st.integers(1, 12), min_size=1, max_size=6)),
    "dow": st.one_of(st.none(), st.sets(st.integers(0, 6), min_size=1, max_size=3)),
}
INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def _field(values: set[int] | None) -> str:
    return "*" if values is None else ",".join(map(str, sorted(values)))


def _matches(moment: datetime, fields: dict[str, set[int] | None]) -> bool:
    def ok(name: str, value: int) -> bool:
        allowed = fields[name]
        return allowed is None or value in allowed

    dom, dow = ok("dom", moment.day), ok("dow", (moment.weekday() + 1) % 7)
    either_star = fields["dom"] is None or fields["dow"] is None  # Debian: AND, else OR
    day = (dom and dow) if either_star else (dom or dow)
    clock = ok("minute", moment.minute) and ok("hour", moment.hour)
    return clock and ok("month", moment.month) and day


@settings(max_examples=150, deadline=None)
@given(fields=st.fixed_dictionaries(SET_OR_STAR), after=INSTANTS)
def test_property_times_increase_match_the_fields_and_skip_none(
    fields: dict[str, set[int] | None], after: datetime
) -> None:
    expression = " ".join(_field(fields[name]) for name in SET_OR_STAR)
    got = times(expression, after, 12)
    assert got, expression
    assert all(a < b for a, b in zip([after, *got], got, strict=False))
    assert all(t.second == 0 and t.microsecond == 0 and _matches(t, fields) for t in got)
    # Completeness: no matching minute between `after` and the first time (when close).
    first = got[0]
    if first - after < timedelta(days=2):
        minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute < first:
            assert not _matches(minute, fields), (expression, minute)
            minute += timedelta(minutes=1)
    # Asking again from a returned time gives the ones after it.
    if len(got) > 6:
        assert times(expression, got[3], 3) == got[4:7]


@settings(max_examples=150, deadline=None)
@given(
    fields=st.fixed_dictionaries(SET_OR_STAR),
    zone=st.sampled_from([BERLIN, NEW_YORK]),
    day=st.sampled_from(
        [
            (2025, 3, 29),
            (2025, 3, 30),
            (2025, 10, 25),
            (2025, 10, 26),
            (2025, 3, 8),
            (2025, 3, 9),
            (2025, 11, 1),
            (2025, 11, 2),
        ]
    ),
    minutes=st.integers(0, 48 * 60),
)
def test_property_five_fields_agree_with_cronsim_across_transitions(
    fields: dict[str, set[int] | None],
    zone: ZoneInfo,
    day: tuple[int, int, int],
    minutes: int,
) -> None:
    expression = " ".join(_field(fields[name]) for name in SET_OR_STAR)
    after = datetime(*day, tzinfo=UTC) + timedelta(minutes=minutes)
    start = after.astimezone(zone)
    assume(start.utcoffset() == start.replace(fold=1 - start.fold).utcoffset())  # no repeat
    expected = []
    for moment in CronSim(expression, start):
        expected.append(moment.astimezone(UTC))
        if len(expected) == 8:
            break
    assert times(expression, after, 8, zone.key) == expected
