"""What the HTTP API needs of every storage: the API key store (hashed keys, prefixes,
revocation) and task counts per tree (listings with progress)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from taskflow import ConfigurationError
from taskflow.models import utcnow
from taskflow.runtime import create_storage
from taskflow.storage import Storage
from taskflow.storage.api_keys import check_scopes, hash_key, issue_key, matches, prefix_of


@pytest.fixture
async def storage(any_url: str) -> AsyncIterator[Storage]:
    made = create_storage(any_url)
    yield made
    await made.close()


async def test_keys_are_stored_hashed_and_found_by_prefix(storage: Storage) -> None:
    store = storage.api_keys
    assert await store.count() == 0
    key, record = await issue_key(store, user_id="ann", name="ci")
    assert record.prefix == prefix_of(key) and key.startswith(record.prefix + "_")
    assert record.hash == hash_key(key) and key not in repr(record) + str(record.to_dict())
    assert record.scopes == ("read", "write")
    found = await store.by_prefix(record.prefix)
    assert found == record and matches(key, found) and not matches(key + "x", found)
    other, _ = await issue_key(store, user_id="bob", name="ops", scopes=["admin", "read"])
    assert [k.user_id for k in await store.list()] == ["ann", "bob"]
    assert [k.name for k in await store.list(user_id="bob")] == ["ops"]
    assert (await store.by_prefix(prefix_of(other) or "")).scopes == ("read", "admin")  # type: ignore[union-attr]
    assert await store.count() == 2
    assert await store.by_prefix("tf_00000000") is None


async def test_revoking_keeps_the_row_and_the_first_time(storage: Storage) -> None:
    store = storage.api_keys
    _, record = await issue_key(store, user_id="ann", name="ci")
    first = await store.revoke(record.prefix, utcnow())
    assert first is not None and first.is_revoked
    again = await store.revoke(record.id, utcnow())
    assert again is not None and again.revoked_at == first.revoked_at
    assert (await store.by_prefix(record.prefix)).is_revoked  # type: ignore[union-attr]
    assert await store.revoke("tf_nothing", utcnow()) is None


def test_key_shapes_and_scopes() -> None:
    assert prefix_of("tf_1a2b3c4d_secret") == "tf_1a2b3c4d"
    for bad in (
        "",
        "tf_",
        "tf_1a2b_secret",
        "xx_1a2b3c4d_secret",
        "tf_1a2b3c4d_",
        "tf_1a2b3c4dsecret",
    ):
        assert prefix_of(bad) is None, bad
    assert check_scopes(["admin", "read", "read"]) == ("read", "admin")
    with pytest.raises(ConfigurationError, match="unknown scope"):
        check_scopes(["root"])


async def test_a_key_needs_a_user_a_name_and_a_scope(storage: Storage) -> None:
    for user, name, scopes in (("", "ci", ["read"]), ("ann", " ", ["read"]), ("ann", "ci", [])):
        with pytest.raises(ConfigurationError):
            await issue_key(storage.api_keys, user_id=user, name=name, scopes=scopes)
    assert await storage.api_keys.count() == 0


async def test_status_counts_per_tree(any_url: str) -> None:
    from taskflow import TaskManager, create_session
    from taskflow.runtime.session import create_reader

    manager = TaskManager(create_session(any_url))
    try:
        done = await manager.run_tree({"name": "t", "children": [{"key": "a", "executor": "noop"}]})
        waiting = await manager.create_tree(
            {"name": "w", "children": [{"key": "b", "executor": "noop"}]}
        )
        ids = [done.task.tree_id, waiting.task.tree_id, "nope"]
        expected = {ids[0]: {"completed": 2}, ids[1]: {"pending": 2}, "nope": {}}
        assert await manager.storage.status_counts(ids) == expected
        if any_url != "memory://":
            reader = create_reader(any_url)
            assert await reader.storage.status_counts(ids) == expected
            await reader.close()
    finally:
        await manager.close()
