"""Every example in examples/ runs through the CLI, as examples/README.md says (issue 4).

One harness per example; an example without one fails here, so none goes unrun. Services are
local: an aiohttp server on 127.0.0.1 for the HTTP examples, temp folders for files.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiohttp import web
from cli_support import EXAMPLES, Cli

from taskflow.schedules import next_fire_times, schedule_of

Harness = Callable[[Cli, str, Path], Awaitable[None]]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'examples.db'}")


async def taskflow(cli: Cli, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The CLI in a subprocess, without blocking this event loop (it may serve HTTP)."""
    process = await asyncio.create_subprocess_exec(
        *cli.command(*args),
        env={**cli.env, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def run_json(
    cli: Cli, *args: str, expect: int = 0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    code, out, err = await taskflow(cli, "run", *args, "--json", env=env)
    assert code == expect, err
    tree = json.loads(out)
    tree["by_key"] = {task["key"]: task for task in tree["tasks"]}
    return tree


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[Any]]]:
    """JSON endpoints for parallel_fetch, and a collector for file_pipeline."""
    received: list[Any] = []

    async def listing(request: web.Request) -> web.Response:
        return web.json_response({"endpoint": request.path.strip("/"), "items": [1, 2, 3]})

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"stored": True}, status=201)

    app = web.Application()
    app.router.add_get("/{name}", listing)
    app.router.add_post("/reports", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


async def demo(cli: Cli, file: str, tmp_path: Path) -> None:
    tree = await run_json(cli, file)
    assert tree["result"]["count"] == {"value": 11}


async def optional_failure(cli: Cli, file: str, tmp_path: Path) -> None:
    tree = await run_json(cli, file, expect=1)
    assert tree["by_key"]["strict"]["status"] == "cancelled"
    assert tree["by_key"]["report"]["status"] == "completed"


async def priorities(cli: Cli, file: str, tmp_path: Path) -> None:
    tree = await run_json(cli, file)
    order = [
        t["key"]
        for t in sorted(tree["tasks"], key=lambda t: t["started_at"] or "")
        if t["executor"]
    ]
    assert order == ["urgent", "high", "normal_1", "normal_2", "low", "after_low"]


async def approval(cli: Cli, file: str, tmp_path: Path) -> None:
    running = asyncio.ensure_future(run_json(cli, file, "--set", "wait_seconds=30"))
    approve_id = None
    for _ in range(200):
        await asyncio.sleep(0.1)
        code, out, _ = await taskflow(cli, "tasks", "list", "--status", "in_progress", "--json")
        found = [t for t in (json.loads(out) if code == 0 else []) if t["key"] == "approve"]
        if found:
            approve_id = found[0]["id"]
            break
    assert approve_id is not None, "the approval step never waited"
    code, _, err = await taskflow(
        cli, "tasks", "notify", approve_id, "approval", "--data", '{"by": "carol"}'
    )
    assert code == 0, err
    tree = await running
    assert tree["by_key"]["publish"]["result"] == {"version": "1.0", "approved_by": "carol"}


async def retry_chain(cli: Cli, file: str, tmp_path: Path) -> None:
    tree = await run_json(cli, file, "--set", f"state_file={tmp_path / 'count'}")
    flaky = tree["by_key"]["flaky"]
    assert (flaky["attempt"], [a["status"] for a in flaky["attempts"]]) == (
        3,
        ["retrying", "retrying", "completed"],
    )
    assert "flaky said: attempt 3" in tree["by_key"]["check"]["result"]["stdout"]


async def nightly_maintenance(cli: Cli, file: str, tmp_path: Path) -> None:
    code, out, err = await taskflow(cli, "validate", file, "--json")
    assert code == 0, err
    assert json.loads(out)["valid"] is True
    spec = schedule_of(yaml.safe_load(await asyncio.to_thread(Path(file).read_text)))
    assert spec is not None and spec.timezone == "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    nights = next_fire_times(spec, datetime(2025, 3, 28, tzinfo=UTC), 3)
    assert [t.astimezone(berlin).strftime("%d %H:%M") for t in nights] == [
        "28 02:30",
        "29 02:30",
        "30 03:00",  # 02:30 does not exist that night: it fires when summer time begins
    ]
    (tmp_path / "data").mkdir()
    for name in ("a.log", "b.log"):
        (tmp_path / "data" / name).write_text("x")
    tree = await run_json(cli, file, "--set", f"directory={tmp_path / 'data'}")
    assert tree["by_key"]["count"]["result"] == {"value": 2}
    code, out, err = await taskflow(cli, "schedules", "add", file, "--json")
    assert code == 0, err
    added = json.loads(out)
    assert added["name"] == "nightly maintenance" and added["spec"]["timezone"] == "Europe/Berlin"
    first = datetime.fromisoformat(added["next_fires"][0]["nominal"]).astimezone(berlin)
    assert (first.hour, first.minute) == (2, 30)


async def retention(cli: Cli, file: str, tmp_path: Path) -> None:
    await run_json(cli, str(EXAMPLES / "demo.yaml"))  # a finished tree, now
    code, _, err = await taskflow(cli, "schedules", "add", file, "--set", "keep=0s")
    assert code == 0, err
    code, out, err = await taskflow(cli, "schedules", "trigger", "retention")
    assert code == 0, err
    tree_id = out.strip()
    code, out, err = await taskflow(cli, "resume")  # runs the queued tree here
    assert code == 0, err
    code, out, err = await taskflow(cli, "tasks", "list", "--tree", tree_id, "--json", "--results")
    (prune,) = [t for t in json.loads(out) if t["key"] == "prune"]
    assert prune["status"] == "completed" and prune["result"]["trees"] == 1
    code, out, _ = await taskflow(cli, "tasks", "list", "--roots", "--json")
    assert [t["id"] for t in json.loads(out)] == [tree_id]  # the demo's tree is gone


async def mistaken_edge(cli: Cli, file: str, tmp_path: Path) -> None:
    """Expected to fail validation, naming the file, the line and both ends; fixed, it runs."""
    code, out, err = await taskflow(cli, "validate", file)
    assert (code, out) == (2, "")
    message = " ".join(err.split())
    assert message.startswith(
        f"error: {file}:16: task 'archive': inputs.source = ${{listing.result.entry.0.path}}: "
        "'listing' (files.list) cannot produce it: result has no 'entry': it declares entries, "
        "path, truncated, and no other (additionalProperties: false); did you mean 'entries'?"
    ), message
    assert 'input schema of \'archive\' there: {"type": "string", "minLength": 1})' in message
    code, _, err = await taskflow(cli, "run", file)
    assert code == 2 and "cannot produce it" in err
    text = await asyncio.to_thread(Path(file).read_text)
    fixed = tmp_path / "fixed.yaml"
    await asyncio.to_thread(fixed.write_text, text.replace("result.entry.0", "result.entries.0"))
    code, out, err = await taskflow(cli, "validate", str(fixed), "--strict")
    assert (code, out.strip()) == (0, f"{fixed}: valid (4 tasks, 3 edges: 3 checked, 0 unchecked)")
    sandbox = tmp_path / "sandbox"
    (sandbox / "reports").mkdir(parents=True)
    (sandbox / "reports" / "day.json").write_text('{"ok": true}')
    tree = await run_json(cli, str(fixed), env={"TASKFLOW_FILES_ROOT": str(sandbox)})
    assert tree["by_key"]["note"]["status"] == "completed"
    assert (sandbox / "archive" / "log.txt").read_text() == "archived reports/day.json (12 bytes)\n"


async def python_api(cli: Cli, file: str, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, file, env=cli.env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert "total" in out.decode() and '{"value": 14}' in out.decode()


HARNESSES: dict[str, Harness] = {
    "demo.yaml": demo,
    "optional_failure.yaml": optional_failure,
    "priorities.yaml": priorities,
    "approval.yaml": approval,
    "retry_chain.yaml": retry_chain,
    "nightly_maintenance.yaml": nightly_maintenance,
    "retention.yaml": retention,
    "mistaken_edge.yaml": mistaken_edge,
    "python_api.py": python_api,
}
NEEDS_SERVER = ("parallel_fetch.yaml", "file_pipeline.yaml")
NEEDS_CELERY = ("celery_task.yaml",)
CELERY_REDIS_URL = os.environ.get("TASKFLOW_TEST_CELERY_REDIS_URL", "redis://127.0.0.1:6379/13")


def test_every_example_has_a_harness() -> None:
    examples = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".json", ".py")}
    harnessed = set(HARNESSES) | set(NEEDS_SERVER) | set(NEEDS_CELERY)
    assert examples == harnessed, "add a harness for each new example"
    listed = (EXAMPLES / "README.md").read_text()
    assert all(f"({name})" in listed for name in examples), "examples/README.md lists every example"


