"""The repository contract, run against memory, a SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from taskflow import (
    DefinitionError,
    InvalidTransition,
    TaskConflict,
    TaskNotFound,
    TaskStatus,
    build_tree,
)
from taskflow.storage import Change, TaskRepository

S = TaskStatus


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
        name="Fetch", schemas={"method": "http.request"}, parent_id=root.id, key="fetch"
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
    await repository.insert(tasks)
    again = build_tree({"name": "other", "children": [{"key": "b", "executor": "noop"}]})
    duplicate = [again[0], again[1], tasks[1]]  # the last one's id exists already
    with pytest.raises(DefinitionError):
        await repository.insert(duplicate)
    assert await repository.get_task(again[0].id) is None


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
    await repository.transition(first.id, S.IN_PROGRESS)
    assert [t.id for t in await repository.list_tasks(status="in_progress")] == [first.id]
    assert len(await repository.list_tasks(status=[S.PENDING, S.IN_PROGRESS])) == 5
    assert len(await repository.list_tasks(roots_only=True)) == 5


async def test_transition_is_checked_and_compare_and_set(repository: TaskRepository) -> None:
    task = await repository.create_task(name="noop")
    running = await repository.transition(task.id, S.IN_PROGRESS, expected=S.PENDING, attempt=1)
    assert (running.status, running.attempt) == (S.IN_PROGRESS, 1)
    with pytest.raises(InvalidTransition, match="expected 'pending'"):
        await repository.transition(task.id, S.IN_PROGRESS, expected=S.PENDING)
    done = await repository.transition(task.id, S.COMPLETED, result={"ok": True})
    with pytest.raises(InvalidTransition, match="'completed' to 'pending'"):
        await repository.transition(task.id, S.PENDING)
    assert await repository.get_task(task.id) == done


async def test_apply_reports_conflicts_and_applies_the_rest(repository: TaskRepository) -> None:
    a = await repository.create_task(name="noop")
    b = await repository.create_task(name="noop")
    await repository.transition(b.id, S.CANCELLED)  # another writer got there first
    conflicts = await repository.apply(
        [
            Change(a.id, S.PENDING, {"status": S.IN_PROGRESS}),
            Change(b.id, S.PENDING, {"status": S.IN_PROGRESS}),
        ]
    )
    assert conflicts == [b.id]
    assert (await repository.require_task(a.id)).status is S.IN_PROGRESS
    assert (await repository.require_task(b.id)).status is S.CANCELLED


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
    await repository.update_task(b.id, status="in_progress")
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
