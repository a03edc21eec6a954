"""ScheduleSpec: the mapping form parsed and checked, with errors naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import yaml

from taskflow.exceptions import DefinitionError, ScheduleError
from taskflow.schedules import (
    DEFAULT_CATCH_UP,
    DEFAULT_GRACE,
    MisfirePolicy,
    OverlapPolicy,
    ScheduleSpec,
    format_duration,
    parse_duration,
    schedule_of,
)


def test_defaults_are_utc_latest_and_skip() -> None:
    spec = ScheduleSpec.from_mapping({"cron": "0 * * * *"})
    assert spec.timezone == "UTC"
    assert spec.start is None and spec.end is None
    assert spec.jitter == timedelta(0)
    assert spec.grace == DEFAULT_GRACE == timedelta(seconds=60)
    assert spec.catch_up == DEFAULT_CATCH_UP == timedelta(hours=1)
    assert spec.misfire is MisfirePolicy.LATEST
    assert spec.overlap is OverlapPolicy.SKIP


def test_every_field_is_read_from_the_mapping() -> None:
    spec = ScheduleSpec.from_mapping(
        {
            "every": "1h30m",
            "timezone": "Europe/Berlin",
            "start": "2025-01-01T00:00:00",
            "end": "2025-12-31T23:00:00+00:00",
            "jitter": "5m",
            "grace": 30,
            "misfire": "all",
            "catch_up": "2h",
            "overlap": "buffer_one",
        }
    )
    assert spec.every == timedelta(hours=1, minutes=30)
    assert spec.timezone == "Europe/Berlin"
    assert spec.start == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # naive: Berlin, CET
    assert spec.end == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert (spec.jitter, spec.grace, spec.catch_up) == (
        timedelta(minutes=5),
        timedelta(seconds=30),
        timedelta(hours=2),
    )
    assert (spec.misfire, spec.overlap) == (MisfirePolicy.ALL, OverlapPolicy.BUFFER_ONE)
    assert spec.anchor == spec.start


def test_the_mapping_form_round_trips() -> None:
    for mapping in (
        {"cron": "*/5  * * * *", "timezone": "America/New_York", "jitter": 2.5},
        {"every": 90, "start": "2025-06-01T12:00:00+02:00", "misfire": "skip"},
        {"cron": "@daily", "overlap": "cancel_previous", "end": "2030-01-01T00:00:00Z"},
    ):
        spec = ScheduleSpec.from_mapping(mapping)
        again = ScheduleSpec.from_mapping(spec.to_mapping())
        assert again == spec
        assert again.to_mapping() == spec.to_mapping()


def test_a_spec_built_directly_is_checked_and_normalised_like_a_mapping() -> None:
    spec = ScheduleSpec(every=90, jitter="1m", misfire="skip", timezone="Asia/Tokyo")  # type: ignore[arg-type]
    assert spec.every == timedelta(seconds=90)
    assert spec.jitter == timedelta(minutes=1)
    assert spec.misfire is MisfirePolicy.SKIP
    with pytest.raises(ScheduleError, match=r"^every: .*shorter than 1 second"):
        ScheduleSpec(every=timedelta(milliseconds=500))


def test_cron_whitespace_is_collapsed_and_6_fields_and_macros_are_accepted() -> None:
    assert ScheduleSpec(cron="  30   2 * * * ").cron == "30 2 * * *"
    six = ScheduleSpec(cron="*/10 * * * * *")
    assert six.expression is not None and six.expression.fields[0] == "*/10"
    daily = ScheduleSpec(cron="@daily")
    assert daily.expression is not None and daily.expression.six_fields == "0 0 0 * * *"


def test_naive_start_and_end_are_read_in_the_schedule_time_zone() -> None:
    spec = ScheduleSpec.from_mapping(
        {"cron": "0 9 * * *", "timezone": "America/New_York", "start": "2025-07-01T09:00"}
    )
    assert spec.start == datetime(2025, 7, 1, 13, 0, tzinfo=UTC)  # EDT, UTC-4


def test_yaml_timestamps_and_dates_are_accepted() -> None:
    section = yaml.safe_load(
        "every: 1h\ntimezone: Europe/Berlin\nstart: 2025-03-01\nend: 2025-04-01T00:00:00Z\n"
    )
    assert isinstance(section["start"], date) and isinstance(section["end"], datetime)
    spec = ScheduleSpec.from_mapping(section)
    assert spec.start == datetime(2025, 2, 28, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert spec.end == datetime(2025, 4, 1, 0, 0, tzinfo=UTC)


def test_created_at_anchors_an_interval_without_start_and_must_be_aware() -> None:
    created = datetime(2025, 5, 5, 10, 0, tzinfo=UTC)
    spec = ScheduleSpec.from_mapping({"every": "10m"}, created_at=created)
    assert spec.anchor == created
    assert spec.with_created_at(created + timedelta(hours=1)).anchor == created + timedelta(hours=1)
    assert ScheduleSpec(every=60).anchor is None
    with pytest.raises(ScheduleError, match=r"^created_at: .*not an aware datetime"):
        ScheduleSpec(every=60, created_at=datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("mapping", "field", "message"),
    [
        ({}, "schedule", "needs `cron`"),
        ({"cron": "* * * * *", "every": 5}, "schedule", "not both"),
        ({"cron": "61 * * * *"}, "schedule.cron", "bad minute"),
        ({"cron": "* 24 * * *"}, "schedule.cron", "bad hour"),
        ({"cron": "* * 32 * *"}, "schedule.cron", "bad day-of-month"),
        ({"cron": "* * * 13 *"}, "schedule.cron", "bad month"),
        ({"cron": "* * * * 8"}, "schedule.cron", "bad day-of-week"),
        ({"cron": "60 * * * * *"}, "schedule.cron", "bad second"),
        ({"cron": "* * * *"}, "schedule.cron", "has 4 fields"),
        ({"cron": "* * * * * * *"}, "schedule.cron", "has 7 fields"),
        ({"cron": "0 0 30 2 *"}, "schedule.cron", "bad day-of-month"),
        ({"cron": "@reboot"}, "schedule.cron", "unknown macro"),
        ({"cron": 5}, "schedule.cron", "expected a cron expression"),
        ({"every": "5x"}, "schedule.every", "not a duration"),
        ({"every": "30m1h"}, "schedule.every", "in that order"),
        ({"every": 0}, "schedule.every", "shorter than 1 second"),
        ({"every": -5}, "schedule.every", "negative"),
        ({"every": True}, "schedule.every", "not a duration"),
        ({"every": float("nan")}, "schedule.every", "not a finite"),
        ({"every": 5, "timezone": "Europe/Berlinn"}, "schedule.timezone", "'Europe/Berlin'"),
        ({"every": 5, "timezone": "localtime"}, "schedule.timezone", "not an IANA"),
        ({"every": 5, "timezone": "../etc/passwd"}, "schedule.timezone", "not an IANA"),
        ({"every": 5, "start": "tomorrow"}, "schedule.start", "not an ISO 8601"),
        ({"every": 5, "end": 12}, "schedule.end", "not an ISO 8601"),
        (
            {"every": 5, "start": "2025-02-01T00:00Z", "end": "2025-01-01T00:00Z"},
            "schedule.end",
            "before `start`",
        ),
        ({"every": 5, "jitter": "-1s"}, "schedule.jitter", "negative"),
        ({"every": 5, "grace": "soon"}, "schedule.grace", "not a duration"),
        ({"every": 5, "catch_up": []}, "schedule.catch_up", "not a duration"),
        ({"every": 5, "misfire": "sometimes"}, "schedule.misfire", "skip, latest, all"),
        ({"every": 5, "overlap": "queue"}, "schedule.overlap", "buffer_one"),
        ({"every": 5, "cronn": "x"}, "schedule.cronn", "did you mean 'cron'"),
        ({"every": 5, "zzz": 1}, "schedule.zzz", "known: cron, every"),
    ],
)
def test_errors_name_the_field(mapping: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        ScheduleSpec.from_mapping(mapping, path="schedule")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert message in str(caught.value)
    assert isinstance(caught.value, DefinitionError)


def test_a_section_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ScheduleError, match=r"^schedule: expected a mapping"):
        ScheduleSpec.from_mapping("0 * * * *", path="schedule")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        ("90", timedelta(seconds=90)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 2h 3m 4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("1.5h", timedelta(minutes=90)),
        ("0.1s", timedelta(milliseconds=100)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text, field="every") == expected


def test_durations_format_back_to_what_they_parse_from() -> None:
    for duration in (
        timedelta(hours=1, minutes=30),
        timedelta(seconds=45),
        timedelta(days=8, seconds=1),
        timedelta(milliseconds=500),
        timedelta(0),
    ):
        assert parse_duration(format_duration(duration), field="x") == duration
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert format_duration(timedelta(seconds=0.25)) == "0.25s"


def test_describe() -> None:
    assert ScheduleSpec(cron="30 2 * * *", timezone="Europe/Berlin").describe() == (
        "cron '30 2 * * *' (Europe/Berlin)"
    )
    assert ScheduleSpec(every="1h30m").describe() == "every 1h30m (UTC)"  # type: ignore[arg-type]


def test_schedule_of_a_document() -> None:
    document = yaml.safe_load(
        "name: nightly\nschedule:\n  cron: '30 2 * * *'\n  timezone: Europe/Berlin\n"
        "tasks:\n  - {key: a, executor: sleep}\n"
    )
    spec = schedule_of(document)
    assert spec == ScheduleSpec(cron="30 2 * * *", timezone="Europe/Berlin")
    assert schedule_of({"tasks": []}) is None
    assert schedule_of({"schedule": None, "tasks": []}) is None
    assert schedule_of([{"id": "flat"}]) is None
    with pytest.raises(ScheduleError, match=r"^schedule\.every: '1 hour' is not a duration"):
        schedule_of({"schedule": {"every": "1 hour"}})


@pytest.mark.parametrize("value", [1.1193539168532372e16, "99999999999w", 10**20])
def test_a_duration_longer_than_any_is_a_schedule_error(value: object) -> None:
    with pytest.raises(ScheduleError, match="longer than any duration"):
        parse_duration(value, field="every")
