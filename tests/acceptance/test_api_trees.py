"""Submit → 202 → poll the status URL until completed; errors as problem+json; listings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server

from taskflow import EngineSettings, TaskManager, create_session
from taskflow.runtime import Worker, WorkerSettings

TREE = {
    "name": "hello",
    "tasks": [
        {"key": "a", "executor": "noop", "inputs": {"said": "hi"}},
        {
            "key": "b",
            "executor": "noop",
            "dependencies": ["a"],
            "inputs": {"x": "${a.result.said}"},
        },
    ],
}


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[ApiServer]:
    """A server on a SQLite file, then on PostgreSQL."""
    async with api_server(database_url) as server:
        yield server


async def test_submit_then_poll_until_completed_with_results(api: ApiServer) -> None:
    status, body, response = await api.call("POST", "/v1/trees", json=TREE)
    assert status == 202, body
    assert response.headers["Location"] == f"/v1/trees/{body['id']}" == body["status_url"]
    assert body["status"] == "queued"
    assert body["events_url"] == f"/v1/trees/{body['id']}/events/stream"
    done = await api.wait_status(body["id"], {"completed", "failed", "cancelled"})
    assert done["status"] == "completed"
    assert done["user_id"] == "ann"
    by_key = {task["key"]: task for task in done["tasks"]}
    assert by_key["b"]["result"] == {"x": "hi"}
    assert by_key["a"]["status"] == "completed" and by_key["a"]["completed_at"]
    status, task, _ = await api.call("GET", f"/v1/tasks/{by_key['b']['id']}")
    assert status == 200 and task["result"] == {"x": "hi"} and task["attempt"] == 1


async def test_idempotency_key_creates_the_tree_once_per_user(api: ApiServer) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.call("POST", "/v1/trees", json=TREE, headers=headers)
    again = await api.call("POST", "/v1/trees", json=TREE, headers=headers)
    other = await api.call("POST", "/v1/trees", "bob", json=TREE, headers=headers)
    assert first[0] == again[0] == other[0] == 202
    assert first[1]["id"] == again[1]["id"] != other[1]["id"]
    assert again[2].headers["Idempotent-Replayed"] == "true"
    together = await asyncio.gather(
        *(
            api.call("POST", "/v1/trees", json=TREE, headers={"Idempotency-Key": "x"})
            for _ in range(5)
        )
    )
    assert {r[0] for r in together} == {202} and len({r[1]["id"] for r in together}) == 1


async def test_an_idempotency_key_reused_for_another_tree_is_422(api: ApiServer) -> None:
    """The same key with another body is refused (and creates nothing), instead of answering
    with the first body's tree as if it were this one."""
    headers = {"Idempotency-Key": "order-7"}
    first = await api.call("POST", "/v1/trees", json=TREE, headers=headers)
    assert first[0] == 202
    said_bye = {
        **TREE,
        "tasks": [{**TREE["tasks"][0], "inputs": {"said": "bye"}}, TREE["tasks"][1]],
    }
    one_task = {**TREE, "tasks": TREE["tasks"][:1]}
    renamed = {**TREE, "tasks": [TREE["tasks"][0], {**TREE["tasks"][1], "key": "c"}]}
    for body, says in [
        (said_bye, "task 'a' has another inputs"),
        (one_task, "task 'b' is missing"),
        (renamed, "task 'c' is not in it"),
    ]:
        status, problem, _ = await api.call("POST", "/v1/trees", json=body, headers=headers)
        assert status == 422, problem
        assert problem["type"].endswith("/idempotency-key-reused")
        assert says in problem["detail"] and "'order-7'" in problem["detail"]
        assert problem["tree"] == first[1]["id"]
    await api.manager.task_repository.create_task(
        "noop", parent_id=first[1]["id"], key="added"
    )  # a task added to the tree later is not one the body left out
    again = await api.call("POST", "/v1/trees", json=TREE, headers=headers)
    assert again[0] == 202 and again[1]["id"] == first[1]["id"]  # the same body still replays
    status, listed, _ = await api.call("GET", "/v1/trees")
    assert status == 200 and [t["id"] for t in listed["items"]] == [first[1]["id"]]


