"""Interval fire times: anchor + k * every, in absolute time, never drifting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskflow.exceptions import ScheduleError
from taskflow.schedules import ScheduleSpec, next_fire_times

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_times_count_from_start_and_include_it() -> None:
    spec = ScheduleSpec(every=timedelta(minutes=90), start=utc(2025, 1, 1, 0, 0, 7))
    assert next_fire_times(spec, utc(2024, 12, 1), 3) == (
        utc(2025, 1, 1, 0, 0, 7),
        utc(2025, 1, 1, 1, 30, 7),
        utc(2025, 1, 1, 3, 0, 7),
    )


def test_times_count_from_the_creation_time_without_start() -> None:
    created = utc(2025, 6, 1, 10, 0, 3)
    spec = ScheduleSpec.from_mapping({"every": "15m"}, created_at=created)
    assert next_fire_times(spec, created, 2) == (
        utc(2025, 6, 1, 10, 15, 3),
        utc(2025, 6, 1, 10, 30, 3),
    )


def test_an_interval_without_start_or_creation_time_is_refused_naming_start() -> None:
    with pytest.raises(ScheduleError, match=r"^start: an interval without `start`"):
        next_fire_times(ScheduleSpec(every=60), utc(2025, 1, 1), 1)


def test_no_drift_after_a_million_periods() -> None:
    start = utc(2025, 1, 1)
    spec = ScheduleSpec(every=timedelta(seconds=7.3), start=start)
    far = start + 1_000_000 * timedelta(seconds=7.3)
    assert next_fire_times(spec, far - timedelta(microseconds=1), 2) == (
        far,
        far + timedelta(seconds=7.3),
    )


def test_intervals_are_in_absolute_time_across_daylight_saving() -> None:
    # Every hour from 00:00 Berlin time on both transition nights: always 1 h apart in UTC,
    # so the local hours skip 02:00 in spring and repeat it in autumn.
    for night, local_hours in (
        (datetime(2025, 3, 30), [0, 1, 3, 4, 5]),
        (datetime(2025, 10, 26), [0, 1, 2, 2, 3]),
    ):
        start = night.replace(tzinfo=BERLIN)
        spec = ScheduleSpec(every=timedelta(hours=1), timezone="Europe/Berlin", start=start)
        got = next_fire_times(spec, start - timedelta(seconds=1), 5)
        assert [b - a for a, b in itertools.pairwise(got)] == [timedelta(hours=1)] * 4
        assert [t.astimezone(BERLIN).hour for t in got] == local_hours


def test_a_daily_interval_keeps_24_hours_not_the_wall_clock_time() -> None:
    start = datetime(2025, 3, 29, 12, 0, tzinfo=BERLIN)
    spec = ScheduleSpec(every=timedelta(days=1), timezone="Europe/Berlin", start=start)
    after_switch = next_fire_times(spec, start, 1)[0]
    assert after_switch - start.astimezone(UTC) == timedelta(hours=24)
    assert after_switch.astimezone(BERLIN).hour == 13  # summer time began in between


def test_end_is_the_last_possible_time() -> None:
    spec = ScheduleSpec(every=600, start=utc(2025, 1, 1), end=utc(2025, 1, 1, 0, 30))
    assert next_fire_times(spec, utc(2025, 1, 1, 0, 5), 10) == (
        utc(2025, 1, 1, 0, 10),
        utc(2025, 1, 1, 0, 20),
        utc(2025, 1, 1, 0, 30),
    )


def test_a_naive_after_is_a_caller_bug_named_as_such() -> None:
    spec = ScheduleSpec(every=60, start=utc(2025, 1, 1))
    with pytest.raises(ScheduleError, match=r"^after: .*not an aware datetime"):
        next_fire_times(spec, datetime(2025, 1, 1), 1)
    with pytest.raises(ScheduleError, match=r"^count: "):
        next_fire_times(spec, utc(2025, 1, 1), -1)


@settings(max_examples=200, deadline=None)
@given(
    every_ms=st.integers(1_000, 10 * 86_400_000),
    anchor_offset_s=st.integers(-(10**8), 10**8),
    after_offset_s=st.integers(-(10**8), 10**8),
)
def test_property_times_are_on_the_grid_after_the_instant_and_consecutive(
    every_ms: int, anchor_offset_s: int, after_offset_s: int
) -> None:
    every = timedelta(milliseconds=every_ms)
    anchor = utc(2025, 1, 1) + timedelta(seconds=anchor_offset_s)
    after = utc(2025, 1, 1) + timedelta(seconds=after_offset_s)
    spec = ScheduleSpec(every=every, created_at=anchor)
    got = next_fire_times(spec, after, 5)
    assert len(got) == 5
    assert got[0] > after >= got[0] - every  # the first one after: none skipped
    assert all((t - anchor) % every == timedelta(0) for t in got)
    assert all(b - a == every for a, b in itertools.pairwise(got))
