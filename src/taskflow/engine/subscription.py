"""`subscribe`: an async iterator over task events, live and from the stored log.

For one tree, events come from the repository's event log (so a late subscriber, or one that
reconnects with the last ``seq`` it saw, misses nothing) and the in-process bus only says when
to look again; trees run by other processes are polled. The iterator ends once the tree has
finished and every event has been delivered. Without a tree, it follows every event published
in this process, until the consumer stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from taskflow.events import EventBus, TaskEvent
from taskflow.storage import TaskRepository


async def follow_tree(
    repository: TaskRepository, bus: EventBus, tree_id: str, *, after: int, poll_seconds: float
) -> AsyncIterator[TaskEvent]:
    """Every event of ``tree_id`` with ``seq > after``, in order, until the tree is done."""
    changed = asyncio.Event()

    def on_event(event: TaskEvent) -> None:
        if event.tree_id == tree_id:
            changed.set()

    unsubscribe = bus.subscribe(on_event)
    last = after
    try:
        while True:
            changed.clear()
            batch = await repository.events.read(tree_id, after=last)
            for event in batch:
                last = event.seq
                yield event
            if batch:
                continue
            root = await repository.get_task(tree_id)
            if root is None or root.is_terminal:
                # The last batch may have committed since the read above: read once more.
                for event in await repository.events.read(tree_id, after=last):
                    yield event
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), poll_seconds)
    finally:
        unsubscribe()


async def follow_all(bus: EventBus) -> AsyncIterator[TaskEvent]:
    """Every event published in this process from now on."""
    queue: asyncio.Queue[TaskEvent] = asyncio.Queue()
    unsubscribe = bus.subscribe(queue.put_nowait)
    try:
        while True:
            yield await queue.get()
    finally:
        unsubscribe()
