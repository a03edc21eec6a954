"""Following a running tree to its end: live view or log, Ctrl-C and SIGTERM, the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Any

from taskflow.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    notice,
    print_json,
    stderr,
    stdout,
)
from taskflow.cli.render import PlainLog, live_tree, tree_json
from taskflow.models import TaskTree, TaskTreeNode, TreeStatus
from taskflow.runtime import TaskManager

CANCEL_REASON = "interrupted (Ctrl-C)"
#: On SIGTERM, how long running tasks may take to finish before the tree is handed back.
TERM_GRACE_SECONDS = 10.0


class Interrupts:
    """Ctrl-C once: cancel the tree and wait. Twice: stop at once, leaving it resumable.
    SIGTERM (what service managers send): let running tasks finish for a moment, then stop and
    leave the tree resumable."""

    def __init__(self, manager: TaskManager, tree_id: str) -> None:
        self.manager = manager
        self.tree_id = tree_id
        self.count = 0
        self.terminated = False
        self._pending: set[asyncio.Future[Any]] = set()

    def _do(self, action: Any) -> None:
        future: asyncio.Future[Any] = asyncio.ensure_future(action)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def __call__(self) -> None:
        self.count += 1
        if self.count == 1:
            notice(
                "cancelling the tree… press Ctrl-C again to stop at once (the tree stays resumable)"
            )
            self._do(self.manager.cancel(self.tree_id, CANCEL_REASON))
        else:
            notice("stopping now; finish later with `taskflow resume`")
            self._do(self.manager.stop_all())

    def terminate(self) -> None:
        """SIGTERM: stop gracefully, leave the tree resumable."""
        if self.terminated:
            return
        self.terminated = True
        notice(
            f"SIGTERM: letting running tasks finish for up to {TERM_GRACE_SECONDS:g} s, then "
            "stopping; finish later with `taskflow resume`"
        )
        self._do(self.manager.stop_all(grace=TERM_GRACE_SECONDS))


def exit_code(tree: TaskTree, interrupts: Interrupts | None = None) -> int:
    """0 completed; 1 failed or cancelled; 130 stopped by Ctrl-C twice; 143 stopped by SIGTERM."""
    if interrupts is not None and interrupts.terminated and not tree.is_finished:
        return EXIT_TERMINATED
    if interrupts is not None and interrupts.count >= 2:
        return EXIT_INTERRUPTED
    if not tree.is_finished:
        return EXIT_INTERRUPTED
    return EXIT_OK if tree.status is TreeStatus.COMPLETED else EXIT_FAILED


async def follow(manager: TaskManager, tree_id: str, *, as_json: bool, interactive: bool) -> int:
    """Show the tree while this manager runs it; print the outcome; return the exit code."""
    loop = asyncio.get_running_loop()
    interrupts = Interrupts(manager, tree_id)
    loop.add_signal_handler(signal.SIGINT, interrupts)
    loop.add_signal_handler(signal.SIGTERM, interrupts.terminate)
    done = asyncio.ensure_future(manager.wait(tree_id))
    try:
        if as_json:
            await done
        elif interactive:
            await asyncio.gather(live_tree(manager, tree_id, done), done)
        else:
            log = PlainLog(manager, tree_id)
            viewer = asyncio.ensure_future(log.follow())
            await done
            if (await manager.task_repository.require_tree(tree_id)).is_finished:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(viewer, 5)
            viewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await viewer
            await log.rest()  # a tree handed back: print what it wrote, then stop
    finally:  # signals from now on only hurry the clean-up along: ignore them
        loop.add_signal_handler(signal.SIGINT, lambda: None)
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
    record = await manager.task_repository.require_tree(tree_id)
    show_outcome(await manager.task_repository.get_task_tree(tree_id), record, as_json=as_json)
    return exit_code(record, interrupts)


def show_outcome(tree: TaskTreeNode, record: TaskTree, *, as_json: bool) -> None:
    """The tree's status and the root's result (stdout), or the whole tree as JSON."""
    if as_json:
        print_json(tree_json(tree, record))
        return
    status = record.status
    stdout.print(
        f"tree {tree.task.id} {status.value}",
        style="green" if status is TreeStatus.COMPLETED else "red",
    )
    if not record.is_finished:
        stderr.print("the tree is not finished; run `taskflow resume` to finish it", markup=False)
    if tree.task.error:
        stderr.print(f"error: {tree.task.error}", markup=False)
    if tree.result is not None:
        stdout.print(json.dumps(tree.result, indent=2, default=str), markup=False)
