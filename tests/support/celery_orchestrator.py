"""An orchestrating process on the Celery backend: ``celery_orchestrator.py DB TREE_JSON``.

It creates the tree, prints its id, runs it with ``TASKFLOW_BACKEND=celery`` (settings from the
environment) and prints ``done STATUS``: the tests kill it with SIGKILL on the way.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import celery_executors  # noqa: F401  (registers the executors)

from taskflow import EngineSettings, TaskManager, create_session


async def main(url: str, definition: str) -> None:
    os.environ["TASKFLOW_BACKEND"] = "celery"
    manager = TaskManager(create_session(url), settings=EngineSettings(lease_seconds=5))
    try:
        tree_id = await manager.launch(json.loads(definition))
        print(tree_id, flush=True)
        tree = await manager.wait(tree_id)
        print("done", tree.calculate_status().value, flush=True)
    finally:
        await manager.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
