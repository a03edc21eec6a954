"""The auth matrix: no key 401, revoked 401, another user's tree 404, admin sees it; 429."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server

from taskflow.api import ApiSettings
from taskflow.models import utcnow
from taskflow.storage.api_keys import issue_key

TREE = {"name": "mine", "tasks": [{"key": "a", "executor": "noop"}]}


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    async with api_server(sqlite_url) as server:
        yield server


async def test_no_key_and_bad_keys_are_401_with_a_challenge(api: ApiServer) -> None:
    for headers in ({}, {"Authorization": "Bearer tf_00000000_nope"}, {"X-API-Key": "garbage"},
                    {"Authorization": f"Bearer {api.keys['ann']}x"}):  # fmt: skip
        status, body, response = await api.call("GET", "/v1/trees", None, headers=headers)
        assert status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="taskflow"')
        assert body["type"].endswith("/unauthorized")
    assert api.keys["ann"] not in str(body)


async def test_bearer_and_x_api_key_are_the_same_caller(api: ApiServer) -> None:
    _, created, _ = await api.call("POST", "/v1/trees", json=TREE)
    by_header = await api.call(
        "GET", f"/v1/trees/{created['id']}", None, headers={"X-API-Key": api.keys["ann"]}
    )
    assert by_header[0] == 200 and by_header[1]["user_id"] == "ann"


async def test_a_revoked_key_is_401_within_the_key_cache_time(api: ApiServer) -> None:
    key, record = await issue_key(api.manager.storage.api_keys, user_id="carl", name="ci")
    api.keys["carl"] = key
    assert (await api.call("GET", "/v1/trees", "carl"))[0] == 200
    await api.manager.storage.api_keys.revoke(record.prefix, utcnow())
    body = await api.until_status("GET", "/v1/trees", "carl", 401, timeout=3.0)
    assert record.prefix in body["detail"]


async def test_another_users_tree_is_404_and_an_admin_sees_it(api: ApiServer) -> None:
    _, created, _ = await api.call("POST", "/v1/trees", "ann", json=TREE)
    tree_id = created["id"]
    done = await api.wait_status(tree_id, {"completed"})
    task_id = done["tasks"][-1]["id"]
    for method, path in (("GET", f"/v1/trees/{tree_id}"), ("GET", f"/v1/tasks/{task_id}"),
                         ("GET", f"/v1/trees/{tree_id}/events"),
                         ("POST", f"/v1/tasks/{task_id}/cancel"), ("POST", f"/v1/tasks/{task_id}/retry")):  # fmt: skip
        status, body, _ = await api.call(method, path, "bob")
        assert status == 404, (method, path, body)
    _, bobs, _ = await api.call("GET", "/v1/trees", "bob")
    assert tree_id not in [t["id"] for t in bobs["items"]]
    status, body, _ = await api.call("GET", f"/v1/trees/{tree_id}", "admin")
    assert status == 200 and body["user_id"] == "ann"
    _, everyone, _ = await api.call("GET", "/v1/trees", "admin")
    assert tree_id in [t["id"] for t in everyone["items"]]


async def test_only_an_admin_submits_for_another_user(api: ApiServer) -> None:
    status, body, _ = await api.call("POST", "/v1/trees", "bob", json={**TREE, "user": "ann"})
    assert status == 422 and body["detail"].startswith("request.json: user:")
    nested = {"tasks": [{"key": "a", "executor": "noop", "user_id": "ann"}]}
    status, body, _ = await api.call("POST", "/v1/trees", "bob", json=nested)
    assert status == 422 and body["task"] == "a"
    status, body, _ = await api.call("POST", "/v1/trees", "admin", json={**TREE, "user": "ann"})
    assert status == 202
    assert (await api.call("GET", f"/v1/trees/{body['id']}", "ann"))[0] == 200


async def test_a_read_only_key_cannot_write(api: ApiServer) -> None:
    api.keys["reader"], _ = await issue_key(
        api.manager.storage.api_keys, user_id="ann", name="ro", scopes=["read"]
    )
    assert (await api.call("GET", "/v1/trees", "reader"))[0] == 200
    status, body, _ = await api.call("POST", "/v1/trees", "reader", json=TREE)
    assert status == 403 and "write" in body["detail"]


async def test_open_routes_need_no_key(api: ApiServer) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        status, _, _ = await api.call("GET", path, None)
        assert status == 200, path


async def test_rate_limit_is_429_with_retry_after(sqlite_url: str) -> None:
    settings = ApiSettings(read_rate=0.5, read_burst=3, write_rate=0.5, write_burst=1)
    async with api_server(sqlite_url, settings) as api:
        statuses = [(await api.call("GET", "/v1/trees"))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        status, body, response = await api.call("GET", "/v1/trees")
        assert status == 429 and int(response.headers["Retry-After"]) == 2
        assert body["type"].endswith("/rate-limited") and body["retry_after"] == 2
        assert (await api.call("GET", "/v1/trees", "bob"))[0] == 200  # per key
        assert (await api.call("POST", "/v1/trees", json=TREE))[0] == 202
        assert (await api.call("POST", "/v1/trees", json=TREE))[0] == 429


async def test_body_and_tree_size_limits_are_413(sqlite_url: str) -> None:
    async with api_server(sqlite_url, ApiSettings(max_body_bytes=4096, max_tasks=3)) as api:
        big = {"tasks": [{"key": "a", "executor": "noop", "inputs": {"x": "y" * 5000}}]}
        status, body, _ = await api.call("POST", "/v1/trees", json=big)
        assert status == 413 and body["type"].endswith("/too-large")
        many = {"tasks": [{"key": f"t{n}", "executor": "noop"} for n in range(3)]}
        status, body, _ = await api.call("POST", "/v1/trees", json=many)
        assert status == 413 and body["limit"] == 3  # 3 tasks and the root group


async def test_jwt_bearer_tokens_name_the_user_in_sub(sqlite_url: str) -> None:
    import time

    import jwt

    secret = "s3cret-for-tests-only-0123456789abcdef"
    async with api_server(sqlite_url, ApiSettings(jwt_key=secret, jwt_audience="taskflow")) as api:

        def token(**claims: object) -> dict[str, str]:
            base = {"sub": "ann", "aud": "taskflow", "exp": int(time.time()) + 60}
            return {"Authorization": f"Bearer {jwt.encode({**base, **claims}, secret)}"}

        status, created, _ = await api.call("POST", "/v1/trees", None, json=TREE, headers=token())
        assert status == 202, created
        status, tree, _ = await api.call("GET", f"/v1/trees/{created['id']}", "ann")
        assert status == 200 and tree["user_id"] == "ann"  # the same user as ann's API key
        assert (
            await api.call("GET", f"/v1/trees/{created['id']}", None, headers=token(sub="bob"))
        )[0] == 404
        for bad in (token(exp=int(time.time()) - 10), token(aud="other"),
                    {"Authorization": "Bearer " + jwt.encode({"sub": "ann", "exp": 2**40, "aud": "taskflow"}, "wrong-key-0123456789abcdef0123456789")}):  # fmt: skip
            status, _, response = await api.call("GET", "/v1/trees", None, headers=bad)
            assert status == 401 and "WWW-Authenticate" in response.headers
        status, _, _ = await api.call(
            "POST", "/v1/trees", None, json=TREE, headers=token(scope="read")
        )
        assert status == 403
        assert (await api.call("GET", "/v1/trees", "bob"))[0] == 200  # API keys still work
