"""Trees outliving their processes: kill -9, SIGTERM, workers sharing a database, takeovers.

Real `taskflow` processes on a SQLite file or PostgreSQL, killed with real signals. The tasks
run `test.mark` (tests/support): each execution appends ``PID TREE KEY`` to a file, so what
ran where, and how many times, is read back from that file — not from taskflow.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli

SUPPORT = Path(__file__).resolve().parents[1] / "support"

pytestmark = pytest.mark.slow


class ServiceCli(Cli):
    """The CLI with the test executors importable (``--import registered_executors``)."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "PYTHONPATH": str(SUPPORT)}


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str) -> ServiceCli:
    return ServiceCli(tmp_path / "home", sqlite_url)


@pytest.fixture
def pg_cli(tmp_path: Path, postgres_url: str) -> ServiceCli:
    return ServiceCli(tmp_path / "home", postgres_url)


def flat_tree(marks: Path, count: int, seconds: float, *, root_executor: bool) -> list[Any]:
    """A flat task list: a root (with an executor of its own, or a group) and ``count``
    children that mark the file."""
    work = {"executor": "test.mark", "inputs": {"file": str(marks), "seconds": seconds}}
    root: dict[str, Any] = {"id": "root", **(work if root_executor else {})}
    if not root_executor:
        root["name"] = "root"
    return [root, *({"id": f"t{i}", "parent_id": "root", **work} for i in range(count))]


def marks_of(path: Path) -> list[tuple[int, str, str]]:
    """``(pid, tree, key)`` of every execution recorded."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        pid, tree, key = line.split()
        found.append((int(pid), tree, key))
    return found


def statuses(cli: Cli, tree_id: str) -> dict[str, str]:
    return {key: task["status"] for key, task in cli.tasks_by_key(tree_id).items()}


def test_kill_9_then_resume_at_once_finishes_a_tree_whose_root_has_an_executor(
    cli: ServiceCli, tmp_path: Path
) -> None:
    """The engine-core issue's must-show: 300 tasks, kill -9 mid-way, `taskflow resume` takes
    over at once (the dead owner is on this host), nothing completed runs twice."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 300, 0.1, root_executor=True)))
    running = cli.start(
        "run", str(tree_file), "--import", "registered_executors", "--concurrency", "10"
    )
    cli.wait_for(lambda: len(marks_of(marks)) >= 100, timeout=60, what="100 tasks to run")
    running.send_signal(signal.SIGKILL)
    running.communicate()
    tree_id = marks_of(marks)[0][1]
    before = statuses(cli, tree_id)
    done_before = {key for key, status in before.items() if status == "completed"}
    assert before["root"] == "completed"  # the root ran first: the tree is not finished
    roots = cli.json("tasks", "list", "--roots")
    assert [(t["id"], t["status"]) for t in roots] == [(tree_id, "in_progress")]

    started = time.monotonic()
    resuming = cli.start("resume", "--import", "registered_executors")
    assert resuming.stderr is not None
    first = resuming.stderr.readline()
    took = time.monotonic() - started
    out, err = resuming.communicate(timeout=120)
    assert first.strip() == f"resuming tree {tree_id}", first + err
    assert took < 2.0, f"the takeover took {took:.2f} s"
    assert resuming.returncode == 0, err
    assert f"tree {tree_id} completed" in out
    after = statuses(cli, tree_id)
    assert set(after.values()) == {"completed"} and len(after) == 301
    runs = collections.Counter(key for _, _, key in marks_of(marks))
    assert set(runs) == set(after)  # every task ran
    assert [key for key in done_before if runs[key] != 1] == []  # completed ones ran once
    twice = [key for key, n in runs.items() if n > 1]
    assert len(twice) <= 10  # only what was in flight at the kill (the concurrency limit)


