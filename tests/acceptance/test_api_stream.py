"""The event stream: ids are sequence numbers, Last-Event-ID resumes without a gap, `end`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server
from sse_reader import frames

from taskflow.api import ApiSettings

STEPS = {
    "name": "steps",
    "tasks": [
        {"key": f"s{n}", "executor": "sleep", "inputs": {"seconds": 0.05},
         "dependencies": [f"s{n - 1}"] if n else []}
        for n in range(6)
    ],
}  # fmt: skip


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[ApiServer]:
    """A server on a SQLite file, then on PostgreSQL."""
    async with api_server(database_url, ApiSettings(ping_seconds=0.2, max_streams=2)) as server:
        yield server


async def _open(api: ApiServer, tree_id: str, who: str = "ann", **headers: str):  # type: ignore[no-untyped-def]
    return await api.session.get(
        f"{api.url}/v1/trees/{tree_id}/events/stream", headers={**api.headers(who), **headers}
    )


async def test_reconnecting_with_last_event_id_misses_no_event(api: ApiServer) -> None:
    _, created, _ = await api.call("POST", "/v1/trees", json=STEPS)
    tree_id = created["id"]
    seen: list[int] = []
    first = await _open(api, tree_id)
    assert first.status == 200 and first.headers["Content-Type"] == "text/event-stream"
    async for frame in frames(first):
        if frame.get("id") is not None:
            seen.append(frame["id"])
        if len(seen) == 3:
            break
    first.close()  # the client drops mid-stream
    second = await _open(api, tree_id, **{"Last-Event-ID": str(seen[-1])})
    end = None
    async for frame in frames(second):
        if frame["event"] == "end":
            end = frame["data"]
            break
        if frame.get("id") is not None:
            seen.append(frame["id"])
            assert frame["data"]["tree_id"] == tree_id
    second.close()
    assert end == {"tree_id": tree_id, "status": "completed"}
    _, log, _ = await api.call("GET", f"/v1/trees/{tree_id}/events")
    stored = [event["seq"] for event in log["items"]]
    assert seen == stored == list(range(1, len(stored) + 1))  # every event once, in order
    assert log["finished"] is True


async def test_idle_streams_get_pings_and_streams_per_key_are_limited(api: ApiServer) -> None:
    wait = {"tasks": [{"key": "w", "executor": "signal.wait", "inputs": {"key": "go"}}]}
    _, created, _ = await api.call("POST", "/v1/trees", json=wait)
    tree_id = created["id"]
    opened = [await _open(api, tree_id) for _ in range(2)]
    refused = await _open(api, tree_id)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    refused.close()
    pings = 0
    async for frame in frames(opened[0]):
        pings += frame["event"] == "comment"
        if pings == 2:
            break
    for response in opened:
        response.close()
    other = await _open(api, tree_id, "bob")
    assert other.status == 404  # another user's tree
    other.close()