async def test_a_bad_definition_is_422_with_task_field_and_line(api: ApiServer) -> None:
    text = (
        '{\n  "name": "bad",\n  "tasks": [\n    {"key": "s", "executor": "sleep",\n'
        '     "inputs": {"seconds": "soon"}}\n  ]\n}\n'
    )
    status, body, response = await api.call(
        "POST", "/v1/trees", data=text, headers={"Content-Type": "application/json"}
    )
    assert status == 422, body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert body["type"].endswith("/invalid-definition") and body["status"] == 422
    assert body["task"] == "s"
    assert body["field"] == "inputs.seconds"
    assert body["line"] == 4

    status, body, _ = await api.call(
        "POST", "/v1/trees", json={"name": "x", "tasks": [{"key": "a", "executr": "noop"}]}
    )
    assert status == 422 and "executr" in body["detail"] and body["line"] == 1

    status, body, _ = await api.call(
        "POST", "/v1/trees", json={"tasks": [{"key": "a", "executor": "nope"}]}
    )
    assert status == 422 and body["task"] == "a" and "nope" in body["detail"]


async def test_trees_from_http_run_under_server_trust(api: ApiServer) -> None:
    tree = {
        "tasks": [{"key": "pwn", "executor": "python.call", "inputs": {"function": "os:getcwd"}}]
    }
    status, body, _ = await api.call("POST", "/v1/trees", json=tree)
    assert status == 422, body
    assert body["task"] == "pwn" and "allowlist" in body["detail"]


async def test_unknown_ids_are_404_and_conflicts_409(api: ApiServer) -> None:
    for path in ("/v1/trees/nope", "/v1/tasks/nope", "/v1/executors/nope", "/v1/nothing"):
        status, body, response = await api.call("GET", path)
        assert status == 404, path
        assert response.headers["Content-Type"].startswith("application/problem+json")
    _, created, _ = await api.call("POST", "/v1/trees", json=TREE)
    done = await api.wait_status(created["id"], {"completed"})
    status, body, _ = await api.call("POST", f"/v1/tasks/{done['tasks'][1]['id']}/retry")
    assert status == 409 and body["type"].endswith("/conflict")
    status, body, _ = await api.call(
        "POST", f"/v1/tasks/{done['tasks'][1]['id']}/notify", json={"key": "k"}
    )
    assert status == 409
    status, body, _ = await api.call("POST", f"/v1/tasks/{done['id']}/notify", json={"data": 1})
    assert status == 422 and body["detail"].startswith("the body") and "key" in body["detail"]


async def test_listing_filters_and_keyset_pagination(api: ApiServer) -> None:
    ids = []
    for n in range(5):
        _, body, _ = await api.call("POST", "/v1/trees", json={**TREE, "name": f"batch-{n}"})
        ids.append(body["id"])
    await api.call("POST", "/v1/trees", "bob", json={**TREE, "name": "batch-bob"})
    seen, cursor = [], None
    while True:
        query = {"limit": "2", "name": "batch"} | ({"cursor": cursor} if cursor else {})
        status, page, _ = await api.call("GET", "/v1/trees", params=query)
        assert status == 200, page
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once, none of bob's
    await api.wait_status(ids[0], {"completed"})
    _, page, _ = await api.call("GET", "/v1/trees", params={"name": "batch-0"})
    assert page["items"][0]["counts"] == {"completed": 3} and page["items"][0]["progress"] == 1.0
    status, page, _ = await api.call("GET", "/v1/trees", params={"status": "bogus"})
    assert status == 400 and page["field"] == "status"
    status, page, _ = await api.call("GET", "/v1/trees", params={"cursor": "garbage!"})
    assert status == 400 and page["field"] == "cursor"


async def test_waiting_task_is_approved_with_notify(api: ApiServer) -> None:
    tree = {"tasks": [{"key": "approve", "executor": "signal.wait", "inputs": {"key": "approval"}}]}
    _, created, _ = await api.call("POST", "/v1/trees", json=tree)
    tree_id = created["id"]
    for _ in range(200):
        _, body, _ = await api.call("GET", f"/v1/trees/{tree_id}")
        waiting = [t for t in body["tasks"] if t["waiting_for"] == "approval"]
        if waiting:
            break
        await asyncio.sleep(0.05)
    assert waiting, body
    status, _, _ = await api.call(
        "POST",
        f"/v1/tasks/{waiting[0]['id']}/notify",
        json={"key": "approval", "data": {"by": "ann"}},
    )
    assert status == 202
    done = await api.wait_status(tree_id, {"completed", "failed"})
    assert [t["result"] for t in done["tasks"] if t["key"] == "approve"] == [
        {"data": {"by": "ann"}}
    ]


