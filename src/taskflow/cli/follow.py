"""Following a running tree to its end: live view or log, Ctrl-C handling, the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Any

from taskflow.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, print_json, stderr, stdout
from taskflow.cli.render import live_tree, plain_log, tree_json
from taskflow.engine import TaskManager
from taskflow.models import TaskStatus, TaskTreeNode

CANCEL_REASON = "interrupted (Ctrl-C)"


class Interrupts:
    """Ctrl-C once: cancel the tree and wait. Twice: stop at once, leaving it resumable."""

    def __init__(self, manager: TaskManager, tree_id: str) -> None:
        self.manager = manager
        self.tree_id = tree_id
        self.count = 0
        self._pending: set[asyncio.Future[Any]] = set()

    def __call__(self) -> None:
        self.count += 1
        if self.count == 1:
            stderr.print(
                "cancelling the tree… press Ctrl-C again to stop at once (the tree stays resumable)"
            )
            action = asyncio.ensure_future(self.manager.cancel(self.tree_id, CANCEL_REASON))
        else:
            stderr.print("stopping now; finish later with `taskflow resume`")
            action = asyncio.ensure_future(self.manager.stop_all())
        self._pending.add(action)
        action.add_done_callback(self._pending.discard)


def exit_code(tree: TaskTreeNode, interrupts: int) -> int:
    """0 if the tree completed, 1 if it failed or was cancelled, 130 if stopped by Ctrl-C twice."""
    if interrupts >= 2:
        return EXIT_INTERRUPTED
    return EXIT_OK if tree.task.status is TaskStatus.COMPLETED else EXIT_FAILED


async def follow(manager: TaskManager, tree_id: str, *, as_json: bool, interactive: bool) -> int:
    """Show the tree while this manager runs it; print the outcome; return the exit code."""
    loop = asyncio.get_running_loop()
    interrupts = Interrupts(manager, tree_id)
    loop.add_signal_handler(signal.SIGINT, interrupts)
    done = asyncio.ensure_future(manager.wait(tree_id))
    try:
        if as_json:
            await done
        elif interactive:
            await asyncio.gather(live_tree(manager, tree_id, done), done)
        else:
            viewer = asyncio.ensure_future(plain_log(manager, tree_id))
            await done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(viewer, 5)
    finally:  # Ctrl-C from now on only hurries the clean-up along: ignore it
        loop.add_signal_handler(signal.SIGINT, lambda: None)
    tree = await manager.task_repository.get_task_tree(tree_id)
    show_outcome(tree, as_json=as_json)
    return exit_code(tree, interrupts.count)


def show_outcome(tree: TaskTreeNode, *, as_json: bool) -> None:
    """The root's result (stdout), or the whole tree as JSON."""
    if as_json:
        print_json(tree_json(tree))
        return
    status = tree.task.status
    stdout.print(
        f"tree {tree.task.id} {status.value}",
        style="green" if status is TaskStatus.COMPLETED else "red",
    )
    if tree.task.error:
        stderr.print(f"error: {tree.task.error}", markup=False)
    if tree.task.result is not None:
        stdout.print(json.dumps(tree.task.result, indent=2, default=str), markup=False)
