"""The tasks of a tree run that may start: best first, and those waiting for a slot.

Best first is the lowest ``priority``, then first come (the order `TreeRun` found them
ready in). A task whose executor has no free slot waits in that executor's line, in the same
order, and goes back to the front when a slot of its executor frees.
"""

from __future__ import annotations

import collections
import heapq
import itertools

from taskflow.engine.graph import Node

Entry = tuple[int, int, Node]


class ReadyQueue:
    """Ready tasks in start order, and per executor the ones that found no slot."""

    __slots__ = ("_blocked", "_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._blocked: dict[str, list[Entry]] = collections.defaultdict(list)
        self._order = itertools.count()

    def __bool__(self) -> bool:
        """Whether a task is ready to start now (slot-blocked ones aside)."""
        return bool(self._heap)

    @property
    def waiting(self) -> bool:
        """Whether any task is ready, or ready but blocked on its executor's slots."""
        return bool(self._heap) or any(self._blocked.values())

    def push(self, node: Node) -> None:
        """``node`` may start: behind every task of better or equal priority found before."""
        heapq.heappush(self._heap, (node.base.priority, next(self._order), node))

    def pop(self) -> Entry:
        """The best ready task (with its place in line, for `block`)."""
        return heapq.heappop(self._heap)

    def block(self, executor_id: str, entry: Entry) -> None:
        """``entry`` found no slot of its executor: it waits for one, keeping its place."""
        heapq.heappush(self._blocked[executor_id], entry)

    def unblock(self, executor_id: str) -> None:
        """A slot of ``executor_id`` freed: the first task waiting for one is ready again."""
        blocked = self._blocked.get(executor_id)
        if blocked:
            heapq.heappush(self._heap, heapq.heappop(blocked))

    def clear(self) -> None:
        """Forget every task (the run gives up)."""
        self._heap.clear()
        self._blocked.clear()
