"""`Runs`: the tree runs one manager holds, and what it does for all of them.

Each run's lease is kept alive (`LeaseKeeper`), and handed to the run when it is lost; the
requests other processes store for these trees (a cancel, a notify) are polled every
``poll_seconds`` and handed over; a run is dropped, and its lease let go, when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence

from taskflow.engine.context import Mode, RunContext
from taskflow.engine.graph import RunGraph
from taskflow.engine.hooks import TerminalCallback
from taskflow.engine.keeper import LeaseKeeper
from taskflow.engine.run import TreeRun
from taskflow.models import Task, TaskStatus, TaskTree, TaskTreeNode
from taskflow.storage import LeaseClaim

logger = logging.getLogger("taskflow.engine")


@dataclasses.dataclass(slots=True)
class _Active:
    run: TreeRun
    done: asyncio.Task[TaskTreeNode]


class Runs:
    """The runs of one manager (``owner``), by tree id."""

    def __init__(self, owner: str, context: RunContext) -> None:
        self._context = context
        storage, settings = context.storage, context.settings
        self.keeper = LeaseKeeper(
            owner, settings.lease_seconds, storage.lease_renewer(), storage.leases, self._lost
        )
        self._active: dict[str, _Active] = {}
        self._watcher: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._active)

    def __contains__(self, tree_id: object) -> bool:
        return tree_id in self._active

    def __iter__(self) -> Iterator[TreeRun]:
        return iter([active.run for active in self._active.values()])

    def ids(self) -> list[str]:
        """The ids of the trees run here."""
        return list(self._active)

    def get(self, tree_id: str) -> TreeRun | None:
        """The run of this tree, if it runs here."""
        active = self._active.get(tree_id)
        return None if active is None else active.run

    def start(
        self,
        tasks: Sequence[Task],
        tree: TaskTree,
        claim: LeaseClaim,
        on_terminal: TerminalCallback | None,
        *,
        mode: Mode = Mode.RUN,
        resets: Mapping[str, TaskStatus] | None = None,
    ) -> TreeRun:
        """Run ``tree`` (whose lease ``claim`` holds) in the background."""
        run = TreeRun(RunGraph(tasks), tree, claim, self._context, mode=mode, resets=resets)
        if on_terminal is not None:
            run.on_terminal.append(on_terminal)
        self.keeper.hold(tree.id, claim.token)
        self._active[tree.id] = _Active(run, asyncio.ensure_future(self._drive(run)))
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch())
        return run

    async def _drive(self, run: TreeRun) -> TaskTreeNode:
        try:
            await run.run()
        finally:
            self._active.pop(run.tree_id, None)
            self.keeper.drop(run.tree_id)
        return run.graph.tree_view()

    async def wait(self, tree_id: str) -> TaskTreeNode | None:
        """The tree with every task's final state once its run ends (``None``: it does not
        run here). Raises what the run raised (`LeaseLost`, `StorageError`)."""
        active = self._active.get(tree_id)
        if active is None:
            return None
        return await asyncio.shield(active.done)

    def _lost(self, tree_id: str) -> None:
        active = self._active.get(tree_id)
        if active is not None:
            active.run.lease_lost()

    async def _watch(self) -> None:
        """Every ``poll_seconds``: requests made by other processes for the trees run here."""
        signals = self._context.storage.signals
        while True:
            await asyncio.sleep(self._context.settings.poll_seconds)
            if not self._active:
                continue
            try:
                found = await signals.pending(list(self._active))
            except Exception:
                logger.exception("looking for requests from other processes failed")
                continue
            for signal in found:
                active = self._active.get(signal.tree_id)
                if active is not None:
                    active.run.on_signal(signal)

    async def stop_all(self, grace: float) -> int:
        """Stop every run, leaving its tree resumable (see `Engine.stop_all`); return how
        many attempts were running."""
        active = list(self._active.values())
        count = sum(len(a.run.dispatch.running_nodes()) for a in active)
        for entry in active:
            entry.run.drain()
        done = [a.done for a in active]
        if grace > 0 and done:
            await asyncio.wait(done, timeout=grace)
        for entry in active:
            entry.run.stop()
        await asyncio.gather(*done, return_exceptions=True)
        return count

    async def close(self) -> None:
        """Stop every run (resumable), the polling and the lease keeper."""
        await self.stop_all(0.0)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self.keeper.close()
