"""Every way a process can stop leaves its trees resumable (issue 9): real processes, signals.

Each test reproduces a way a tree was lost or stuck before: a SIGKILL after a cancel, between
creating a tree and starting it, a SIGTERM to a worker, one unrunnable tree blocking `resume`
for all, several processes opening an empty PostgreSQL database, an executor blocking the loop
past the lease.
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_service import SUPPORT, ServiceCli, marks_of, statuses

from taskflow import EngineSettings, TaskManager, create_session

pytestmark = pytest.mark.slow
IMPORT = ("--import", "registered_executors")


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str) -> ServiceCli:
    return ServiceCli(tmp_path / "home", sqlite_url)


def write(path: Path, tree: Any) -> Path:
    path.write_text(json.dumps(tree))
    return path


def test_sigkill_after_a_cancel_leaves_the_tree_resumable(cli: ServiceCli, tmp_path: Path) -> None:
    """Before: the cancelled root was committed, the child stopping slowly stayed in_progress
    for ever, and `resume` said "nothing to resume"."""
    tree = {
        "name": "t",
        "tasks": [{"key": "slow", "executor": "test.slow_stop", "inputs": {"seconds": 5}}],
    }
    running = cli.start("run", str(write(tmp_path / "t.json", tree)), *IMPORT)
    cli.wait_for(
        lambda: any(t["status"] == "in_progress" for t in cli.json("tasks", "list")),
        what="the task to run",
    )
    running.send_signal(signal.SIGINT)  # Ctrl-C: cancel the tree; slow takes 5 s to stop
    cli.wait_for(
        lambda: any(
            t["status"] == "cancelled" and t["parent_id"] is None for t in cli.json("tasks", "list")
        ),
        what="the root's cancellation to be committed",
    )
    time.sleep(0.3)
    running.send_signal(signal.SIGKILL)
    running.communicate()
    tree_id = cli.json("tasks", "list", "--roots")[0]["id"]
    assert cli.json("tasks", "list", "--roots")[0]["status"] == "in_progress"
    resumed = cli.run("resume", *IMPORT)
    assert f"tree {tree_id} cancelled" in resumed.stdout, resumed.stdout + resumed.stderr
    left = statuses(cli, tree_id)
    assert left == {"t": "cancelled", "slow": "cancelled"}  # not run again under a cancelled root


def test_sigkill_at_any_moment_of_creating_a_tree_leaves_nothing_stuck(
    cli: ServiceCli, tmp_path: Path
) -> None:
    """Before: 4 of 8 kill moments left a pending tree with no lease that nothing could start."""
    marks = tmp_path / "marks.txt"
    tasks = [
        {"key": f"t{i}", "executor": "test.mark", "inputs": {"file": str(marks)}}
        for i in range(3000)
    ]
    path = write(tmp_path / "big.json", {"name": "big", "tasks": tasks})
    delays = [0.3, 0.6, 0.9, 1.2, 1.5, 2.0]
    while delays:
        delay = delays.pop(0)
        running = cli.start("run", str(path), *IMPORT)
        time.sleep(delay)
        running.send_signal(signal.SIGKILL)
        running.communicate()
        if not delays and delay < 10 and not _has_trees(cli):
            delays.append(delay + 0.5)  # a slow machine: kill later too, until one got written
    resumed = cli.run("resume", *IMPORT, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    trees = cli.json("tasks", "list", "--roots", "--limit", "100")
    assert trees, "some runs got far enough to write their tree"
    assert {t["status"] for t in trees} == {"completed"}, trees  # none pending, none stuck
    runs = collections.Counter((tree, key) for _, tree, key in marks_of(marks))
    assert len(runs) == 3000 * len(trees)


def _has_trees(cli: ServiceCli) -> bool:
    return cli.run("tasks", "list", "--roots", "--json").stdout.strip() not in ("", "[]")


def test_sigterm_to_a_worker_hands_its_trees_back(cli: ServiceCli, tmp_path: Path) -> None:
    marks = tmp_path / "marks.txt"
    tasks = [
        {"key": f"t{i}", "executor": "test.mark", "inputs": {"file": str(marks), "seconds": 0.3}}
        for i in range(20)
    ]
    queued = cli.run(
        "run", str(write(tmp_path / "t.json", {"name": "t", "concurrency": 2, "tasks": tasks})),
        "--detach", *IMPORT,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    tree_id = queued.stdout.strip()
    cli.wait_for(lambda: len(marks_of(marks)) >= 2, what="the detached worker to run tasks")
    worker = next(w for w in cli.json("tasks", "list", "--roots") if w["id"] == tree_id)["lease"][
        "owner"
    ]
    pid = int(worker.split("/")[1])
    started = time.monotonic()
    subprocess.run(["kill", "-TERM", str(pid)], check=True)
    cli.wait_for(
        lambda: cli.json("tasks", "list", "--roots")[0]["lease"]["owner"] is None,
        timeout=20,
        what="the worker to hand the tree back",
    )
    assert time.monotonic() - started < 15  # its grace (10 s), not the tree's whole run
    resumed = cli.run("resume", *IMPORT, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert set(statuses(cli, tree_id).values()) == {"completed"}
    assert max(collections.Counter(k for _, _, k in marks_of(marks)).values()) == 1


def test_a_tree_that_cannot_run_here_does_not_block_the_others(
    cli: ServiceCli, tmp_path: Path
) -> None:
    """Before: one tree whose executor could not be imported made `resume` exit 2 for all."""
    marks = tmp_path / "marks.txt"
    mark = {"key": "a", "executor": "test.mark", "inputs": {"file": str(marks), "seconds": 4}}
    trees = {
        "good": {"name": "good", "tasks": [mark]},
        "odd": {"name": "odd", "tasks": [{"key": "b", "executor": "test.slow_stop"}]},
    }
    for name, tree in trees.items():
        running = cli.start("run", str(write(tmp_path / f"{name}.json", tree)), *IMPORT)
        cli.wait_for(
            lambda name=name: any(
                t["name"] == name and t["status"] == "in_progress"
                for t in cli.json("tasks", "list", "--roots")
            ),
            what=f"tree {name} to start",
        )
        running.send_signal(signal.SIGKILL)  # a crash: both trees are left in_progress
        running.communicate()
    (tmp_path / "only_mark.py").write_text(
        "import control_executors\nfrom taskflow.executors import get_registry\n"
        "get_registry().register(control_executors.Mark, override=True)\n"
    )
    env = {**cli.env, "PYTHONPATH": f"{SUPPORT}:{tmp_path}"}
    resumed = subprocess.run(
        [sys.executable, "-m", "taskflow.cli", "resume", "--import", "only_mark"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert resumed.returncode == 1, resumed.stderr  # not 2: the good tree ran
    assert "cannot run here" in resumed.stderr and "test.slow_stop" in resumed.stderr
    trees = {t["name"]: t for t in cli.json("tasks", "list", "--roots")}
    assert {name: t["status"] for name, t in trees.items()} == {
        "good": "completed",
        "odd": "in_progress",
    }
    assert trees["odd"]["lease"]["owner"] is None  # left for a process that can run it


@pytest.mark.postgres
def test_many_processes_may_open_an_empty_postgresql_database_at_once(postgres_url: str) -> None:
    """Before: 2 in 20 failed with duplicate key ... pg_type_typname_nsp_index."""
    script = (
        "import asyncio, sys\n"
        "from taskflow.runtime import create_storage\n"
        "async def main():\n"
        "    storage = create_storage(sys.argv[1])\n"
        "    await storage.events.last_seq('x')\n"
        "    await storage.close()\n"
        "asyncio.run(main())\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(12)
    ]
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=60)
        if process.returncode != 0:
            failures.append(err.strip().splitlines()[-1])
    assert failures == []


BLOCKING_RUN = """
import asyncio, json, sys
import registered_executors
from taskflow import EngineSettings, TaskManager, create_session

