"""Run (or resume) a tree in a separate process, as another manager would.

Commands: ``create FILE`` (print the new tree's id), ``run TREE_ID`` (print "running", then
"done STATUS"), ``resume`` (print "resumed N STATUS..."), ``cancel TASK_ID``,
``notify TASK_ID KEY JSON``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from control_executors import ALL  # on PYTHONPATH: the tests run this with tests/support there

from taskflow import EngineSettings, TaskManager, create_session
from taskflow.executors import get_registry


async def main(args: argparse.Namespace) -> int:
    for executor in ALL:
        get_registry().register(executor, override=True)
    settings = EngineSettings(
        concurrency=args.concurrency,
        lease_seconds=args.lease_seconds,
        poll_seconds=0.2,
        cancel_grace_seconds=args.grace,
    )
    manager = TaskManager(create_session(args.db), settings=settings)
    try:
        return await COMMANDS[args.command](manager, args)
    finally:
        await manager.close()


async def create(manager: TaskManager, args: argparse.Namespace) -> int:
    definition = json.loads(await asyncio.to_thread(Path(args.target).read_text))
    tree = await manager.create_tree(definition)
    print(tree.task.id, flush=True)
    return 0


async def run(manager: TaskManager, args: argparse.Namespace) -> int:
    tree_id = await manager.start(args.target)
    print("running", flush=True)
    tree = await manager.wait(tree_id)
    print("done", tree.calculate_status().value, flush=True)
    return 0


async def resume(manager: TaskManager, args: argparse.Namespace) -> int:
    trees = [await manager.wait(tree_id) for tree_id in await manager.resume()]
    print("resumed", len(trees), *(tree.calculate_status().value for tree in trees), flush=True)
    return 0


async def cancel(manager: TaskManager, args: argparse.Namespace) -> int:
    await manager.cancel(args.target, "cancelled from another process")
    return 0


async def notify(manager: TaskManager, args: argparse.Namespace) -> int:
    await manager.notify(args.target, args.key, json.loads(args.data))
    return 0


COMMANDS = {"create": create, "run": run, "resume": resume, "cancel": cancel, "notify": notify}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("target", nargs="?")
    parser.add_argument("key", nargs="?")
    parser.add_argument("data", nargs="?", default="null")
    sys.exit(asyncio.run(main(parser.parse_args())))
