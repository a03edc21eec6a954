"""`taskflow serve` as a user runs it: a subprocess on an ephemeral port, curl-like requests.

On a SQLite file (with the worker in the server) and on PostgreSQL (``--no-worker``, a separate
`taskflow worker` process sharing the database).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli
from serve_process import request, started, stop

pytestmark = pytest.mark.slow
TREE = {
    "name": "seed-flow",
    "tasks": [
        {"key": "fetch", "executor": "noop", "inputs": {"rows": [1, 2, 3]}},
        {"key": "report", "executor": "noop", "dependencies": ["fetch"],
         "inputs": {"rows": "${fetch.result.rows}"}},
    ],
}  # fmt: skip


def flow(url: str, key: str) -> str:
    status, body, headers = request(f"{url}/v1/trees", key, "POST", TREE)
    assert status == 202, body
    assert headers["Location"] == body["status_url"]
    deadline = time.monotonic() + 30
    while True:
        status, tree, _ = request(url + body["status_url"], key)
        assert status == 200
        if tree["status"] == "completed":
            break
        assert tree["status"] in ("queued", "in_progress", "pending"), tree
        assert time.monotonic() < deadline, tree
        time.sleep(0.1)
    assert [t["result"] for t in tree["tasks"] if t["key"] == "report"] == [{"rows": [1, 2, 3]}]
    return str(body["id"])


def test_serve_on_sqlite_with_its_worker(tmp_path: Path, sqlite_url: str) -> None:
    cli = Cli(tmp_path / "home", sqlite_url)
    server = cli.start("serve", "--port", "0")
    try:
        url, admin = started(server)
        assert admin is not None and admin.startswith("tf_")
        made = cli.run("keys", "create", "--user", "ann", "--name", "ci")
        assert made.returncode == 0, made.stderr
        ann = made.stdout.strip()
        tree_id = flow(url, ann)
        remote = ("--server", url, "--json")
        listed = cli.run("tasks", "list", "--roots", *remote, "--api-key", ann)
        assert listed.returncode == 0, listed.stderr
        assert [t["id"] for t in json.loads(listed.stdout)] == [tree_id]
        in_tree = cli.run("tasks", "list", "--tree", tree_id, *remote, "--api-key", ann)
        keys = [t["key"] for t in json.loads(in_tree.stdout)]
        assert keys[1:] == ["fetch", "report"]
        shown = cli.run("tasks", "show", f"{tree_id}/report", *remote, "--api-key", ann)
        assert json.loads(shown.stdout)["result"] == {"rows": [1, 2, 3]}
        table = cli.run("tasks", "list", "--roots", "--server", url, "--api-key", ann)
        assert tree_id[:8] in table.stdout and "completed" in table.stdout
        stranger = cli.run("tasks", "show", tree_id, "--server", url, "--api-key", "tf_0_x")
        assert stranger.returncode == 2 and "401" in stranger.stderr
        assert request(f"{url}/v1/trees", None)[0] == 401
        status, listed, _ = request(f"{url}/v1/trees", admin)
        assert status == 200 and [t["user_id"] for t in listed["items"]] == ["ann"]
        listing = cli.run("keys", "list", "--json")
        keys = json.loads(listing.stdout)
        assert [k["user_id"] for k in keys] == ["admin", "ann"]
        assert ann not in listing.stdout and admin not in listing.stdout
        revoked = cli.run("keys", "revoke", keys[1]["prefix"])
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 5  # a checked key is remembered for 2 s
        while request(f"{url}/v1/trees", ann)[0] != 401:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        code = stop(server)
    assert code == 0, server.said  # type: ignore[attr-defined]
    assert ann not in server.said and admin not in server.said  # type: ignore[attr-defined]
    again = cli.start("serve", "--port", "0")  # keys exist: no new admin key
    try:
        assert started(again)[1] is None
    finally:
        stop(again)


@pytest.mark.postgres
def test_serve_without_worker_and_a_worker_process_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    cli = Cli(tmp_path / "home", postgres_url)
    server = cli.start("serve", "--port", "0", "--no-worker")
    worker = cli.start("worker", "--poll", "0.2")
    try:
        url, admin = started(server)
        assert admin is not None
        flow(url, admin)
    finally:
        stop(worker)
        assert stop(server) == 0


def test_sigterm_with_a_running_tree_and_an_open_stream(tmp_path: Path, sqlite_url: str) -> None:
    import http.client
    from urllib.parse import urlsplit

    cli = Cli(tmp_path / "home", sqlite_url)
    server = cli.start("serve", "--port", "0", "--grace", "1")
    try:
        url, admin = started(server)
        nap = {"tasks": [{"key": "nap", "executor": "sleep", "inputs": {"seconds": 60}}]}
        status, body, _ = request(f"{url}/v1/trees", admin, "POST", nap)
        assert status == 202
        where = urlsplit(url)
        stream = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
        stream.request("GET", body["events_url"], headers={"Authorization": f"Bearer {admin}"})
        response = stream.getresponse()
        assert response.status == 200
        assert b"event: started" in response.read1(65536) + response.read1(65536)
    finally:
        began = time.monotonic()
        code = stop(server)
    assert code == 0, server.said  # type: ignore[attr-defined]
    assert time.monotonic() - began < 15
    stream.close()
    listed = cli.run("tasks", "list", "--roots", "--json")
    assert [t["status"] for t in json.loads(listed.stdout)] == ["in_progress"]  # handed back


def test_serve_limits_an_executor_in_its_worker(tmp_path: Path, sqlite_url: str) -> None:
    """``taskflow serve --limit sleep=1``: a tree's three sleeps run one after another."""
    cli = Cli(tmp_path / "home", sqlite_url)
    refused = cli.run("serve", "--port", "0", "--limit", "slep=1")
    assert refused.returncode == 2
    assert "--limit" in refused.stderr and "did you mean 'sleep'" in refused.stderr
    server = cli.start("serve", "--port", "0", "--limit", "sleep=1")
    try:
        url, admin = started(server)
        sleeps = [
            {"key": f"s{i}", "executor": "sleep", "inputs": {"seconds": 0.3}} for i in range(3)
        ]
        status, body, _ = request(
            f"{url}/v1/trees", admin, "POST", {"name": "naps", "tasks": sleeps}
        )
        assert status == 202, body
        deadline = time.monotonic() + 30
        while (tree := request(url + body["status_url"], admin)[1])["status"] != "completed":
            assert tree["status"] in ("queued", "in_progress", "pending"), tree
            assert time.monotonic() < deadline, tree
            time.sleep(0.1)
    finally:
        stop(server)
    spans = sorted(
        (t["started_at"], t["completed_at"]) for t in tree["tasks"] if t["key"] != "naps"
    )
    assert len(spans) == 3
    for (_, ended), (started_at, _) in itertools.pairwise(spans):
        assert ended <= started_at, f"two sleeps overlapped: {spans}"


