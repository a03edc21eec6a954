"""One manager used from several event loops, one after another (``asyncio.run`` per step, as
scripts, notebooks and tests do): pooled connections belong to the loop that opened them."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from taskflow import TaskManager, TaskStatus, create_session

TREE = {"name": "again", "children": [{"key": f"t{i}", "executor": "noop"} for i in range(20)]}


def test_one_manager_serves_one_asyncio_run_after_another(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL the second run failed with "attached to a different loop"."""
    caplog.set_level(logging.WARNING)
    # The connections of a loop that has ended are dropped, not closed (closing one needs its
    # loop), as SQLAlchemy's dispose(close=False) does: Python closes their sockets when it
    # collects them, with a ResourceWarning, ignored by default (an error in this suite).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        manager = TaskManager(create_session(database_url))
        for _ in range(3):
            tree = asyncio.run(manager.run_tree(TREE))
            assert {node.task.status for node in tree.walk()} == {TaskStatus.COMPLETED}
        assert len(asyncio.run(manager.task_repository.list_trees())) == 3
        asyncio.run(manager.close())  # from yet another loop: nothing to report either
        del manager
        gc.collect()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
