"""Periodic schedules, the part without I/O: specs, fire times, misfire and overlap policies.

A `ScheduleSpec` says when a schedule fires (a cron expression or a fixed interval, in an IANA
time zone, between optional start and end times, with deterministic jitter) and what happens
to late and overlapping runs. The functions here compute, from a spec and a clock value the
caller passes in (nothing here reads the wall clock):

- `next_fire_times` / `next_fires`: the coming nominal fire times;
- `due`: the fires to start now per the misfire policy, and the watermark to store;
- `backfill`: every nominal time of a range, capped;
- `decide_overlap` / `plan_overlap`: start, skip, buffer, or cancel the previous runs;
- `schedule_of`: the spec of a tree file's ``schedule:`` section.

Every datetime returned is aware, in UTC.
"""

from __future__ import annotations

from taskflow.exceptions import ScheduleError
from taskflow.schedules.cron import CronExpression
from taskflow.schedules.durations import format_duration, parse_duration
from taskflow.schedules.fire_times import (
    BACKFILL_LIMIT,
    Fire,
    backfill,
    jitter_delay,
    next_fire_times,
    next_fires,
)
from taskflow.schedules.misfire import DUE_LIMIT, MISSED_COUNT_LIMIT, DueFires, due
from taskflow.schedules.overlap import (
    OverlapAction,
    OverlapDecision,
    RunState,
    decide_overlap,
    plan_overlap,
)
from taskflow.schedules.spec import (
    DEFAULT_CATCH_UP,
    DEFAULT_GRACE,
    MisfirePolicy,
    OverlapPolicy,
    ScheduleSpec,
    schedule_of,
    zone_named,
)

__all__ = [
    "BACKFILL_LIMIT",
    "DEFAULT_CATCH_UP",
    "DEFAULT_GRACE",
    "DUE_LIMIT",
    "MISSED_COUNT_LIMIT",
    "CronExpression",
    "DueFires",
    "Fire",
    "MisfirePolicy",
    "OverlapAction",
    "OverlapDecision",
    "OverlapPolicy",
    "RunState",
    "ScheduleError",
    "ScheduleSpec",
    "backfill",
    "decide_overlap",
    "due",
    "format_duration",
    "jitter_delay",
    "next_fire_times",
    "next_fires",
    "parse_duration",
    "plan_overlap",
    "schedule_of",
    "zone_named",
]