@pytest.mark.parametrize("name", sorted(HARNESSES))
async def test_example(name: str, cli: Cli, tmp_path: Path) -> None:
    await HARNESSES[name](cli, str(EXAMPLES / name), tmp_path)


async def test_parallel_fetch(cli: Cli, server: tuple[str, list[Any]]) -> None:
    url, _ = server
    tree = await run_json(cli, str(EXAMPLES / "parallel_fetch.yaml"), "--set", f"base_url={url}")
    merged = tree["by_key"]["merged"]["result"]
    assert {name: body["endpoint"] for name, body in merged.items()} == {
        "users": "users",
        "orders": "orders",
        "stock": "stock",
    }


async def test_file_pipeline(cli: Cli, server: tuple[str, list[Any]], tmp_path: Path) -> None:
    url, received = server
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    tree = await run_json(
        cli,
        str(EXAMPLES / "file_pipeline.yaml"),
        "--set",
        f"collector_url={url}/reports",
        env={"TASKFLOW_FILES_ROOT": str(sandbox)},
    )
    assert {t["status"] for t in tree["tasks"]} == {"completed"}
    assert received and "disk_free_bytes" in received[0]
    assert json.loads((sandbox / "reports" / "usage.json").read_text()) == received[0]
    assert "HTTP 201" in (sandbox / "reports" / "published.log").read_text()


