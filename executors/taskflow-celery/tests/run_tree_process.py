"""Run one task as a one-task tree in this process, as another manager would.

Usage: ``run_tree_process.py DB_URL EXECUTOR INPUTS`` (inputs as a Python literal). Prints the
tree id, then runs it to the end. The crash test kills this process while the task runs.
"""

from __future__ import annotations

import ast
import asyncio
import sys

from taskflow import EngineSettings, TaskManager, create_session

LEASE_SECONDS = 1.0  # short, so that another manager may take over soon after a crash


async def main(db: str, executor: str, inputs: str) -> None:
    settings = EngineSettings(lease_seconds=LEASE_SECONDS, poll_seconds=0.1)
    manager = TaskManager(create_session(db), settings=settings)
    try:
        definition = {"key": "job", "executor": executor, "inputs": ast.literal_eval(inputs)}
        tree = await manager.create_tree(definition)
        print(tree.task.id, flush=True)
        await manager.wait(await manager.start(tree))
    finally:
        await manager.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
