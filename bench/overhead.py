"""Orchestration overhead of taskflow: no-op trees on a fresh SQLite file or PostgreSQL database.

Run it from the project root with the project's virtualenv::

    make bench                              # or: .venv/bin/python bench/overhead.py
    .venv/bin/python bench/overhead.py --case fanout-10k --repeat 3
    .venv/bin/python bench/overhead.py --case chain-1k --concurrency 10
    .venv/bin/python bench/overhead.py --case fanout-10k --profile
    .venv/bin/python bench/overhead.py --db postgresql://postgres@127.0.0.1:5432/postgres

Every case runs in a fresh subprocess (so its peak RSS is its own) against a fresh temporary
SQLite file, or, with ``--db URL`` naming a PostgreSQL server, a fresh database created on that
server for the run and dropped after it. The schema of the empty database is created before
the clock starts; the clock then covers one `TaskManager.run_tree` call, i.e. creating the
tree in one transaction and running it to the end. Every task runs the built-in ``noop``
executor, so what is measured is taskflow's own cost per task. After the run the child checks,
both in memory and with a plain ``sqlite3`` (or ``asyncpg``) count of the database, that every
task (groups included) ended ``completed``; if not it exits non-zero, and so does this script.

The figures are printed, never asserted; the last line compares them with the targets.
See bench/README.md for what each case means and a snapshot of the results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import json
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Definition = dict[str, Any]

CHAIN_BLOCK = 10  # in the 3-level tree, each group's leaves form chains of this many tasks


# -- the cases ---------------------------------------------------------------------------------


def noop(key: str, after: str | None = None) -> Definition:
    """A no-op task, depending on ``after`` if given."""
    task: Definition = {"key": key, "executor": "noop"}
    if after is not None:
        task["dependencies"] = [after]
    return task


def fan_out(count: int) -> Definition:
    """A group root with ``count`` independent no-op children."""
    return {"name": "root", "key": "root", "children": [noop(f"t{i}") for i in range(count)]}


def chain(count: int) -> Definition:
    """A group root whose ``count`` children each depend on the previous one."""
    children = [noop(f"t{i}", f"t{i - 1}" if i else None) for i in range(count)]
    return {"name": "root", "key": "root", "children": children}


def three_levels(groups: int, leaves: int) -> Definition:
    """Root group → ``groups`` groups → ``leaves`` leaves each.

    Inside a group the leaves form chains of `CHAIN_BLOCK`: leaf ``j`` depends on leaf ``j - 1``
    unless ``j`` starts a new block (10 independent 10-step pipelines per group by default).
    """
    children = []
    for g in range(groups):
        keys = [f"g{g}_l{j}" for j in range(leaves)]
        tasks = [noop(key, keys[j - 1] if j % CHAIN_BLOCK else None) for j, key in enumerate(keys)]
        children.append({"name": f"group {g}", "key": f"g{g}", "children": tasks})
    return {"name": "root", "key": "root", "children": children}


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case: its no-op (leaf) task count, its row count and its definition."""

    name: str
    tasks: int  # tasks that run an executor (what tasks/s counts)
    rows: int  # every task of the tree, groups included (what must end completed)
    build: Callable[[], Definition]


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("fanout-1k", 1_000, 1_001, lambda: fan_out(1_000)),
        Case("fanout-10k", 10_000, 10_001, lambda: fan_out(10_000)),
        Case("chain-1k", 1_000, 1_001, lambda: chain(1_000)),
        Case("tree-10k", 10_000, 10_101, lambda: three_levels(100, 100)),
        Case("fanout-100k", 100_000, 100_001, lambda: fan_out(100_000)),
    )
}


# -- one case, in this process -----------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


STATUS_COUNT_SQL = "SELECT status, COUNT(*) FROM taskflow_tasks GROUP BY status"