async def test_cancel_a_running_tree(api: ApiServer) -> None:
    tree = {"tasks": [{"key": "nap", "executor": "sleep", "inputs": {"seconds": 30}}]}
    _, created, _ = await api.call("POST", "/v1/trees", json=tree)
    await api.wait_status(created["id"], {"in_progress"})
    status, body, _ = await api.call(
        "POST", f"/v1/tasks/{created['id']}/cancel", json={"reason": "enough"}
    )
    assert status == 202, body
    done = await api.wait_status(created["id"], {"cancelled", "completed", "failed"})
    assert done["status"] == "cancelled"


async def test_executors_and_health(api: ApiServer) -> None:
    status, body, _ = await api.call("GET", "/v1/executors")
    ids = [item["id"] for item in body["items"]]
    assert status == 200 and "noop" in ids and ids == sorted(ids)
    status, body, _ = await api.call("GET", "/v1/executors/sleep")
    assert status == 200 and "seconds" in body["input_schema"]["properties"]
    assert (await api.call("GET", "/healthz", None))[0] == 200
    assert (await api.call("GET", "/readyz", None))[1] == {"status": "ready"}


async def test_a_lone_surrogate_anywhere_is_422_not_500(api: ApiServer) -> None:
    for body in (
        '{"name": "\\ud9a1", "tasks": [{"key": "a", "executor": "noop"}]}',
        '{"tasks": [{"key": "\\ud9a1", "executor": "noop"}]}',
    ):
        headers = {"Content-Type": "application/json"}
        status, problem, _ = await api.call("POST", "/v1/trees", data=body, headers=headers)
        assert status == 422, problem
        assert "lone surrogate" in problem["detail"]
    _, created, _ = await api.call(
        "POST", "/v1/trees", json={"tasks": [{"key": "a", "executor": "noop"}]}
    )
    data = '{"key": "\\udc00", "data": 1}'
    status, problem, _ = await api.call(
        "POST",
        f"/v1/tasks/{created['id']}/notify",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    assert status == 422, problem


@contextlib.asynccontextmanager
async def a_worker(url: str) -> AsyncIterator[None]:
    """A worker in a manager of its own (another process, as far as the API can tell)."""
    manager = TaskManager(create_session(url), settings=EngineSettings(poll_seconds=0.1))
    worker = Worker(manager, WorkerSettings(poll_seconds=0.1, stop_grace_seconds=0))
    running = asyncio.ensure_future(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await running
        await manager.close()


async def until_running(api: ApiServer, tree_id: str) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while (await api.wait_status(tree_id, {"queued", "in_progress"}))["tasks"][1][
        "status"
    ] != "in_progress":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)


async def test_a_retry_queues_the_tree_for_a_worker_and_runs_nothing_in_the_api(
    database_url: str,
) -> None:
    """``POST /v1/tasks/ID/retry`` on a server without a worker (``serve --no-worker``): the
    task is reset and its tree handed to the workers; the API process runs nothing. Both a
    tree cancelled before it ever ran (queued again) and one cancelled while it ran."""
    sleep = {
        "name": "napping",
        "tasks": [{"key": "nap", "executor": "sleep", "inputs": {"seconds": 1}}],
    }
    async with api_server(database_url, worker=False) as api:
        _, never, _ = await api.call("POST", "/v1/trees", json=sleep)
        _, ran, _ = await api.call("POST", "/v1/trees", json=sleep)
        status, body, _ = await api.call("POST", f"/v1/tasks/{never['id']}/cancel")
        assert status == 202, body
        await api.wait_status(never["id"], {"cancelled"})
        async with a_worker(database_url):
            await until_running(api, ran["id"])
            assert (await api.call("POST", f"/v1/tasks/{ran['id']}/cancel"))[0] == 202
            await api.wait_status(ran["id"], {"cancelled"})
        for tree, expected in ((never, "queued"), (ran, "in_progress")):
            nap = {t["key"]: t for t in (await api.wait_status(tree["id"], {"cancelled"}))["tasks"]}
            status, body, _ = await api.call("POST", f"/v1/tasks/{nap['nap']['id']}/retry")
            assert status == 202, body
            after = await api.wait_status(tree["id"], {expected})
            assert after["tasks"][1]["status"] == "pending"
        await asyncio.sleep(0.5)
        assert api.manager.active_trees == []  # nothing runs in the API process
        for tree, expected in ((never, "queued"), (ran, "in_progress")):
            still = await api.wait_status(tree["id"], {expected})
            assert still["tasks"][1]["status"] == "pending"
        async with a_worker(database_url):
            for tree in (never, ran):
                done = await api.wait_status(tree["id"], {"completed"})
                assert done["tasks"][1]["attempt"] >= 1
