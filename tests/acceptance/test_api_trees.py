"""Submit → 202 → poll the status URL until completed; errors as problem+json; listings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server

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
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    async with api_server(sqlite_url) as server:
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
    assert body["field"] == "seconds" or "seconds" in body["field"]
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


async def test_listed_trees_carry_their_rolled_up_progress(api: ApiServer) -> None:
    half = {
        "name": "half",
        "tasks": [
            {"key": "done", "executor": "noop"},
            {"key": "ask", "executor": "signal.wait", "inputs": {"key": "approval"}},
        ],
    }
    _, waiting, _ = await api.call("POST", "/v1/trees", json=half)
    _, finished, _ = await api.call("POST", "/v1/trees", json=TREE)
    await api.wait_status(finished["id"], {"completed"})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # the root's progress is written at most every 0.2 s
        _, page, _ = await api.call("GET", "/v1/trees")
        progress = {item["id"]: item["progress"] for item in page["items"]}
        if progress[waiting["id"]] == 0.5:
            break
        assert loop.time() < deadline, progress
        await asyncio.sleep(0.05)
    assert progress[finished["id"]] == 1.0