def test_sigterm_hands_a_running_tree_back_resumable(cli: ServiceCli, tmp_path: Path) -> None:
    """SIGTERM (systemd, Docker, Kubernetes) is a graceful stop, not a crash and not a cancel."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 40, 0.3, root_executor=False)))
    running = cli.start(
        "run", str(tree_file), "--import", "registered_executors", "--concurrency", "4"
    )
    cli.wait_for(lambda: len(marks_of(marks)) >= 4, timeout=30, what="tasks to run")
    started = time.monotonic()
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=30)
    assert running.returncode == 143, err
    assert time.monotonic() - started < 5  # running tasks were let finish (0.3 s), no more
    assert "SIGTERM" in err and "taskflow resume" in err
    tree_id = marks_of(marks)[0][1]
    left = statuses(cli, tree_id)
    assert "in_progress" not in {s for key, s in left.items() if key != "root"}
    tree = cli.json("tasks", "list", "--roots")[0]
    assert (tree["status"], tree["lease"]["owner"]) == ("in_progress", None)  # handed back
    resumed = cli.run("resume", "--import", "registered_executors", timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert set(statuses(cli, tree_id).values()) == {"completed"}
    runs = collections.Counter(key for _, _, key in marks_of(marks))
    assert max(runs.values()) == 1  # a graceful stop re-runs nothing


def test_resume_says_who_holds_a_tree_it_cannot_take(cli: ServiceCli, tmp_path: Path) -> None:
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 2, 30, root_executor=False)))
    running = cli.start("run", str(tree_file), "--import", "registered_executors")
    try:
        cli.wait_for(lambda: cli.json("tasks", "list", "--roots"), timeout=30, what="the tree")
        resumed = cli.run("resume", "--import", "registered_executors")
        assert resumed.returncode == 0, resumed.stderr
        assert "is held by process" in resumed.stderr and "until" in resumed.stderr
        assert str(running.pid) in resumed.stderr
    finally:
        running.send_signal(signal.SIGKILL)
        running.communicate()


def test_run_detach_queues_the_tree_and_starts_a_worker(cli: ServiceCli, tmp_path: Path) -> None:
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 5, 0, root_executor=False)))
    done = cli.run("run", str(tree_file), "--detach", "--import", "registered_executors")
    assert done.returncode == 0, done.stderr
    tree_id = done.stdout.strip()
    assert "started a worker in the background" in done.stderr

    def finished() -> bool:
        return bool(cli.json("tasks", "list", "--roots")[0]["status"] == "completed")

    cli.wait_for(finished, timeout=30, what="the worker to run the queued tree")
    assert {tree for _, tree, _ in marks_of(marks)} == {tree_id}


#: A producer without an API: it queues trees for the workers with the Python API.
PRODUCER = """
import asyncio, json, sys
import registered_executors
from taskflow import TaskManager, create_session

async def main(url, path, count):
    manager = TaskManager(create_session(url))
    definition = json.load(open(path))
    for _ in range(count):
        tree = await manager.create_tree(definition, queued=True)
        print(tree.task.id, flush=True)
    await manager.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def produce(cli: ServiceCli, tree_file: Path, count: int) -> list[str]:
    """Queue ``count`` trees of the file with `PRODUCER`; their ids."""
    produced = subprocess.run(
        [sys.executable, "-c", PRODUCER, cli.db_url, str(tree_file), str(count)],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert produced.returncode == 0, produced.stderr
    return produced.stdout.split()


def _worker(cli: ServiceCli, *options: str) -> subprocess.Popen[str]:
    return cli.start("worker", "--import", "registered_executors", "--poll", "0.2", *options)


@pytest.mark.postgres
def test_two_workers_share_fifty_trees_and_survive_a_kill(
    pg_cli: ServiceCli, tmp_path: Path
) -> None:
    """The engine-core issue's must-show: two workers, a producer queuing 50 trees, kill -9 of
    one worker mid-way; every tree completes; no tree is run by two workers at once."""
    cli, marks, tree_file = pg_cli, tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 4, 0.2, root_executor=False)))
    workers = [_worker(cli, "--max-trees", "5"), _worker(cli, "--max-trees", "5")]
    killed = workers[0]
    try:
        tree_ids = set(produce(cli, tree_file, 50))
        assert len(tree_ids) == 50
        cli.wait_for(
            lambda: sum(pid == killed.pid for pid, _, _ in marks_of(marks)) >= 20,
            timeout=60,
            what="the first worker to run 20 tasks",
        )
        killed.send_signal(signal.SIGKILL)
        killed.communicate()

        def all_done() -> bool:
            return {
                t["status"] for t in cli.json("tasks", "list", "--roots", "--limit", "100")
            } == {"completed"}

        cli.wait_for(all_done, timeout=120, what="the survivor to finish every tree")
    finally:
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=30)
    runs = marks_of(marks)
    assert {tree for _, tree, _ in runs} == tree_ids
    by_task = collections.Counter((tree, key) for _, tree, key in runs)
    assert len(by_task) == 50 * 4  # every task ran
    pids_of_tree = collections.defaultdict(set)
    for pid, tree, _ in runs:
        pids_of_tree[tree].add(pid)
    survivor = workers[1].pid
    for tree, pids in pids_of_tree.items():
        # one worker, or the killed one then the survivor (a takeover), never another mix
        assert pids in ({killed.pid}, {survivor}, {killed.pid, survivor}), (tree, pids)
    twice = [task for task, n in by_task.items() if n > 1]
    assert len(twice) <= 5 * 4  # only tasks in flight on the killed worker ran again
    assert os.path.exists(marks)


