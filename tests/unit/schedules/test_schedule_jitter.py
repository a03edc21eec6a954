"""Jitter: a delay derived from the schedule id and the nominal time, the same in every process."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from taskflow.schedules import ScheduleSpec, jitter_delay, next_fires

START = datetime(2025, 1, 1, tzinfo=UTC)
BOUND = timedelta(minutes=5)


def _delays(schedule_id: str, count: int = 50) -> list[int]:
    return [
        jitter_delay(schedule_id, START + timedelta(hours=h), BOUND) // timedelta(microseconds=1)
        for h in range(count)
    ]


def test_delays_are_within_the_bound_and_spread_over_it() -> None:
    delays = _delays("nightly", 500)
    assert all(0 <= d < BOUND // timedelta(microseconds=1) for d in delays)
    assert len(set(delays)) == 500
    # Spread: each fifth of the bound holds some of the 500 (a constant would fail this).
    fifths = {d * 5 // (BOUND // timedelta(microseconds=1)) for d in delays}
    assert fifths == {0, 1, 2, 3, 4}


def test_delays_depend_on_the_schedule_id_and_the_time_and_nothing_else() -> None:
    assert _delays("nightly") == _delays("nightly")
    assert _delays("nightly") != _delays("hourly")
    moment = START.astimezone(datetime.now().astimezone().tzinfo)  # same instant, other zone
    assert jitter_delay("a", moment, BOUND) == jitter_delay("a", START, BOUND)
    assert jitter_delay("a", START, timedelta(0)) == timedelta(0)


def test_delays_are_the_same_in_other_processes_whatever_their_hash_seed() -> None:
    script = (
        "import json, sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from taskflow.schedules import jitter_delay\n"
        "start = datetime(2025, 1, 1, tzinfo=UTC)\n"
        "print(json.dumps([jitter_delay(sys.argv[1], start + timedelta(hours=h),"
        " timedelta(minutes=5)) // timedelta(microseconds=1) for h in range(50)]))\n"
    )
    for seed in ("0", "1", "12345"):
        done = subprocess.run(
            [sys.executable, "-c", script, "nightly"],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(done.stdout) == _delays("nightly"), seed


def test_a_fire_never_starts_after_the_next_nominal_time() -> None:
    spec = ScheduleSpec(cron="0,1 * * * *", jitter=timedelta(minutes=30))  # gaps of 1 and 59 min
    fires = next_fires(spec, schedule_id="s", after=START, count=40)
    for fire, following in itertools.pairwise(fires):
        assert fire.nominal <= fire.run_at < following.nominal
        assert fire.run_at - fire.nominal < spec.jitter
    assert max(f.run_at - f.nominal for f in fires) > timedelta(minutes=1)  # the long gaps
