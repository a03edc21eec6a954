"""taskflow on Celery workers next to a bare Celery chord of the same no-ops, same broker, same run.

    .venv/bin/python bench/distributed.py                      # 1,000 and 10,000 tasks
    .venv/bin/python bench/distributed.py --sizes 1000 --db postgresql://postgres@127.0.0.1/postgres

Two taskflow workers (``taskflow celery worker -c 1``) and two bare Celery workers (``-c 1``)
are started on queues of this run's own, on one Redis (``--redis``, default db 11). For each
size, taskflow runs a tree of that many ``noop`` tasks (``TaskManager.run_tree``, durable: every
state change written to the database, a fresh SQLite file by default) with the Celery backend,
then the bare side runs ``chord(noop.s(i) for i in range(n))(collect.s())`` and polls the
callback's state until it is ready (every 20 ms). Both are timed from the first send to the
last result; both are checked (every task completed; the callback counted n results).
Printed: both times, tasks/s, and the ratio taskflow / chord. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start_worker(command: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    node = f"{name}@{socket.gethostname()}"
    return subprocess.Popen(
        [*command, "-n", node, "--loglevel", "WARNING"],
        env={**os.environ, **env},
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(broker: str, nodes: list[str], timeout: float = 60) -> None:
    from celery import Celery

    app = Celery("bench-ping", broker=broker, set_as_current=False)
    waiting, deadline = set(nodes), time.monotonic() + timeout
    try:
        while waiting and time.monotonic() < deadline:
            for reply in app.control.ping(destination=list(waiting), timeout=0.5):
                waiting -= set(reply)
        if waiting:
            raise SystemExit(f"workers did not start: {sorted(waiting)}")
    finally:
        app.close()


@contextlib.contextmanager
def workers(redis: str, tag: str) -> Iterator[None]:
    env = {
        "TASKFLOW_CELERY_BROKER_URL": redis,
        "TASKFLOW_REDIS_URL": redis,
        "TASKFLOW_CELERY_KEY_PREFIX": f"bench-{tag}",
        "TASKFLOW_CELERY_QUEUE": f"bench-tf-{tag}",
        "BENCH_REDIS_URL": redis,
        "PYTHONPATH": str(HERE),
    }
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    taskflow = [sys.executable, "-m", "taskflow.cli", "celery", "worker", "-c", "1"]
    taskflow += ["-Q", f"bench-tf-{tag}"]
    chord = [sys.executable, "-m", "celery", "-A", "chord_app", "worker", "-c", "1"]
    chord += ["-Q", f"bench-chord-{tag}", "--without-mingle", "--without-gossip"]
    names = [f"tf{i}-{tag}" for i in range(2)] + [f"chord{i}-{tag}" for i in range(2)]
    processes = [
        start_worker(taskflow if name.startswith("tf") else chord, env, name) for name in names
    ]
    try:
        wait_ready(redis, [f"{name}@{socket.gethostname()}" for name in names])
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def run_taskflow(n: int, db: str, concurrency: int) -> float:
    from taskflow import EngineSettings, TaskManager, create_session
    from taskflow.executors import get_registry
    from taskflow.runtime.manager import build_celery_backend

    manager = TaskManager(
        create_session(db),
        settings=EngineSettings(concurrency=concurrency),
        backend=build_celery_backend(get_registry()),
    )
    definition = {
        "name": f"bench-{n}",
        "children": [{"key": f"t{i}", "executor": "noop"} for i in range(n)],
    }
    try:
        await manager.task_repository.list_tasks(limit=1)  # the schema, before the clock
        started = time.perf_counter()
        tree = await manager.run_tree(definition)
        took = time.perf_counter() - started
    finally:
        await manager.close()
    bad = [node.task.key for node in tree.walk() if node.task.status.value != "completed"]
    if bad:
        raise SystemExit(f"taskflow: {len(bad)} tasks did not complete, e.g. {bad[:3]}")
    return took


def run_chord(n: int, tag: str) -> float:
    sys.path.insert(0, str(HERE))
    from celery import chord
    from chord_app import collect, noop

    queue = f"bench-chord-{tag}"
    started = time.perf_counter()
    result = chord(noop.s(i).set(queue=queue) for i in range(n))(collect.s().set(queue=queue))
    # Polled, not result.get(): get() drains the results of every header task through the
    # client's pub/sub, which grows faster than n (6.6 s for 1,000, 21.5 s for 3,000 here).
    while not result.ready():
        time.sleep(0.02)
    count = result.result
    took = time.perf_counter() - started
    if count != n:
        raise SystemExit(f"chord: {count} results, not {n}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--only", choices=["taskflow", "chord"], help="run one side only")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:6]
    print(
        f"{'tasks':>7} {'taskflow s':>11} {'tasks/s':>8} {'chord s':>8} {'tasks/s':>8} {'ratio':>6}"
    )
    with workers(args.redis, tag), tempfile.TemporaryDirectory() as tmp:
        for n in (int(size) for size in args.sizes.split(",")):
            db = args.db or f"sqlite:///{tmp}/bench-{n}.db"
            taskflow = bare = float("nan")
            if args.only != "chord":
                taskflow = asyncio.run(run_taskflow(n, db, args.concurrency))
                print(f"  taskflow, {n} tasks: {taskflow:.2f} s", file=sys.stderr, flush=True)
            if args.only != "taskflow":
                bare = run_chord(n, tag)
                print(f"  chord, {n} tasks: {bare:.2f} s", file=sys.stderr, flush=True)
            print(
                f"{n:>7} {taskflow:>11.2f} {n / taskflow:>8.0f} {bare:>8.2f} {n / bare:>8.0f} "
                f"{taskflow / bare:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
