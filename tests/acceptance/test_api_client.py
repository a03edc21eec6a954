"""`taskflow.client.Client` against a real server: submit, wait, list, control, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_server import ApiServer, api_server

from taskflow.client import ApiError, Client

STEPS = {
    "name": "steps",
    "tasks": [
        {"key": f"s{n}", "executor": "sleep", "inputs": {"seconds": 0.05},
         "dependencies": [f"s{n - 1}"] if n else []}
        for n in range(5)
    ],
}  # fmt: skip


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[ApiServer]:
    """A server on a SQLite file, then on PostgreSQL."""
    async with api_server(database_url) as server:
        yield server


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[Client]:
    async with Client(api.url, api.keys["ann"]) as made:
        yield made


async def test_submit_and_wait_for_the_result(client: Client) -> None:
    created = await client.submit(STEPS, idempotency_key="k1")
    assert created["status"] == "queued"
    assert (await client.submit(STEPS, idempotency_key="k1"))["id"] == created["id"]
    done = await client.wait(created["id"], timeout=20)
    assert done["status"] == "completed"
    assert [t["result"] for t in done["tasks"] if t["key"] == "s4"] == [{"slept": 0.05}]
    task = await client.task(done["tasks"][-1]["id"])
    assert task["status"] == "completed"


async def test_events_reconnect_after_a_dropped_connection_missing_none(
    client: Client, api: ApiServer
) -> None:
    created = await client.submit(STEPS)
    seen: list[int] = []
    async for event in client.events(created["id"]):
        seen.append(event["seq"])
        if len(seen) == 2:
            assert client.stream is not None and client.stream.connection is not None
            client.stream.connection.transport.abort()  # type: ignore[union-attr]  # the network drops
    log = await api.manager.storage.events.read(created["id"])
    assert seen == [event.seq for event in log]


async def test_list_pages_and_errors(client: Client) -> None:
    ids = [(await client.submit({**STEPS, "name": f"page-{n}"}))["id"] for n in range(3)]
    listed = [tree["id"] async for tree in client.trees(name="page-", limit=2)]
    assert listed == list(reversed(ids))
    with pytest.raises(ApiError) as caught:
        await client.get("nope")
    assert caught.value.status == 404 and caught.value.problem["type"].endswith("/not-found")
    with pytest.raises(ApiError) as caught:
        await client.submit({"tasks": [{"key": "a", "executor": "nope"}]})
    assert caught.value.status == 422 and caught.value.problem["task"] == "a"
    async with Client(client.url, "tf_00000000_bad") as stranger:
        with pytest.raises(ApiError) as caught:
            await stranger.list()
        assert caught.value.status == 401


async def first(
    client: Client, tree_id: str, kind: str, key: str, after: int = 0
) -> dict[str, Any]:
    """The first event of ``kind`` for the task ``key`` (followed live, no polling)."""
    async for event in client.events(tree_id, after=after):
        if event["type"] == kind and event["data"].get("key") == key:
            return event
    raise AssertionError(f"no {kind} event for {key}")


async def test_cancel_notify_and_retry(client: Client) -> None:
    wait = {"tasks": [{"key": "w", "executor": "signal.wait", "inputs": {"key": "go"}}]}
    created = await client.submit(wait)
    waiting = await first(client, created["id"], "waiting", "w")
    await client.notify(waiting["task_id"], "go", {"ok": True})
    done = await client.wait(created["id"], timeout=20)
    assert [t["result"] for t in done["tasks"] if t["key"] == "w"] == [{"data": {"ok": True}}]

    nap = await client.submit(
        {"tasks": [{"key": "n", "executor": "sleep", "inputs": {"seconds": 30}}]}
    )
    started = await first(client, nap["id"], "started", "n")
    await client.cancel(nap["id"], "enough")
    cancelled = await client.wait(nap["id"], timeout=20)
    assert cancelled["status"] == "cancelled"
    assert (await client.retry(started["task_id"]))["action"] == "retry"
    again = await first(client, nap["id"], "started", "n", after=started["seq"])
    assert again["data"]["attempt"] == 2
    await client.cancel(nap["id"])
    assert (await client.wait(nap["id"], timeout=20))["status"] == "cancelled"
    assert "noop" in [e["id"] for e in await client.executors()]
