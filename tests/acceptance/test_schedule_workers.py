"""Every worker fires schedules, and a fire time gets one tree however many there are (issue 15).

Real ``taskflow worker`` processes — four on PostgreSQL, two on one SQLite file — fire a
schedule every second for 20 seconds; one of them is killed with SIGKILL midway. The fire
records and the trees are read back through the CLI: every second of the window fired, once,
and every tree it started ran to the end.
"""

from __future__ import annotations

import collections
import itertools
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_service import ServiceCli

pytestmark = pytest.mark.slow

TICK = """\
name: tick
schedule:
  every: 1
  misfire: all        # a second missed while workers start or die is caught up ...
  catch_up: 120       # ... within two minutes
  overlap: allow
tasks:
  - {key: mark, executor: test.mark, inputs: {file: MARKS}}
"""


def run_schedule(cli: ServiceCli, tmp_path: Path, workers: int) -> None:
    marks = tmp_path / "marks.txt"
    tree_file = tmp_path / "tick.yaml"
    tree_file.write_text(TICK.replace("MARKS", str(marks)))
    added = cli.run("schedules", "add", str(tree_file), "--import", "registered_executors")
    assert added.returncode == 0, added.stderr
    started = time.monotonic()
    processes = [
        cli.start("worker", "--poll", "0.2", "--import", "registered_executors")
        for _ in range(workers)
    ]
    try:
        time.sleep(10)
        processes[0].send_signal(signal.SIGKILL)  # midway, whatever it was doing
        processes[0].communicate()
        time.sleep(max(0.0, 20 - (time.monotonic() - started)))
        paused = cli.run("schedules", "pause", "tick")
        assert paused.returncode == 0, paused.stderr
        fires = cli.json("schedules", "show", "tick", "--fires", "1000")["fires"]
        tree_ids = {fire["tree_id"] for fire in fires}

        def all_done() -> bool:
            roots = cli.json("tasks", "list", "--roots", "--limit", "1000")
            finished = {r["id"] for r in roots if r["status"] == "completed"}
            return tree_ids <= finished

        # The killed worker's trees are taken over once its lease runs out.
        cli.wait_for(all_done, timeout=90, what="every fired tree to complete")
    finally:
        for process in processes[1:]:
            process.send_signal(signal.SIGTERM)
        for process in processes[1:]:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    nominal = sorted(datetime.fromisoformat(f["nominal"]) for f in fires)
    assert len(nominal) >= 18, nominal
    assert len(set(nominal)) == len(nominal)  # one record per fire time
    gaps = [b - a for a, b in itertools.pairwise(nominal)]
    assert set(gaps) == {timedelta(seconds=1)}, gaps  # no fire time missed
    assert {f["status"] for f in fires} == {"started"} and {f["kind"] for f in fires} == {
        "schedule"
    }
    assert len(tree_ids) == len(fires)  # one tree per fire time
    roots = cli.json("tasks", "list", "--roots", "--limit", "1000")
    assert {r["id"] for r in roots} == tree_ids  # and no tree that no fire started
    runs = collections.Counter(line.split()[1] for line in marks.read_text().splitlines())
    assert set(runs) == tree_ids
    # A tree may run twice only if its worker was killed mid-task (at least once, by design);
    # every other tree ran exactly once.
    assert sum(count - 1 for count in runs.values()) <= 1, runs


def test_four_workers_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    run_schedule(ServiceCli(tmp_path / "home", postgres_url), tmp_path, workers=4)


def test_two_workers_on_one_sqlite_file(tmp_path: Path, sqlite_url: str) -> None:
    run_schedule(ServiceCli(tmp_path / "home", sqlite_url), tmp_path, workers=2)
