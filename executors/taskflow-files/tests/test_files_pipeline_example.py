"""examples/file_pipeline.yaml: shell.run, files.* and http.request in one tree.

The tree file is loaded as ``taskflow run --set collector_url=URL`` loads it, with a collector
started on 127.0.0.1, and run by `TaskManager.create_tree`; the files sandbox is a temporary
directory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from taskflow import Task, TaskManager, TaskStatus
from taskflow.treefile import load_tree_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "file_pipeline.yaml"


@dataclasses.dataclass
class Collector:
    """An HTTP endpoint that keeps the reports POSTed to it."""

    status: int = 201
    received: list[Any] = dataclasses.field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.json_response({"stored": len(self.received)}, status=self.status)


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    found = Collector()
    app = web.Application()
    app.router.add_post("/reports", found.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    found.url = str(server.make_url("/reports"))
    try:
        yield found
    finally:
        await server.close()


async def run_example(manager: TaskManager, url: str) -> dict[str, Task]:
    tree_file = load_tree_file(EXAMPLE, {"collector_url": url})
    tree = await manager.create_tree(tree_file.definition)
    final = await manager.distribute_task_tree(tree)
    return {node.task.key: node.task for node in final.walk()}


async def test_the_pipeline_measures_saves_publishes_and_records(
    task_manager: TaskManager, sandbox: Path, collector: Collector
) -> None:
    tasks = await run_example(task_manager, collector.url)
    assert {key: task.status for key, task in tasks.items()} == dict.fromkeys(
        ["disk_usage_report", "measure", "save", "load", "publish", "record"],
        TaskStatus.COMPLETED,
    )
    stdout = _result(tasks["measure"])["stdout"]
    report = json.loads(stdout)
    assert set(report) == {"python", "disk_total_bytes", "disk_free_bytes"}
    assert (sandbox / "reports" / "usage.json").read_text() == stdout
    assert _result(tasks["load"])["json"] == report
    assert collector.received == [report]
    assert _result(tasks["publish"])["json"] == {"stored": 1}
    log = (sandbox / "reports" / "published.log").read_text()
    assert log == "published reports/usage.json: HTTP 201\n"


async def test_a_refusing_collector_fails_publish_and_cancels_what_needs_it(
    task_manager: TaskManager, sandbox: Path, collector: Collector
) -> None:
    collector.status = 400
    tasks = await run_example(task_manager, collector.url)
    assert (tasks["publish"].status, tasks["publish"].error_type) == (
        TaskStatus.FAILED,
        "HttpStatusError",
    )
    assert (tasks["record"].status, tasks["record"].error_type) == (
        TaskStatus.CANCELLED,
        "DependencyFailed",
    )
    assert tasks["save"].status is TaskStatus.COMPLETED
    assert tasks["disk_usage_report"].status is TaskStatus.FAILED
    assert not (sandbox / "reports" / "published.log").exists()


def _result(task: Task) -> dict[str, Any]:
    assert task.result is not None
    return dict(task.result)
