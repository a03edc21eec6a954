"""`SqliteReader` (the standard library's sqlite3, for commands that only read) reads exactly
what `SqlStorage` reads, query for query, and refuses what it cannot do."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from taskflow import StorageError, TaskManager, TaskStatus, TreeStatus, create_session
from taskflow.runtime.session import create_reader, sqlite_path
from taskflow.storage import TaskQuery, TreeQuery
from taskflow.storage.sqlite_reader import SqliteReader

TREE = {
    "key": "mixed",
    "children": [
        {"key": "plain", "executor": "noop", "inputs": {"text": "héllo ✓", "n": [1, 2.5, None]}},
        {
            "key": "boom",
            "executor": "python.call",
            "inputs": {"function": "builtins:int", "args": ["not a number"]},
            "retry": {"max_retries": 1, "backoff": 0},
        },
        {"key": "after", "executor": "noop", "dependencies": ["plain"], "priority": 3},
        {"key": "skipped", "executor": "noop", "dependencies": ["boom"]},
    ],
}


@pytest.fixture
async def filled(sqlite_url: str) -> list[str]:
    """Three trees: two run (with a failure, retries, a cancelled dependant), one queued."""
    db = create_session(sqlite_url)
    manager = TaskManager(db)
    try:
        first = await manager.run_tree(TREE, user_id="ann")
        second = await manager.run_tree({**TREE, "key": "again"}, user_id="bob")
        third = await manager.create_tree({"key": "later", "executor": "noop"}, queued=True)
        return [first.task.id, second.task.id, third.task.id]
    finally:
        await manager.close()


async def test_reads_the_same_as_sql_storage(sqlite_url: str, filled: list[str]) -> None:
    sql = create_session(sqlite_url).storage
    reader = SqliteReader.open(str(sqlite_path(sqlite_url)))
    assert reader is not None
    everything = await sql.select(TaskQuery())
    tree_id = filled[0]
    queries = [
        TaskQuery(),
        TaskQuery(with_results=False),
        TaskQuery(tree_id=tree_id),
        TaskQuery(tree_id=tree_id, with_results=False, limit=2, offset=1),
        TaskQuery(ids=[t.id for t in everything[:3]]),
        TaskQuery(ids=[]),
        TaskQuery(id_prefix=tree_id[:3]),
        TaskQuery(id_prefix="%_"),  # pattern characters are literal
        TaskQuery(statuses=[TaskStatus.FAILED, TaskStatus.CANCELLED]),
        TaskQuery(key="boom"),
        TaskQuery(user_id="bob", roots_only=True),
        TaskQuery(parent_id=tree_id),
        TaskQuery(waiting=True),
        TaskQuery(limit=3),
    ]
    try:
        for query in queries:
            assert await reader.select(query) == await sql.select(query), query
        boom = next(t for t in everything if t.key == "boom" and t.tree_id == tree_id)
        assert boom.traceback and len(boom.attempts) == 2  # the rich fields were compared
        created = (await sql.select_trees(TreeQuery(ids=[filled[1]])))[0].created_at
        tree_queries = [
            TreeQuery(),
            TreeQuery(ids=filled[:2]),
            TreeQuery(id_prefix=filled[2][:5]),
            TreeQuery(user_id="ann"),
            TreeQuery(statuses=[TreeStatus.QUEUED]),
            TreeQuery(name="aga"),
            TreeQuery(name="AGAIN"),  # in any case, as in memory
            TreeQuery(name="%"),
            TreeQuery(since=created),
            TreeQuery(before=(created, filled[1])),
            TreeQuery(since=created + timedelta(days=1)),
            TreeQuery(limit=1),
        ]
        for tree_query in tree_queries:
            expected = await sql.select_trees(tree_query)
            assert await reader.select_trees(tree_query) == expected, tree_query
    finally:
        await reader.close()
        await sql.close()


async def test_only_a_current_file_is_read_and_writes_are_refused(
    sqlite_url: str, filled: list[str]
) -> None:
    path = str(sqlite_path(sqlite_url))
    reader = SqliteReader.open(path)
    assert reader is not None
    with pytest.raises(StorageError, match="reading only"):
        await reader.delete(filled)
    await reader.close()
    assert SqliteReader.open(path + ".missing") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite:///x.db?mode=ro") is None
    assert sqlite_path("postgresql://u@h/db") is None
    # A database at another revision is read through SqlStorage (which says to upgrade).
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE taskflow_alembic_version SET version_num = '0002_older'")
    assert SqliteReader.open(path) is None
    repository = create_reader(sqlite_url)
    assert type(repository.storage).__name__ == "SqlStorage"
    with pytest.raises(StorageError, match="0002_older"):
        await repository.list_tasks()
    await repository.close()