async def main(url, path):
    manager = TaskManager(create_session(url), settings=EngineSettings(lease_seconds=1.0))
    tree = await manager.run_tree(json.load(open(path)))
    print(tree.find("block").task.status.value)
    await manager.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_blocking_executor_keeps_its_lease_and_is_reported(
    cli: ServiceCli, tmp_path: Path
) -> None:
    """Before: time.sleep in execute starved the loop, the lease ran out, and another process
    took over and ran the task again while it still ran."""
    marks = tmp_path / "marks.txt"
    tree = {"key": "r", "children": [{"key": "block", "executor": "test.blocker",
                                      "inputs": {"seconds": 4, "file": str(marks)}}]}  # fmt: skip
    path = write(tmp_path / "t.json", tree)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BLOCKING_RUN, cli.db_url, str(path),
        env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    other = TaskManager(create_session(cli.db_url), settings=EngineSettings(lease_seconds=1.0))
    try:
        took = []
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:  # try to take it over while the loop is blocked
            took.extend(await other.resume())
            await asyncio.sleep(0.2)
        assert took == []
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await other.close()
    assert out.decode().strip() == "completed", err.decode()
    assert "the event loop is blocked" in err.decode() and "'block'" in err.decode()
    assert len(marks_of(marks)) == 1  # it ran once
