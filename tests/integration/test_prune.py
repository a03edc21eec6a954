"""Retention (issue 15): finished trees are deleted with their tasks, events and signals, in
batches, leaving unfinished trees alone; the `taskflow.prune` executor does it from a tree
(a schedule), and refuses under the server trust profile unless allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskflow import TaskManager, TreeStatus, create_session
from taskflow.executors.trust import use_trust
from taskflow.models import utcnow
from taskflow.runtime.maintenance import prune_finished
from taskflow.storage import TaskQuery, TreeQuery


async def test_prune_deletes_finished_trees_in_batches(any_url: str) -> None:
    manager = TaskManager(create_session(any_url))
    storage = manager.storage
    try:
        done = [
            (await manager.run_tree({"key": f"d{i}", "executor": "noop"})).task.id for i in range(5)
        ]
        waiting = await manager.create_tree({"key": "later", "executor": "noop"}, queued=True)
        await storage.signals.put(done[0], done[0], "notify", "k", {"x": 1})
        schedule = await manager.schedules.add(
            {"key": "s", "executor": "noop"}, {"every": 60, "overlap": "allow"}, name="s"
        )
        fire = await manager.schedules.trigger(schedule.id)  # an unfinished tree: kept
        assert await storage.events.read(done[0])
        trees, _ = await prune_finished(storage, utcnow() + timedelta(seconds=1), batch=2)
        assert trees == 5
        left = {t.id for t in await storage.select_trees(TreeQuery())}
        assert left == {waiting.task.id, fire.tree_id}
        assert {t.tree_id for t in await storage.select(TaskQuery())} == left
        assert await storage.events.read(done[0]) == []
        assert await storage.signals.pending([done[0]]) == []
        assert [f.tree_id for f in await manager.schedules.fires("s")] == [fire.tree_id]
        # nothing finished before an old cutoff
        assert await prune_finished(storage, utcnow() - timedelta(days=1)) == (0, 0)
    finally:
        await manager.close()


async def test_prune_executor_runs_as_a_tree_and_respects_trust(sqlite_url: str) -> None:
    manager = TaskManager(create_session(sqlite_url))
    try:
        old = await manager.run_tree({"key": "old", "executor": "noop"})
        pruning = {
            "key": "retention",
            "executor": "taskflow.prune",
            "inputs": {"finished_before": 0, "database": sqlite_url},
        }
        tree = await manager.run_tree(pruning)
        assert tree.task.status.value == "completed", tree.task.error
        assert tree.task.result["trees"] >= 1
        assert await manager.task_repository.get_tree(old.task.id) is None
        use_trust("server")
        try:
            with pytest.raises(Exception, match="not allowed under the server trust profile"):
                await manager.run_tree({**pruning, "key": "again"})
        finally:
            use_trust(None)
    finally:
        await manager.close()


async def test_unfinished_trees_are_never_pruned(database_url: str) -> None:
    manager = TaskManager(create_session(database_url))
    try:
        queued = await manager.create_tree({"key": "q", "executor": "noop"}, queued=True)
        assert (await manager.storage.prune(utcnow() + timedelta(days=1), limit=100)) == 0
        record = await manager.task_repository.require_tree(queued.task.id)
        assert record.status is TreeStatus.QUEUED
    finally:
        await manager.close()
