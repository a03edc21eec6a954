"""`WritePipeline`: what the next transaction of a tree run will write, and the one being written.

Changes accumulate in the open batch: the nodes whose state changed (each written once, as it
stands at commit time, compare-and-set on the status it had when it first changed), the events
describing the changes (numbered in the tree's sequence), the signals consumed. One batch
commits at a time while the next fills. A commit that fails with `StorageError` is retried with
backoff for ``retry_seconds`` (nothing of it was written, so it is simply written again); a
`LeaseLost` is never retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from taskflow.engine.graph import Node
from taskflow.events import EventType, TaskEvent
from taskflow.exceptions import InvalidTransition, LeaseLost, StorageError
from taskflow.storage import LeaseClaim, SignalUse, Storage, TreeBatch, TreeState

logger = logging.getLogger("taskflow.engine")

RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 2.0
#: A batch this small is committed at once when the storage can (no hand-off to a thread): a
#: SQLite file writes 1,000 rows in a few milliseconds, during which the loop would mostly have
#: waited for the commit anyway (the tasks it claims start only once it is written).
COMMIT_NOW_ROWS = 1000


class WritePipeline:
    """The open batch of one tree run, and the batch being committed."""

    def __init__(
        self,
        storage: Storage,
        tree_id: str,
        claim: LeaseClaim,
        wake: Callable[[], None],
        *,
        seq: int,
        retry_seconds: float,
    ) -> None:
        self.storage = storage
        self.tree_id = tree_id
        self.claim = claim
        self.wake = wake
        self.seq = seq  # the last event number used
        self.retry_seconds = retry_seconds
        self.dirty: list[Node] = []
        self.events: list[TaskEvent] = []
        self.signals: list[SignalUse] = []
        self.released: list[tuple[str, int]] = []
        self.claimed: list[Node] = []  # started only once their claim commits
        self._write: asyncio.Future[None] | None = None
        self._writing: tuple[list[TaskEvent], list[Node]] = ([], [])

    @property
    def pending(self) -> bool:
        """Whether the open batch has anything to write."""
        return bool(self.dirty or self.events or self.signals or self.released)

    @property
    def writing(self) -> bool:
        """Whether a batch is being committed."""
        return self._write is not None

    @property
    def written(self) -> bool:
        """Whether the batch being committed is done (call `end`)."""
        return self._write is not None and self._write.done()

    def changed(self, node: Node, now: datetime) -> None:
        """Queue ``node`` for writing (call before changing its state)."""
        if node.dirty_from is None:
            self.dirty.append(node)
        node.touched(now)
        self.wake()

    def emit(self, node: Node, kind: EventType, data: dict[str, Any], now: datetime) -> TaskEvent:
        """Queue an event with the tree's next sequence number."""
        self.seq += 1
        event = TaskEvent(kind, node.id, self.tree_id, data, now, self.seq)
        self.events.append(event)
        self.wake()
        return event

    def begin(self, tree: TreeState) -> None:
        """Start committing the open batch (with the tree's state); a new one opens."""
        batch = TreeBatch(
            tree_id=self.tree_id,
            claim=self.claim,
            tree=tree,
            tasks=[node.written() for node in self.dirty],
            events=self.events,
            signals=self.signals,
            released_attempts=self.released,
        )
        self._writing = (self.events, self.claimed)
        self.dirty, self.events, self.signals, self.released, self.claimed = [], [], [], [], []
        if batch.size <= COMMIT_NOW_ROWS and self._commit_now(batch):
            return
        self._write = asyncio.ensure_future(self._commit(batch))
        self._write.add_done_callback(lambda _: self.wake())

    def _commit_now(self, batch: TreeBatch) -> bool:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            if not self.storage.commit_now(batch):
                return False
            future.set_result(None)
        except (LeaseLost, InvalidTransition, StorageError) as exc:
            future.set_exception(exc)
        self._write = future
        return True

    async def _commit(self, batch: TreeBatch) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.retry_seconds
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self.storage.commit(batch)
                return
            except StorageError as exc:
                if loop.time() + delay > give_up:
                    raise
                logger.warning(
                    "writing tree %s failed (%s); trying again in %.2f s", self.tree_id, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def end(self) -> tuple[list[TaskEvent], list[Node]]:
        """Wait for the commit; return its events and the tasks it claimed.

        Raises:
            LeaseLost: another manager holds the tree now (nothing was written).
            StorageError: the database kept failing (nothing was written).
        """
        assert self._write is not None
        write, self._write = self._write, None
        await write
        return self._writing

    async def flush(self, tree: TreeState) -> tuple[list[TaskEvent], list[Node]]:
        """Commit the open batch now (the loop has ended)."""
        self.begin(tree)
        return await self.end()

    def abandon(self) -> None:
        """Stop waiting for a commit in flight, and drop what is open (the run is torn down
        after it lost its lease or its database)."""
        if self._write is not None and not self._write.done():
            self._write.cancel()
        for node in self.dirty:
            node.dirty_from = None
        self.dirty, self.events, self.signals, self.released, self.claimed = [], [], [], [], []