async def count_statuses(url: str) -> dict[str, int]:
    """Task statuses in the database, counted without taskflow (``sqlite3`` or ``asyncpg``)."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.split(":///", 1)[1])) as conn:
            rows = conn.execute(STATUS_COUNT_SQL).fetchall()
    else:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(row) for row in await conn.fetch(STATUS_COUNT_SQL)]
        finally:
            await conn.close()
    return {str(status): int(count) for status, count in rows}


@contextlib.asynccontextmanager
async def fresh_database(server: str | None) -> Any:
    """The URL of an empty database: a temporary SQLite file, or a new PostgreSQL database."""
    if server is None:
        with tempfile.TemporaryDirectory(prefix="taskflow-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
        return
    import uuid

    import asyncpg

    name = f"taskflow_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server.rsplit('/', 1)[0]}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def verify(case: Case, tree: Any, url: str) -> list[str]:
    """Problems with a finished run: anything not completed, in memory or in the file."""
    in_memory: dict[str, int] = {}
    for node in tree.walk():
        status = node.task.status.value
        in_memory[status] = in_memory.get(status, 0) + 1
    problems = []
    stored = await count_statuses(url)
    for where, counts in (("in memory", in_memory), ("in the database", stored)):
        if counts != {"completed": case.rows}:
            problems.append(f"{where}: expected {case.rows} completed, found {counts}")
    rolled_up = tree.calculate_status().value
    if rolled_up != "completed":
        problems.append(f"the tree rolled up to {rolled_up}")
    return problems


async def run_case(
    case: Case, concurrency: int | None, profiler: cProfile.Profile | None, server: str | None
) -> dict[str, Any]:
    """Create the schema, then time one `run_tree` of the case; return the measurements."""
    from taskflow import EngineSettings, TaskManager, create_session

    settings = EngineSettings() if concurrency is None else EngineSettings(concurrency=concurrency)
    definition = case.build()
    async with fresh_database(server) as url:
        manager = TaskManager(create_session(url), settings=settings)
        try:
            await manager.task_repository.list_tasks(limit=1)  # creates the schema, untimed
            base_rss = peak_rss_mb()
            if profiler is not None:
                profiler.enable()
            start = time.perf_counter()
            tree = await manager.run_tree(definition)
            seconds = time.perf_counter() - start
            if profiler is not None:
                profiler.disable()
            rss = peak_rss_mb()
        finally:
            await manager.close()
        problems = await verify(case, tree, url)
    return {
        "case": case.name,
        "tasks": case.tasks,
        "seconds": seconds,
        "rss_mb": rss,
        "base_rss_mb": base_rss,
        "problems": problems,
    }


def child_main(name: str, concurrency: int | None, server: str | None) -> int:
    """The subprocess: run one case and print its measurements as one JSON line."""
    result = asyncio.run(run_case(CASES[name], concurrency, None, server))
    print(json.dumps(result))
    return 1 if result["problems"] else 0


def profile_main(name: str, concurrency: int | None, server: str | None) -> int:
    """Run one case in this process under cProfile; print the top 25 functions by tottime."""
    profiler = cProfile.Profile()
    result = asyncio.run(run_case(CASES[name], concurrency, profiler, server))
    print(format_row([result]))
    print(
        "(under cProfile, so slower than a plain run; the SQLite writer thread is not profiled)\n"
    )
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    for problem in result["problems"]:
        print(f"FAILED {name}: {problem}", file=sys.stderr)
    return 1 if result["problems"] else 0


# -- the driver ----------------------------------------------------------------------------------


def spawn(name: str, concurrency: int | None, server: str | None) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its measurements (``problems`` if it failed)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    if server is not None:
        command += ["--db", server]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = done.stderr.strip().splitlines()[-5:]
        return {"case": name, "problems": [f"the child exited {done.returncode}", *tail]}
    if done.returncode != 0 and not result["problems"]:
        result["problems"] = [f"the child exited {done.returncode}"]
    return result


def format_row(results: list[dict[str, Any]]) -> str:
    """One case's line; with several runs, the best and the median time, and the largest RSS."""
    name, tasks = results[0]["case"], results[0]["tasks"]
    seconds = [r["seconds"] for r in results]
    best = min(seconds)
    line = f"{name:<12} {tasks:>8,} tasks  {best:8.3f} s  {tasks / best:>9,.0f} tasks/s"
    if len(seconds) > 1:
        median = statistics.median(seconds)
        line += f"  (median {median:.3f} s, {tasks / median:,.0f} tasks/s, {len(seconds)} runs)"
    rss = max(r["rss_mb"] for r in results)
    base = min(r["base_rss_mb"] for r in results)
    return f"{line}  peak RSS {rss:6.1f} MB ({base:.0f} MB before the run)"