@pytest.mark.slow
async def test_celery_task(cli: Cli) -> None:
    """The example's Celery app in a real worker, on a queue of the test's own."""
    testing = pytest.importorskip("taskflow_celery.testing")
    testing.redis_or_skip(CELERY_REDIS_URL)
    env = {
        "TASKFLOW_REDIS_URL": CELERY_REDIS_URL,
        "TASKFLOW_CELERY_BROKER_URL": CELERY_REDIS_URL,
        "TASKFLOW_CELERY_RESULT_BACKEND": CELERY_REDIS_URL,
    }
    queue = f"taskflow-example-{uuid.uuid4().hex[:8]}"
    app_dir = EXAMPLES / "celery"
    with testing.celery_worker(
        "tasks", queue=queue, broker_url=CELERY_REDIS_URL, env=env, cwd=app_dir
    ):
        tree = await run_json(
            cli,
            str(EXAMPLES / "celery_task.yaml"),
            "--set",
            "text=hello celery",
            "--set",
            f"queue={queue}",
            env=env,
        )
    shout, count = tree["by_key"]["shout"]["result"], tree["by_key"]["count"]["result"]
    assert shout["result"] == {
        "result": "HELLO CELERY HELLO CELERY",
        "token_consumption": {"repeats": 2},
    }
    assert (count["result"], count["source"]) == ({"words": 4, "distinct": 2}, "stream")
    assert tree["by_key"]["count"]["progress"] == 1.0
