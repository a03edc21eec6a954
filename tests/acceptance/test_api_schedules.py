"""``/v1/schedules``: create, list, read, pause, unpause, trigger, delete — per user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server

SCHEDULED = {
    "name": "nightly",
    "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris"},
    "tasks": [{"key": "a", "executor": "noop"}],
}


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    async with api_server(sqlite_url) as server:
        yield server


async def test_schedule_lifecycle(api: ApiServer) -> None:
    status, made, response = await api.call("POST", "/v1/schedules", json=SCHEDULED)
    assert status == 201, made
    assert response.headers["Location"] == made["url"] == f"/v1/schedules/{made['id']}"
    assert made["user_id"] == "ann" and made["state"] == "active" and len(made["next_fires"]) == 3
    assert made["next_fires"][0]["nominal"].endswith("+00:00")
    url = made["url"]
    _, listed, _ = await api.call("GET", "/v1/schedules")
    assert [s["id"] for s in listed["items"]] == [made["id"]]
    assert (await api.call("GET", "/v1/schedules", "bob"))[1] == {"items": []}
    assert (await api.call("GET", url, "bob"))[0] == 404
    assert (await api.call("POST", f"{url}/pause", "bob"))[0] == 404
    assert (await api.call("GET", url, "admin"))[0] == 200

    _, paused, _ = await api.call("POST", f"{url}/pause")
    assert paused["state"] == "paused"
    _, active, _ = await api.call("POST", f"{url}/unpause", json={"replay": False})
    assert active["state"] == "active"
    status, fire, _ = await api.call("POST", f"{url}/trigger")
    assert status == 202 and fire["kind"] == "trigger" and fire["status"] == "started"
    done = await api.wait_status(fire["tree_id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["user_id"] == "ann"
    _, shown, _ = await api.call("GET", url)
    assert [f["tree_id"] for f in shown["fires"]] == [fire["tree_id"]]

    assert (await api.call("DELETE", url, "bob"))[0] == 404
    assert (await api.call("DELETE", url))[0] == 204
    assert (await api.call("GET", url))[0] == 404


async def test_invalid_schedules_are_422_naming_the_field(api: ApiServer) -> None:
    bad = {**SCHEDULED, "schedule": {"cron": "0 2 * *", "timezone": "Europe/Paris"}}
    status, body, _ = await api.call("POST", "/v1/schedules", json=bad)
    assert status == 422 and "schedule.cron" in body["detail"]
    unscheduled = {k: v for k, v in SCHEDULED.items() if k != "schedule"}
    status, body, _ = await api.call("POST", "/v1/schedules", json=unscheduled)
    assert status == 422 and "schedule" in body["detail"]
    status, body, _ = await api.call("POST", "/v1/trees", json=SCHEDULED)
    assert status == 422 and "/v1/schedules" in body["detail"]
    assert (await api.call("POST", "/v1/schedules", json=SCHEDULED))[0] == 201
    status, body, _ = await api.call("POST", "/v1/schedules", json=SCHEDULED)
    assert status == 422 and "nightly" in body["detail"]  # the name is taken