def test_worker_limit_caps_one_executor(cli: ServiceCli, tmp_path: Path) -> None:
    """``taskflow worker --limit test.mark=1``: the tree's four tasks run one after another."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 4, 0.3, root_executor=False)))
    [tree_id] = produce(cli, tree_file, 1)
    done = cli.run(
        "worker", "--import", "registered_executors", "--poll", "0.2",
        "--limit", "test.mark=1", "--idle-exit", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_one_after_another(cli, tree_id, 4)


def assert_one_after_another(cli: ServiceCli, tree_id: str, count: int) -> None:
    """The tree's ``count`` children completed, and no two of them ran at the same time."""
    tasks = [t for key, t in cli.tasks_by_key(tree_id).items() if key != "root"]
    assert [t["status"] for t in tasks] == ["completed"] * count
    spans = sorted((t["started_at"], t["completed_at"]) for t in tasks)
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert ended <= started, f"two test.mark tasks overlapped: {spans}"


def test_run_limit_caps_one_executor(cli: ServiceCli, tmp_path: Path) -> None:
    """``taskflow run --limit test.mark=1``: the same cap as the worker's, in the run's own
    process (the tree's concurrency would let all four run at once)."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 4, 0.3, root_executor=False)))
    done = cli.run(
        "run", str(tree_file), "--import", "registered_executors", "--json",
        "--limit", "test.mark=1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [tree_id] = {tree for _, tree, _ in marks_of(marks)}
    assert_one_after_another(cli, tree_id, 4)


def test_resume_limit_caps_one_executor(cli: ServiceCli, tmp_path: Path) -> None:
    """``taskflow resume --limit test.mark=1`` runs a queued tree under the cap."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 4, 0.3, root_executor=False)))
    [tree_id] = produce(cli, tree_file, 1)
    done = cli.run("resume", "--import", "registered_executors", "--limit", "test.mark=1")
    assert done.returncode == 0, done.stderr
    assert f"tree {tree_id} completed" in done.stdout
    assert_one_after_another(cli, tree_id, 4)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["run", "tree.json", "--limit", "test.mrk=1"], "no executor 'test.mrk' is installed"),
        (["resume", "--rate", "nope=1/s"], "no executor 'nope' is installed here"),
        (["run", "tree.json", "--detach", "--limit", "test.mark=1"], "taskflow worker"),
    ],
)
def test_run_and_resume_refuse_limits_they_cannot_apply(
    cli: ServiceCli, tmp_path: Path, command: list[str], says: str
) -> None:
    """A misspelt executor id is refused before anything is written, and ``--detach`` (the
    tree runs on a worker, not here) says where the cap belongs."""
    marks, tree_file = tmp_path / "marks.txt", tmp_path / "tree.json"
    tree_file.write_text(json.dumps(flat_tree(marks, 1, 0, root_executor=False)))
    command = [str(tree_file) if part == "tree.json" else part for part in command]
    done = cli.run(*command, "--import", "registered_executors")
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert command[-2] in done.stderr  # the message names the option
    assert cli.json("tasks", "list", "--roots") == []  # nothing was queued or run


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["--limit", "test.mark"], "'test.mark' is not EXECUTOR=N"),
        (["--limit", "test.mark=0"], "it must be at least 1"),
        (["--limit", "test.mark=two"], "'two' is not a whole number"),
        (
            ["--limit", "test.mrk=2"],
            "no executor 'test.mrk' is installed here; did you mean 'test.mark'",
        ),
        (["--limit", "test.mark=1", "--limit", "test.mark=2"], "'test.mark' is given twice"),
        (["--rate", "test.mark=fast"], "test.mark=fast"),
        (["--rate", "nope=1/s"], "no executor 'nope' is installed here"),
    ],
)
def test_worker_limits_that_cannot_be_applied_are_refused(
    cli: ServiceCli, given: list[str], says: str
) -> None:
    done = cli.run("worker", "--import", "registered_executors", "--idle-exit", "0", *given)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    option = given[-2]
    assert option in done.stderr  # the message names the option
