"""Backfill: every nominal time of a range, capped with an error naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskflow.exceptions import ScheduleError
from taskflow.schedules import BACKFILL_LIMIT, ScheduleSpec, backfill


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_both_ends_are_included() -> None:
    spec = ScheduleSpec(cron="0 */6 * * *")
    assert backfill(spec, utc(2025, 1, 1), utc(2025, 1, 2)) == tuple(
        utc(2025, 1, 1) + timedelta(hours=h) for h in (0, 6, 12, 18, 24)
    )


def test_naive_ends_are_in_the_schedule_time_zone() -> None:
    spec = ScheduleSpec(cron="0 2 * * *", timezone="Europe/Berlin")
    got = backfill(spec, datetime(2025, 1, 1), datetime(2025, 1, 3, 23, 59))
    assert got == (utc(2025, 1, 1, 1), utc(2025, 1, 2, 1), utc(2025, 1, 3, 1))


def test_only_the_schedule_own_times_within_its_start_and_end() -> None:
    spec = ScheduleSpec(
        every=timedelta(hours=1), start=utc(2025, 1, 1, 0, 30), end=utc(2025, 1, 1, 3)
    )
    assert backfill(spec, utc(2024, 12, 31), utc(2025, 1, 2)) == (
        utc(2025, 1, 1, 0, 30),
        utc(2025, 1, 1, 1, 30),
        utc(2025, 1, 1, 2, 30),
    )


def test_a_range_with_more_times_than_the_limit_is_refused_naming_end() -> None:
    spec = ScheduleSpec(cron="* * * * *")
    assert len(backfill(spec, utc(2025, 1, 1), utc(2025, 1, 1, 16, 39))) == BACKFILL_LIMIT
    with pytest.raises(ScheduleError) as caught:
        backfill(spec, utc(2025, 1, 1), utc(2025, 1, 2))
    assert caught.value.field == "end"
    assert "more than 1000 fire times" in str(caught.value)
    assert "2025-01-01T16:40:00+00:00" in str(caught.value)  # the first one past the limit
    assert len(backfill(spec, utc(2025, 1, 1), utc(2025, 1, 2), limit=1441)) == 1441


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(ScheduleError, match=r"^end: .*before the range's start"):
        backfill(ScheduleSpec(cron="* * * * *"), utc(2025, 1, 2), utc(2025, 1, 1))
