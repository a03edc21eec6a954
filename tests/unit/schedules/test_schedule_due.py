"""`due` with an injected clock: on-time fires, every misfire policy, limits, pause, jitter."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskflow.exceptions import ScheduleError
from taskflow.schedules import (
    MISSED_COUNT_LIMIT,
    DueFires,
    Fire,
    MisfirePolicy,
    ScheduleSpec,
    due,
    next_fires,
)
from taskflow.schedules.fire_times import fires_after

ID = "sched-1"
ALL_POLICIES = list(MisfirePolicy)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def nominal(result: DueFires) -> list[datetime]:
    return [fire.nominal for fire in result.fires]


def drain(spec: ScheduleSpec, last: datetime, now: datetime, **options: Any) -> list[datetime]:
    """Call `due` as a worker would at one instant until nothing more is due."""
    fired: list[datetime] = []
    while True:
        result = due(spec, schedule_id=ID, last_fired=last, now=now, **options)
        fired += nominal(result)
        last = result.watermark
        if result.next_fire is None or result.next_fire.run_at > now:
            return fired


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_an_on_time_fire_runs_under_every_policy(policy: MisfirePolicy) -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire=policy)
    result = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=utc(2025, 1, 1, 10, 1))
    assert result == DueFires(
        fires=(Fire(utc(2025, 1, 1, 10, 1), utc(2025, 1, 1, 10, 1)),),
        missed=0,
        watermark=utc(2025, 1, 1, 10, 1),
        next_fire=Fire(utc(2025, 1, 1, 10, 2), utc(2025, 1, 1, 10, 2)),
    )


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_several_fires_within_grace_all_run_under_every_policy(policy: MisfirePolicy) -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire=policy, grace=timedelta(minutes=5))
    result = due(
        spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=utc(2025, 1, 1, 10, 3, 30)
    )
    assert nominal(result) == [utc(2025, 1, 1, 10, m) for m in (1, 2, 3)]
    assert result.missed == 0


def test_nothing_is_due_before_the_time_and_the_watermark_stays() -> None:
    spec = ScheduleSpec(cron="* * * * *")
    last = utc(2025, 1, 1, 10)
    result = due(spec, schedule_id=ID, last_fired=last, now=utc(2025, 1, 1, 10, 0, 59))
    assert (result.fires, result.missed, result.watermark) == ((), 0, last)
    assert result.next_fire == Fire(utc(2025, 1, 1, 10, 1), utc(2025, 1, 1, 10, 1))


# An hourly job whose process was down from 10:00 to 12:30: 11:00 and 12:00 were missed.
HOURLY_OUTAGE = {"last_fired": utc(2025, 1, 1, 10), "now": utc(2025, 1, 1, 12, 30)}


def test_misfire_skip_runs_none_of_the_missed_times() -> None:
    spec = ScheduleSpec(cron="0 * * * *", misfire="skip")  # type: ignore[arg-type]
    result = due(spec, schedule_id=ID, **HOURLY_OUTAGE)
    assert (result.fires, result.missed, result.watermark) == ((), 2, utc(2025, 1, 1, 12))
    assert result.next_fire is not None and result.next_fire.nominal == utc(2025, 1, 1, 13)


def test_misfire_latest_runs_the_latest_missed_time_once() -> None:
    spec = ScheduleSpec(cron="0 * * * *", misfire="latest")  # type: ignore[arg-type]
    result = due(spec, schedule_id=ID, **HOURLY_OUTAGE)
    assert (nominal(result), result.missed) == ([utc(2025, 1, 1, 12)], 1)
    again = due(spec, schedule_id=ID, last_fired=result.watermark, now=HOURLY_OUTAGE["now"])
    assert again.fires == ()  # once


def test_misfire_latest_adds_nothing_when_an_on_time_fire_runs_anyway() -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire="latest")  # type: ignore[arg-type]
    result = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=utc(2025, 1, 1, 12))
    assert (nominal(result), result.missed) == ([utc(2025, 1, 1, 11, 59), utc(2025, 1, 1, 12)], 118)


def test_misfire_latest_for_a_daily_job_after_a_night_down() -> None:
    spec = ScheduleSpec(cron="0 2 * * *", timezone="Europe/Berlin")  # latest is the default
    result = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 23), now=utc(2025, 1, 2, 8))
    assert nominal(result) == [utc(2025, 1, 2, 1)]  # 02:00 CET, run at 09:00 CET


def test_misfire_all_runs_the_missed_times_within_the_catch_up_window() -> None:
    short = ScheduleSpec(cron="0 * * * *", misfire="all", catch_up=timedelta(hours=1))  # type: ignore[arg-type]
    result = due(short, schedule_id=ID, **HOURLY_OUTAGE)
    assert (nominal(result), result.missed) == ([utc(2025, 1, 1, 12)], 1)  # 11:00: 90 min late
    wide = ScheduleSpec(cron="0 * * * *", misfire="all", catch_up=timedelta(hours=2))  # type: ignore[arg-type]
    result = due(wide, schedule_id=ID, **HOURLY_OUTAGE)
    assert (nominal(result), result.missed) == ([utc(2025, 1, 1, 11), utc(2025, 1, 1, 12)], 0)


def test_misfire_all_window_edge_is_inclusive() -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire="all", catch_up=timedelta(minutes=10))  # type: ignore[arg-type]
    result = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=utc(2025, 1, 1, 11))
    assert nominal(result) == [utc(2025, 1, 1, 10, 50) + timedelta(minutes=m) for m in range(11)]
    assert result.missed == 49


def test_misfire_all_is_cut_at_the_limit_and_the_next_calls_continue_oldest_first() -> None:
    spec = ScheduleSpec(every=1, start=utc(2025, 1, 1), misfire="all")  # type: ignore[arg-type]
    now = utc(2025, 1, 1, 0, 10)
    first = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1), now=now, limit=100)
    assert nominal(first) == [utc(2025, 1, 1) + timedelta(seconds=s) for s in range(1, 101)]
    assert first.watermark == utc(2025, 1, 1, 0, 1, 40)
    assert first.next_fire is not None and first.next_fire.run_at <= now  # call again
    assert drain(spec, utc(2025, 1, 1), now, limit=100) == [
        utc(2025, 1, 1) + timedelta(seconds=s) for s in range(1, 601)
    ]


def test_grace_decides_what_is_on_time() -> None:
    strict = ScheduleSpec(cron="* * * * *", misfire="skip", grace=0)  # type: ignore[arg-type]
    late = utc(2025, 1, 1, 10, 1) + timedelta(microseconds=1)
    assert due(strict, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=late).fires == ()
    exact = utc(2025, 1, 1, 10, 1)
    assert nominal(due(strict, schedule_id=ID, last_fired=utc(2025, 1, 1, 10), now=exact)) == [
        exact
    ]


def test_a_future_start_and_a_past_end() -> None:
    spec = ScheduleSpec(cron="0 * * * *", start=utc(2025, 2, 1), end=utc(2025, 2, 1, 2))
    early = due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1), now=utc(2025, 1, 15))
    assert early.fires == () and early.next_fire is not None
    assert early.next_fire.nominal == utc(2025, 2, 1)
    last = due(spec, schedule_id=ID, last_fired=utc(2025, 2, 1, 1), now=utc(2025, 2, 1, 2))
    assert nominal(last) == [utc(2025, 2, 1, 2)]
    assert last.next_fire is None  # the schedule is over
    done = due(spec, schedule_id=ID, last_fired=last.watermark, now=utc(2025, 3, 1))
    assert (done.fires, done.next_fire, done.watermark) == ((), None, utc(2025, 2, 1, 2))


def test_a_year_of_missed_seconds_is_neither_walked_nor_run() -> None:
    for spec in (
        ScheduleSpec(cron="* * * * * *", misfire="skip"),  # type: ignore[arg-type]
        ScheduleSpec(cron="* * * * * *", misfire="latest"),  # type: ignore[arg-type]
        ScheduleSpec(cron="* * * * * *", misfire="all", jitter=0.5),  # type: ignore[arg-type]
        ScheduleSpec(every=1, start=utc(2024, 1, 1), misfire="all"),  # type: ignore[arg-type]
    ):
        began = time.perf_counter()
        result = due(spec, schedule_id=ID, last_fired=utc(2024, 1, 1), now=utc(2025, 1, 1))
        elapsed = time.perf_counter() - began
        assert elapsed < 5, f"{spec.describe()}: {elapsed:.1f}s; walked the whole year?"
        assert result.missed == MISSED_COUNT_LIMIT
        assert result.fires and result.fires[-1].nominal <= utc(2025, 1, 1)
        assert utc(2025, 1, 1) - result.fires[0].nominal <= spec.catch_up + spec.grace


def test_the_creation_time_stands_for_a_first_watermark() -> None:
    spec = ScheduleSpec(cron="*/5 * * * *", created_at=utc(2025, 1, 1, 10, 2))
    result = due(spec, schedule_id=ID, last_fired=None, now=utc(2025, 1, 1, 10, 5))
    assert nominal(result) == [utc(2025, 1, 1, 10, 5)]
    with pytest.raises(ScheduleError, match=r"^last_fired: "):
        due(ScheduleSpec(cron="* * * * *"), schedule_id=ID, last_fired=None, now=utc(2025, 1, 1))


def test_clock_values_must_be_aware_and_the_limit_positive() -> None:
    spec = ScheduleSpec(cron="* * * * *")
    with pytest.raises(ScheduleError, match=r"^now: "):
        due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1), now=datetime(2025, 1, 2))
    with pytest.raises(ScheduleError, match=r"^last_fired: "):
        due(spec, schedule_id=ID, last_fired=datetime(2025, 1, 1), now=utc(2025, 1, 2))
    with pytest.raises(ScheduleError, match=r"^limit: "):
        due(spec, schedule_id=ID, last_fired=utc(2025, 1, 1), now=utc(2025, 1, 2), limit=0)


# --- Pause and unpause: `due` is called once at the unpause instant, with `paused_since`.


def test_unpausing_does_not_replay_the_paused_period() -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire="all", catch_up=timedelta(hours=2))  # type: ignore[arg-type]
    last, pause, unpause = utc(2025, 1, 1, 10, 9), utc(2025, 1, 1, 10, 9, 30), utc(2025, 1, 1, 11)
    result = due(spec, schedule_id=ID, last_fired=last, now=unpause, paused_since=pause)
    assert (result.fires, result.missed, result.watermark) == ((), 51, unpause)
    assert result.next_fire is not None and result.next_fire.nominal == utc(2025, 1, 1, 11, 1)


def test_unpausing_with_replay_lets_the_misfire_policy_run_the_paused_period() -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire="all", catch_up=timedelta(hours=2))  # type: ignore[arg-type]
    last, pause, unpause = utc(2025, 1, 1, 10, 9), utc(2025, 1, 1, 10, 9, 30), utc(2025, 1, 1, 11)
    result = due(
        spec,
        schedule_id=ID,
        last_fired=last,
        now=unpause,
        paused_since=pause,
        replay_paused=True,
        limit=1000,
    )
    assert nominal(result) == [utc(2025, 1, 1, 10, 10) + timedelta(minutes=m) for m in range(51)]
    latest = ScheduleSpec(cron="0 * * * *")  # misfire latest
    common = {"last_fired": utc(2025, 1, 1, 9), "now": utc(2025, 1, 1, 12, 30)}
    paused_at = utc(2025, 1, 1, 9, 30)
    assert due(latest, schedule_id=ID, paused_since=paused_at, **common).fires == ()
    replayed = due(latest, schedule_id=ID, paused_since=paused_at, replay_paused=True, **common)
    assert nominal(replayed) == [utc(2025, 1, 1, 12)]


def test_times_due_before_the_pause_are_still_handled_by_the_misfire_policy() -> None:
    spec = ScheduleSpec(cron="* * * * *", misfire="all", catch_up=timedelta(hours=2))  # type: ignore[arg-type]
    result = due(
        spec,
        schedule_id=ID,
        last_fired=utc(2025, 1, 1, 10),
        now=utc(2025, 1, 1, 11),
        paused_since=utc(2025, 1, 1, 10, 9, 30),
    )
    assert nominal(result) == [utc(2025, 1, 1, 10, m) for m in range(1, 10)]
    assert result.watermark == utc(2025, 1, 1, 11)


def test_the_paused_period_is_judged_by_run_time_with_jitter() -> None:
    spec = ScheduleSpec(every=60, start=utc(2025, 1, 1), jitter=59, misfire="all")  # type: ignore[arg-type]
    fires = next_fires(spec, schedule_id=ID, after=utc(2025, 1, 1), count=3)
    # Pause between the second fire's nominal time and its (jittered) run time.
    pause = fires[1].nominal + (fires[1].run_at - fires[1].nominal) / 2
    assert fires[0].run_at < pause < fires[1].run_at
    result = due(
        spec,
        schedule_id=ID,
        last_fired=utc(2025, 1, 1),
        now=utc(2025, 1, 1, 0, 30),
        paused_since=pause,
    )
    assert nominal(result) == [fires[0].nominal]  # its run time came before the pause


# --- Jitter.


def test_jitter_delays_a_fire_and_lateness_counts_from_the_run_time() -> None:
    spec = ScheduleSpec(cron="0 * * * *", jitter=timedelta(minutes=30), misfire="skip", grace=60)  # type: ignore[arg-type]
    fire = next_fires(spec, schedule_id=ID, after=utc(2025, 1, 1, 9, 30), count=1)[0]
    delay = fire.run_at - fire.nominal
    assert timedelta(0) < delay < timedelta(minutes=30)
    last = utc(2025, 1, 1, 9)
    before = due(spec, schedule_id=ID, last_fired=last, now=fire.run_at - timedelta(microseconds=1))
    assert before.fires == () and before.next_fire == fire
    at = due(spec, schedule_id=ID, last_fired=last, now=fire.run_at + timedelta(seconds=59))
    assert at.fires == (fire,)  # on time: 59 s after its run time, though later than nominal


# --- The worker loop with an injected clock: nothing is lost, nothing fires twice.

SPECS = st.one_of(
    st.builds(
        lambda every, jitter: {"every": every, "start": "2025-01-01T00:00:00Z", "jitter": jitter},
        st.integers(1, 600),
        st.sampled_from([0, 0.5, 30]),
    ),
    st.builds(
        lambda cron, jitter: {"cron": cron, "jitter": jitter, "timezone": "Europe/Berlin"},
        st.sampled_from(["* * * * *", "*/7 * * * *", "*/15 * * * * *", "0 * * * *", "30 2 * * *"]),
        st.sampled_from([0, 5]),
    ),
)


def _run_worker(
    spec: ScheduleSpec, steps: list[int], start: datetime
) -> tuple[list[Fire], datetime]:
    """Evaluate at each clock step, as a worker loop does; return every fire and the end."""
    fired: list[Fire] = []
    last, now = start, start
    for step in steps:
        now += timedelta(seconds=step)
        while True:
            result = due(spec, schedule_id=ID, last_fired=last, now=now, limit=7)
            assert result.watermark >= last
            fired += result.fires
            last = result.watermark
            if result.next_fire is None or result.next_fire.run_at > now:
                break
    return fired, now


def _due_by(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Fire]:
    return list(takewhile(lambda f: f.run_at <= end, fires_after(spec, ID, start)))


@settings(max_examples=120, deadline=None)
@given(mapping=SPECS, steps=st.lists(st.integers(0, 55), min_size=1, max_size=40))
def test_property_polling_within_grace_fires_every_time_once_under_every_policy(
    mapping: dict[str, Any], steps: list[int]
) -> None:
    start = utc(2025, 3, 29, 23, 50)  # the Berlin spring-forward night
    for policy in ALL_POLICIES:
        spec = ScheduleSpec.from_mapping({**mapping, "misfire": policy.value})
        fired, end = _run_worker(spec, steps, start)
        assert fired == _due_by(spec, start, end), policy


@settings(max_examples=120, deadline=None)
@given(
    mapping=SPECS,
    steps=st.lists(st.integers(0, 4000), min_size=1, max_size=30),
    policy=st.sampled_from(ALL_POLICIES),
)
def test_property_any_outage_fires_in_order_never_twice_and_all_catches_up_in_its_window(
    mapping: dict[str, Any], steps: list[int], policy: MisfirePolicy
) -> None:
    spec = ScheduleSpec.from_mapping({**mapping, "misfire": policy.value, "catch_up": 4100})
    start = utc(2025, 10, 25, 23, 0)  # the Berlin fall-back night
    fired, end = _run_worker(spec, steps, start)
    times = [f.nominal for f in fired]
    assert times == sorted(set(times))  # in order, never twice
    if policy is MisfirePolicy.ALL:  # the window covers every step: nothing is lost
        assert fired == _due_by(spec, start, end)


def test_an_interval_counts_no_time_before_its_start() -> None:
    spec = ScheduleSpec(every=60, start=utc(2025, 1, 1, 10), misfire="skip")  # type: ignore[arg-type]
    result = due(
        spec, schedule_id=ID, last_fired=utc(2025, 1, 1, 9), now=utc(2025, 1, 1, 10, 5, 30)
    )
    assert (nominal(result), result.missed) == ([utc(2025, 1, 1, 10, 5)], 5)  # 10:00-10:04
    latest = ScheduleSpec(every=60, start=utc(2025, 1, 1, 10), grace=0)
    result = due(
        latest, schedule_id=ID, last_fired=utc(2025, 1, 1, 9), now=utc(2025, 1, 1, 10, 0, 30)
    )
    assert nominal(result) == [utc(2025, 1, 1, 10)]
