"""The repository contract, run against memory, a SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from taskflow import (
    DefinitionError,
    InvalidTransition,
    LeaseLost,
    TaskConflict,
    TaskNotFound,
    TaskRepository,
    TaskStatus,
    TaskTree,
    TreeBusy,
    TreeStatus,
    build_tree,
    create_session,
)
from taskflow.engine.graph import Node
from taskflow.events import EventType, TaskEvent
from taskflow.models import utcnow
from taskflow.storage import LeaseClaim, TaskQuery, TreeBatch, TreeState

S = TaskStatus


async def _own(repository: TaskRepository, tree_id: str, owner: str) -> LeaseClaim:
    now = utcnow()
    lease = await repository.storage.leases.acquire(
        tree_id, owner, now, now + timedelta(seconds=30)
    )
    assert lease is not None and lease.owner == owner
    return LeaseClaim(owner, lease.token)


def _batch(tree_id: str, claim: LeaseClaim, *nodes: Node, seq: int = 0) -> TreeBatch:
    """A batch moving ``nodes``, with one event each (numbered after ``seq``)."""
    now = utcnow()
    state = TreeState(
        status=TreeStatus.IN_PROGRESS,
        started_at=now,
        finished_at=None,
        updated_at=now,
        lease_expires_at=now + timedelta(seconds=30),
    )
    events = [
        TaskEvent(EventType.STARTED, n.id, tree_id, {"key": n.key}, now, seq + i)
        for i, n in enumerate(nodes, start=1)
    ]
    tasks = [n.written() for n in nodes]
    return TreeBatch(tree_id=tree_id, claim=claim, tree=state, tasks=tasks, events=events)


def _moved(task: object, status: TaskStatus) -> Node:
    node = Node(task)  # type: ignore[arg-type]
    node.touched(utcnow())
    node.status = status
    return node


async def test_create_task_defaults_and_round_trip(repository: TaskRepository) -> None:
    task = await repository.create_task(
        name="noop", user_id="u1", inputs={"a": [1, {"b": None}]}, params={"p": 1}
    )
    stored = await repository.get_task(task.id)
    assert stored == task
    assert (stored.executor, stored.tree_id, stored.parent_id, stored.priority) == (
        "noop",
        task.id,
        None,
        2,
    )
    assert (stored.status, stored.progress, stored.attempt, stored.result) == (
        S.PENDING,
        0.0,
        0,
        None,
    )
    assert stored.created_at.tzinfo is not None
    assert await repository.get_task_by_id(task.id) == stored
    assert await repository.get_task("nope") is None


async def test_children_inherit_tree_and_user(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None, user_id="u1")
    child = await repository.create_task(
        name="Fetch",
        schemas={"method": "http.request"},
        parent_id=root.id,
        key="fetch",
        inputs={"url": "http://127.0.0.1:1/"},
    )
    later = await repository.create_task(
        name="noop", parent_id=root.id, dependencies=["fetch"], priority=0
    )
    assert (child.tree_id, child.user_id, child.executor, child.key) == (
        root.id,
        "u1",
        "http.request",
        "fetch",
    )
    assert later.dependencies[0].id == child.id and later.position == 2
    assert [t.id for t in await repository.get_children(root.id)] == [child.id, later.id]
    tree = await repository.get_task_tree(root.id)
    assert [n.task.key for n in tree.walk()] == [root.key, "fetch", later.key]
    subtree = await repository.get_task_tree(child.id)
    assert subtree.task.id == child.id and subtree.children == []


async def test_create_task_errors(repository: TaskRepository) -> None:
    with pytest.raises(TaskNotFound):
        await repository.create_task(name="noop", parent_id="missing")
    root = await repository.create_task(name="root", executor=None)
    with pytest.raises(DefinitionError, match="depends on 'ghost'"):
        await repository.create_task(name="noop", parent_id=root.id, dependencies=["ghost"])
    with pytest.raises(DefinitionError, match="priority"):
        await repository.create_task(name="noop", priority=9)
    await repository.create_task(name="noop", parent_id=root.id, key="k")
    with pytest.raises(DefinitionError, match="already used"):
        await repository.create_task(name="noop", parent_id=root.id, key="k")
    assert len(await repository.get_tree_tasks(root.id)) == 2


async def test_insert_is_all_or_nothing(repository: TaskRepository) -> None:
    tasks = build_tree({"name": "r", "children": [{"key": "a", "executor": "noop"}]})
    await repository.storage.insert(tasks, TaskTree.of(tasks[0]))
    again = build_tree({"name": "other", "children": [{"key": "b", "executor": "noop"}]})
    duplicate = [again[0], again[1], tasks[1]]  # the last one's id exists already
    with pytest.raises(DefinitionError):
        await repository.storage.insert(duplicate, TaskTree.of(again[0]))
    assert await repository.get_task(again[0].id) is None
    assert await repository.get_tree(again[0].id) is None


async def test_a_new_root_is_a_new_tree_record(repository: TaskRepository) -> None:
    root = await repository.create_task(name="Nightly", executor=None, user_id="ada")
    tree = await repository.require_tree(root.id)
    assert (tree.name, tree.user_id, tree.status, tree.lease.owner) == (
        "Nightly",
        "ada",
        TreeStatus.PENDING,
        None,
    )


async def test_commit_is_fenced_by_the_lease_token(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None)
    task = await repository.create_task(name="noop", parent_id=root.id, key="a")
    first = await _own(repository, root.id, "manager-a")
    await repository.storage.commit(_batch(root.id, first, _moved(task, S.IN_PROGRESS)))
    assert await repository.storage.events.last_seq(root.id) == 1
    tree = await repository.require_tree(root.id)
    assert tree.status is TreeStatus.IN_PROGRESS and tree.lease.owner == "manager-a"
    # manager-a's lease runs out; manager-b takes the tree over with a newer token
    now = utcnow() + timedelta(seconds=60)
    taken = await repository.storage.leases.acquire(
        root.id, "manager-b", now, now + timedelta(seconds=30)
    )
    assert taken is not None and taken.owner == "manager-b" and taken.token == first.token + 1
    moved = _moved(await repository.require_task(task.id), S.COMPLETED)
    stale = _batch(root.id, first, moved, seq=1)
    with pytest.raises(LeaseLost, match="manager-b"):
        await repository.storage.commit(stale)
    assert (await repository.require_task(task.id)).status is S.IN_PROGRESS  # nothing written
    assert await repository.storage.events.last_seq(root.id) == 1


async def test_commit_is_all_or_nothing_when_a_status_moved(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None)
    a = await repository.create_task(name="noop", parent_id=root.id, key="a")
    b = await repository.create_task(name="noop", parent_id=root.id, key="b")
    claim = await _own(repository, root.id, "manager-a")
    stale_b = _moved(b.evolve(status=S.IN_PROGRESS), S.COMPLETED)  # expects in_progress
    with pytest.raises(InvalidTransition, match=b.id):
        await repository.storage.commit(_batch(root.id, claim, _moved(a, S.IN_PROGRESS), stale_b))
    assert (await repository.require_task(a.id)).status is S.PENDING
    assert await repository.storage.events.last_seq(root.id) == 0  # no event either
    tree = await repository.require_tree(root.id)
    assert tree.status is TreeStatus.PENDING  # nor the tree's new state


async def test_a_cursor_is_written_with_its_batch_and_kept_out_of_to_dict(
    repository: TaskRepository,
) -> None:
    root = await repository.create_task(name="root", executor=None)
    task = await repository.create_task(name="noop", parent_id=root.id, key="a")
    assert task.cursor is None
    claim = await _own(repository, root.id, "manager-a")
    node = _moved(task, S.IN_PROGRESS)
    node.cursor = "1700000000000-12"
    await repository.storage.commit(_batch(root.id, claim, node))
    stored = await repository.require_task(task.id)
    listed = await repository.storage.select(TaskQuery(ids=[task.id], with_results=False))
    assert stored.cursor == listed[0].cursor == "1700000000000-12"
    assert "cursor" not in stored.to_dict()  # the backend's marker: not for the CLI or the API


async def test_claim_gives_each_tree_to_one_owner(repository: TaskRepository) -> None:
    ids = []
    for i in range(6):
        tasks = build_tree({"name": f"t{i}", "executor": "noop"})
        await repository.storage.insert(tasks, TaskTree.of(tasks[0], status=TreeStatus.QUEUED))
        ids.append(tasks[0].id)
    now = utcnow()
    later = now + timedelta(seconds=30)
    leases = repository.storage.leases
    got = await asyncio.gather(
        leases.claim("a", now, later, limit=4), leases.claim("b", now, later, limit=4)
    )
    claimed = [tree_id for part in got for tree_id, _ in part]
    assert sorted(claimed) == sorted(ids) and len(set(claimed)) == 6
    assert await leases.claim("c", now, later, limit=4) == []
    assert {t.id for t in await leases.held(now)} == set(ids)


async def test_editing_a_tree_that_runs_elsewhere_is_refused(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None)
    task = await repository.create_task(name="noop", parent_id=root.id, key="a")
    await _own(repository, root.id, "somebody-else")
    with pytest.raises(TreeBusy, match="somebody-else"):
        await repository.update_task(task.id, inputs={"x": 1})


async def test_list_filters_and_pages(repository: TaskRepository) -> None:
    for i in range(5):
        await repository.create_task(name="noop", user_id="alice" if i % 2 == 0 else "bob")
        await asyncio.sleep(0.002)  # distinct creation times for a stable order
    alice = await repository.list_tasks(user_id="alice")
    assert len(alice) == 3 and all(t.user_id == "alice" for t in alice)
    assert [t.created_at for t in alice] == sorted((t.created_at for t in alice), reverse=True)
    page1 = await repository.list_tasks(limit=2)
    page2 = await repository.list_tasks(limit=2, offset=2)
    page3 = await repository.list_tasks(limit=2, offset=4)
    assert len({t.id for t in page1 + page2 + page3}) == 5 and len(page3) == 1
    first = alice[0]
    claim = await _own(repository, first.id, "manager-a")
    await repository.storage.commit(_batch(first.id, claim, _moved(first, S.IN_PROGRESS)))
    assert [t.id for t in await repository.list_tasks(status="in_progress")] == [first.id]
    assert len(await repository.list_tasks(status=[S.PENDING, S.IN_PROGRESS])) == 5
    assert len(await repository.list_tasks(roots_only=True)) == 5
    assert len(await repository.list_trees(status="pending")) == 4  # one of them now runs


async def test_update_task_edits_and_guards(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None)
    a = await repository.create_task(name="noop", parent_id=root.id, key="a")
    b = await repository.create_task(name="noop", parent_id=root.id, key="b")
    edited = await repository.update_task(a.id, inputs={"x": 2}, priority=0, name="renamed")
    assert (edited.inputs, edited.priority, edited.name) == ({"x": 2}, 0, "renamed")
    assert await repository.get_task(a.id) == edited
    with pytest.raises(DefinitionError, match="cannot edit status_code"):
        await repository.update_task(a.id, status_code=1)
    await repository.update_task(a.id, dependencies=[b.id])
    with pytest.raises(DefinitionError, match="dependency cycle"):
        await repository.update_task(b.id, dependencies=[a.id])
    with pytest.raises(DefinitionError, match="status changes go through the manager"):
        await repository.update_task(b.id, status="in_progress")
    claim = await _own(repository, root.id, "manager-a")
    await repository.storage.commit(_batch(root.id, claim, _moved(b, S.IN_PROGRESS)))
    await repository.storage.leases.release(root.id, "manager-a", claim.token, utcnow())
    with pytest.raises(TaskConflict, match="running"):
        await repository.update_task(b.id, inputs={})


async def test_delete_refuses_to_orphan(repository: TaskRepository) -> None:
    root = await repository.create_task(name="root", executor=None)
    a = await repository.create_task(name="noop", parent_id=root.id, key="a")
    b = await repository.create_task(name="noop", parent_id=root.id, dependencies=["a"], key="b")
    with pytest.raises(TaskConflict, match=r"has children \(a, b\)"):
        await repository.delete_task(root.id)
    with pytest.raises(TaskConflict, match=r"depend on it \(b\)"):
        await repository.delete_task(a.id)
    await repository.delete_task(b.id)
    await repository.delete_task(a.id)
    await repository.delete_task(root.id)
    assert await repository.get_task(root.id) is None
    with pytest.raises(TaskNotFound):
        await repository.delete_task(root.id)


async def test_a_batch_whose_answer_was_lost_is_not_a_conflict_when_retried(
    database_url: str,
) -> None:
    """The connection died after the database committed: the retry finds its own states."""
    repository = create_session(database_url)
    try:
        root = await repository.create_task(name="root", executor=None)
        task = await repository.create_task(name="noop", parent_id=root.id, key="a")
        claim = await _own(repository, root.id, "manager-a")
        batch = _batch(root.id, claim, _moved(task, S.IN_PROGRESS))
        await repository.storage.commit(batch)
        await repository.storage.commit(batch)  # the retry of a commit whose answer was lost
        assert (await repository.require_task(task.id)).status is S.IN_PROGRESS
        assert await repository.storage.events.last_seq(root.id) == 1
        other = _batch(root.id, claim, _moved(task, S.COMPLETED))  # expects pending: it is not
        with pytest.raises(InvalidTransition, match=task.id):
            await repository.storage.commit(other)
    finally:
        await repository.close()


async def test_a_tree_bigger_than_one_statement_is_inserted_all_or_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskflow.storage import codec

    monkeypatch.setattr(codec, "MANY_ROWS", 7)  # 20 tasks: three statements on PostgreSQL
    repository = create_session(database_url)
    try:
        tasks = build_tree({"name": "wide", "children": [{"key": f"t{i}"} for i in range(19)]})
        await repository.storage.insert(tasks, TaskTree.of(tasks[0]))
        stored = await repository.list_tasks(tree_id=tasks[0].id)
        assert sorted(t.key for t in stored) == sorted(t.key for t in tasks)
        again = build_tree({"name": "bad", "children": [{"key": f"t{i}"} for i in range(19)]})
        clash = [*again[:-1], tasks[5]]  # the last statement's rows hold an id already stored
        with pytest.raises(DefinitionError, match="refused"):
            await repository.storage.insert(clash, TaskTree.of(again[0]))
        assert await repository.list_tasks(tree_id=again[0].id) == []  # nothing of it
        assert await repository.get_tree(again[0].id) is None
    finally:
        await repository.close()
