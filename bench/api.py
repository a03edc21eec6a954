"""HTTP API load: a real `taskflow serve` driven from this (second) process for a fixed time.

50 clients read tree status (``GET /v1/trees/{id}``) in a loop while 5 clients submit trees
(each a few short sleeps, so trees are running throughout); prints requests per second,
p50/p99 latency per kind of request, and errors. The server runs on a fresh SQLite file (or
``--db``), with its worker, and rate limits raised out of the way.

    .venv/bin/python bench/api.py                    # 20 s, 50 readers, 5 submitters
    .venv/bin/python bench/api.py --seconds 60 --readers 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

TREE = {
    "name": "bench",
    "tasks": [
        {"key": "a", "executor": "sleep", "inputs": {"seconds": 0.5}},
        {"key": "b", "executor": "sleep", "inputs": {"seconds": 0.5}, "dependencies": ["a"]},
        {"key": "c", "executor": "noop", "dependencies": ["b"]},
    ],
}


def start_server(
    db_url: str, home: str, *, separate: bool
) -> tuple[list[subprocess.Popen[str]], str, str]:
    """`taskflow serve` on a free port (and a `taskflow worker` process if ``separate``);
    returns the processes, the URL and the admin key the server printed."""
    env = {**os.environ, "TASKFLOW_HOME": home, "TASKFLOW_DATABASE_URL": db_url}
    cli = [sys.executable, "-m", "taskflow.cli", "-q"]
    command = [*cli, "serve", "--port", "0", "--read-rate", "1000000", "--write-rate", "1000000",
               "--max-trees", "50", *(["--no-worker"] if separate else [])]  # fmt: skip
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    key = url = None
    while url is None:
        line = server.stderr.readline()
        if not line:
            raise SystemExit(f"taskflow serve exited with {server.wait()}")
        if line.startswith("tf_"):
            key = line.strip()
        if line.startswith("taskflow API on "):
            url = line.split()[3]
    assert key is not None
    processes = [server]
    if separate:
        worker = [*cli, "worker", "--max-trees", "50", "--poll", "0.1"]
        processes.append(subprocess.Popen(worker, env=env))
    return processes, url, key


class Tally:
    """Latencies (seconds) and errors per kind of request."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"status": [], "submit": []}
        self.errors: dict[str, int] = {"status": 0, "submit": 0}

    async def timed(self, kind: str, call: object) -> object:
        started = time.perf_counter()
        try:
            result = await call  # type: ignore[misc]
        except Exception:
            self.errors[kind] += 1
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        return result


async def submitter(
    session: aiohttp.ClientSession, url: str, ids: list[str], tally: Tally, until: float
) -> None:
    async def once() -> str:
        async with session.post(f"{url}/v1/trees", json=TREE) as response:
            body = await response.json()
            if response.status != 202:
                raise RuntimeError(f"{response.status}: {body}")
            return str(body["id"])

    while time.monotonic() < until:
        tree_id = await tally.timed("submit", once())
        if isinstance(tree_id, str):
            ids.append(tree_id)
        await asyncio.sleep(0.2)


async def reader(
    session: aiohttp.ClientSession,
    url: str,
    *,
    ids: list[str],
    tally: Tally,
    until: float,
    pause: float,
) -> None:
    async def once(tree_id: str) -> None:
        async with session.get(f"{url}/v1/trees/{tree_id}") as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(str(response.status))

    await asyncio.sleep(random.random() * pause)  # clients do not start in step
    while time.monotonic() < until:
        await tally.timed("status", once(random.choice(ids)))
        if pause:
            await asyncio.sleep(pause)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def drive(
    url: str, key: str, *, seconds: float, readers: int, submitters: int, pause: float
) -> Tally:
    tally = Tally()
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=readers + submitters + 5)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        ids: list[str] = []
        for _ in range(10):  # some trees to read from the start
            async with session.post(f"{url}/v1/trees", json=TREE) as response:
                ids.append((await response.json())["id"])
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(submitter(session, url, ids, tally, until) for _ in range(submitters)),
            *(
                reader(session, url, ids=ids, tally=tally, until=until, pause=pause)
                for _ in range(readers)
            ),
        )
        async with session.get(
            f"{url}/v1/trees", params={"status": "in_progress", "limit": "200"}
        ) as r:
            running = len((await r.json())["items"])
    print(f"trees running at the end: {running}; trees submitted: {len(ids)}")
    return tally


def report(tally: Tally, seconds: float) -> None:
    columns = ("count", "req/s", "p50 ms", "p99 ms", "max ms")
    print(f"{'request':<8} " + " ".join(f"{c:>8}" for c in columns) + f" {'errors':>6}")
    for kind, values in tally.latencies.items():
        print(
            f"{kind:<8} {len(values):>8} {len(values) / seconds:>8.1f} "
            f"{percentile(values, 0.5) * 1000:>8.1f} {percentile(values, 0.99) * 1000:>8.1f} "
            f"{(max(values) if values else 0) * 1000:>8.1f} {tally.errors[kind]:>6}"
        )
    every = [v for values in tally.latencies.values() for v in values]
    if every:
        median = statistics.median(every) * 1000
        print(f"{'all':<8} {len(every):>8} {len(every) / seconds:>8.1f} {median:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--submitters", type=int, default=5)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--pause", type=float, default=0.1,
        help="seconds each reader waits between two reads (0: read as fast as answers come)",
    )  # fmt: skip
    parser.add_argument(
        "--separate-worker", action="store_true",
        help="serve --no-worker, and run the trees in a taskflow worker process beside it",
    )  # fmt: skip
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        db_url = options.db or f"sqlite:///{Path(home) / 'bench.db'}"
        processes, url, key = start_server(db_url, home, separate=options.separate_worker)
        try:
            tally = asyncio.run(
                drive(
                    url,
                    key,
                    seconds=options.seconds,
                    readers=options.readers,
                    submitters=options.submitters,
                    pause=options.pause,
                )
            )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    print(
        f"{options.readers} readers (pause {options.pause} s), {options.submitters} submitters, "
        f"{options.seconds:.0f} s, {url}"
    )
    report(tally, options.seconds)


if __name__ == "__main__":
    main()