def run_all(
    names: list[str], concurrency: int | None, repeat: int, server: str | None
) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """Run every case ``repeat`` times, printing a line per case; return the runs and success."""
    runs: dict[str, list[dict[str, Any]]] = {}
    ok = True
    for name in names:
        results = [spawn(name, concurrency, server) for _ in range(repeat)]
        failed = [problem for result in results for problem in result["problems"]]
        if failed:
            ok = False
            print(f"{name:<12} FAILED: " + "; ".join(dict.fromkeys(failed)), flush=True)
            continue
        runs[name] = results
        print(format_row(results), flush=True)
    return runs, ok


def verdict(ok: bool) -> str:
    """How a target line reads."""
    return "met" if ok else "MISSED"


#: (fan-out 10k tasks/s, chain 1k tasks/s) that the figures are held against.
TARGETS = {"sqlite": (10_000, 2_000), "postgres": (5_000, 1_000)}


def targets_line(runs: dict[str, list[dict[str, Any]]], *, postgres: bool = False) -> str:
    """Compare the best runs with the targets; a case that did not run is ``n/a``."""
    best = {name: min(r["seconds"] for r in results) for name, results in runs.items()}
    rss = {name: max(r["rss_mb"] for r in results) for name, results in runs.items()}
    parts = []
    fanout, hops = TARGETS["postgres" if postgres else "sqlite"]
    for name, floor in (("fanout-10k", fanout), ("chain-1k", hops)):
        if name in best:
            rate = CASES[name].tasks / best[name]
            parts.append(f"{name} {rate:,.0f}/s (>= {floor:,}: {verdict(rate >= floor)})")
        else:
            parts.append(f"{name} n/a")
    at_10k = [rss[name] for name in ("fanout-10k", "tree-10k") if name in rss]
    if at_10k:
        parts.append(
            f"peak RSS at 10k {max(at_10k):.0f} MB (<= 150: {verdict(max(at_10k) <= 150)})"
        )
    else:
        parts.append("peak RSS at 10k n/a")
    if "fanout-10k" in best and "fanout-100k" in best:
        ratio = best["fanout-100k"] / best["fanout-10k"]
        parts.append(f"100k/10k time {ratio:.1f}x (<= 12x: {verdict(ratio <= 12)})")
    else:
        parts.append("100k/10k time n/a")
    return "targets: " + " | ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``--child`` is how the driver starts a case's subprocess)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--case", choices=list(CASES), help="run only this case")
    parser.add_argument(
        "--concurrency", type=int, help="EngineSettings.concurrency (default: the engine's, 100)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the case (default fanout-10k) once, in-process, under cProfile",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case; report the best and the median"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="a PostgreSQL server (postgresql://user@host:port/db): each run gets a fresh "
        "database there (default: a fresh SQLite file)",
    )
    parser.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.db is not None and not args.db.startswith(("postgresql://", "postgres://")):
        parser.error("--db takes a PostgreSQL URL (SQLite is the default)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.concurrency, args.db)
    if args.profile:
        return profile_main(args.case or "fanout-10k", args.concurrency, args.db)
    names = [args.case] if args.case else list(CASES)
    concurrency = args.concurrency if args.concurrency is not None else "engine default"
    where = "a fresh SQLite file" if args.db is None else "a fresh PostgreSQL database"
    print(
        f"taskflow overhead: no-op tasks on {where}, concurrency {concurrency}, "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    runs, ok = run_all(names, args.concurrency, args.repeat, args.db)
    print(targets_line(runs, postgres=args.db is not None))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
