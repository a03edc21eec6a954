"""`WritePipeline`: what the next transaction will write, and the one being written.

Changes accumulate in the open batch, merged per task (a task claimed and finished before the
batch is written becomes one row change, compare-and-set on the status it had first); events
get the tree's next sequence numbers. One batch commits at a time, while the next fills.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from taskflow.engine.graph import Node
from taskflow.events import EventType, TaskEvent
from taskflow.exceptions import LeaseLost
from taskflow.storage import Change, TaskRepository


class WritePipeline:
    """The open batch of one tree run, and the batch being committed."""

    def __init__(self, repository: TaskRepository, tree_id: str, wake: Callable[[], None]) -> None:
        self.repository = repository
        self.tree_id = tree_id
        self.wake = wake
        self.seq = 0  # the last event number used
        self.changes: dict[str, Change] = {}
        self.events: list[TaskEvent] = []
        self.claimed: list[Node] = []  # started only once their claim commits
        self._write: asyncio.Task[list[str]] | None = None
        self._writing: tuple[list[TaskEvent], list[Node]] = ([], [])

    @property
    def pending(self) -> bool:
        """Whether the open batch has anything to write."""
        return bool(self.changes or self.events)

    @property
    def writing(self) -> bool:
        """Whether a batch is being committed."""
        return self._write is not None

    @property
    def written(self) -> bool:
        """Whether the batch being committed is done (call `end`)."""
        return self._write is not None and self._write.done()

    def record(
        self, node: Node, values: dict[str, Any], lease: dict[str, Any] | None, now: datetime
    ) -> None:
        """Apply ``values`` to the node in memory and queue them (with ``lease``) for writing."""
        task = node.task
        values["updated_at"] = now
        node.task = task.evolve_known(values)
        written = {**values, **lease} if lease else values
        queued = self.changes.get(task.id)
        if queued is None:
            self.changes[task.id] = Change(task.id, task.status, written)
        else:
            self.changes[task.id] = Change(task.id, queued.expected, {**queued.values, **written})
        self.wake()

    def emit(self, node: Node, kind: EventType, data: dict[str, Any], now: datetime) -> None:
        """Queue an event with the tree's next sequence number."""
        self.seq += 1
        self.events.append(TaskEvent(kind, node.task.id, node.task.tree_id, data, now, self.seq))
        self.wake()

    def begin(self) -> None:
        """Start committing the open batch; a new one opens."""
        changes, self.changes = list(self.changes.values()), {}
        self._writing = (self.events, self.claimed)
        self.events, self.claimed = [], []
        self._write = asyncio.ensure_future(self.repository.apply(changes, self._writing[0]))
        self._write.add_done_callback(lambda _: self.wake())

    async def end(self) -> tuple[list[TaskEvent], list[Node]]:
        """Wait for the commit; return its events and the tasks it claimed.

        Raises:
            LeaseLost: another writer changed our tasks (it took the tree over).
            StorageError: the database failed; nothing of the batch was written.
        """
        assert self._write is not None
        write, self._write = self._write, None
        conflicts = await write
        if conflicts:
            raise LeaseLost(self.tree_id, conflicts)
        return self._writing

    async def flush(self) -> tuple[list[TaskEvent], list[Node]]:
        """Commit the open batch now (the loop has ended)."""
        self.begin()
        return await self.end()

    def abandon(self) -> None:
        """Stop waiting for a commit in flight (the run is being torn down)."""
        if self._write is not None and not self._write.done():
            self._write.cancel()
