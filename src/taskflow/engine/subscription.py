"""`subscribe`: an async iterator over task events, live and from the stored log.

For one tree, events come from the stored event log (so a late subscriber, or one that
reconnects with the last ``seq`` it saw, misses nothing) and the in-process bus only says when
to look again; trees run by other processes are polled. The iterator ends once the tree's
record says it is finished — every one of its tasks is terminal, not only its root — and every
event has been delivered. A consumer that falls behind costs nothing: events wait in the log.

Without a tree, it follows every event published in this process, until the consumer stops;
its buffer is bounded, and a consumer that falls behind is told how many events it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from taskflow.events import EventBus, TaskEvent
from taskflow.storage import Storage, TreeQuery

logger = logging.getLogger("taskflow.events")

#: Events kept for a `follow_all` consumer that is behind; beyond, the oldest are dropped.
FOLLOW_ALL_BUFFER = 10_000


async def _finished(storage: Storage, tree_id: str) -> bool:
    found = await storage.select_trees(TreeQuery(ids=[tree_id]))
    return not found or found[0].is_finished


async def follow_tree(
    storage: Storage, bus: EventBus, tree_id: str, *, after: int, poll_seconds: float
) -> AsyncIterator[TaskEvent]:
    """Every event of ``tree_id`` with ``seq > after``, in order, until the tree is finished."""
    changed = asyncio.Event()

    def on_event(event: TaskEvent) -> None:
        if event.tree_id == tree_id:
            changed.set()

    unsubscribe = bus.subscribe(on_event)
    last = after
    try:
        while True:
            changed.clear()
            batch = await storage.events.read(tree_id, after=last)
            for event in batch:
                last = event.seq
                yield event
            if batch:
                continue
            if await _finished(storage, tree_id):
                # The last batch may have committed since the read above: read once more.
                for event in await storage.events.read(tree_id, after=last):
                    yield event
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), poll_seconds)
    finally:
        unsubscribe()


async def follow_all(bus: EventBus, *, buffer: int = FOLLOW_ALL_BUFFER) -> AsyncIterator[TaskEvent]:
    """Every event published in this process from now on (the oldest dropped past
    ``buffer`` events the consumer has not taken yet)."""
    queue: asyncio.Queue[TaskEvent] = asyncio.Queue(maxsize=buffer)
    dropped = 0

    def on_event(event: TaskEvent) -> None:
        nonlocal dropped
        if queue.full():
            queue.get_nowait()
            dropped += 1
        queue.put_nowait(event)

    unsubscribe = bus.subscribe(on_event)
    try:
        while True:
            event = await queue.get()
            if dropped:
                logger.warning(
                    "a subscriber fell behind: %d events were dropped (read them from the event "
                    "log, per tree)",
                    dropped,
                )
                dropped = 0
            yield event
    finally:
        unsubscribe()