FROM_A_RESULT = {
    "name": "from-a-result",
    "tasks": [
        {"key": "pick", "executor": "noop", "inputs": {"function": "os:getcwd"}},
        {"key": "call", "executor": "python.call", "dependencies": ["pick"],
         "inputs": {"function": "${pick.result.function}"}},
    ],
}  # fmt: skip


def _ended(url: str, key: str, tree_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status, tree, _ = request(f"{url}/v1/trees/{tree_id}", key)
        assert status == 200, tree
        if tree["status"] in ("completed", "failed", "cancelled"):
            return {task["key"]: task for task in tree["tasks"]}
        assert time.monotonic() < deadline, tree
        time.sleep(0.1)


@contextlib.contextmanager
def serve_and_a_local_worker(cli: Cli) -> Iterator[tuple[str, str]]:
    """`serve --no-worker` and a `taskflow worker` without ``TASKFLOW_TRUST=server``:
    yields the server's URL and its admin key."""
    server = cli.start("serve", "--port", "0", "--no-worker")
    worker = cli.start("worker", "--poll", "0.2")
    try:
        url, admin = started(server)
        assert admin is not None
        yield url, admin
    finally:
        stop(worker)
        assert stop(server) == 0


def assert_refused_under_server(tasks: dict[str, dict[str, Any]]) -> None:
    """`FROM_A_RESULT` ran under the server profile: the function from a result was refused."""
    assert tasks["pick"]["status"] == "completed"
    assert tasks["call"]["status"] == "failed"
    assert "'os:getcwd' is not allowed" in tasks["call"]["error"]
    assert "trust profile server" in tasks["call"]["error"]


def test_a_tree_from_http_runs_under_the_server_profile_on_a_local_worker(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A worker started without ``TASKFLOW_TRUST=server`` (what `run --detach` starts, too)
    runs a tree that came over HTTP under the server profile: a function name that came from
    an upstream result is refused where the task runs. The same tree from the CLI, on the
    same worker, still runs under the worker's own (local) profile."""
    cli = Cli(tmp_path / "home", sqlite_url)
    with serve_and_a_local_worker(cli) as (url, admin):
        status, body, _ = request(f"{url}/v1/trees", admin, "POST", FROM_A_RESULT)
        assert status == 202, body
        assert_refused_under_server(_ended(url, admin, body["id"]))

        tree_file = tmp_path / "tree.json"
        tree_file.write_text(json.dumps(FROM_A_RESULT))
        queued = cli.run("run", str(tree_file), "--detach", "--json")
        assert queued.returncode == 0, queued.stderr
        tasks = _ended(url, admin, json.loads(queued.stdout)["tree_id"])
        assert tasks["call"]["status"] == "completed", tasks["call"]["error"]


def test_a_schedule_from_http_fires_trees_under_the_server_profile(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A schedule created over HTTP keeps the server profile on the trees it fires: its
    trigger, run by a plain (local) worker, refuses the function name from a result."""
    cli = Cli(tmp_path / "home", sqlite_url)
    schedule = {**FROM_A_RESULT, "schedule": {"cron": "0 2 * * *", "timezone": "UTC"}}
    with serve_and_a_local_worker(cli) as (url, admin):
        status, made, _ = request(f"{url}/v1/schedules", admin, "POST", schedule)
        assert status == 201, made
        status, fire, _ = request(f"{url}{made['url']}/trigger", admin, "POST", {})
        assert status == 202, fire
        tasks = _ended(url, admin, fire["tree_id"])
        assert_refused_under_server(tasks)
        assert {task["params"].get("trust") for task in tasks.values()} == {"server"}
