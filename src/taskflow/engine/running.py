"""One attempt in flight (`Running`) and what the parts handling attempts need of the tree
run they serve (`RunHost`)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Protocol

from taskflow.engine.batch import WritePipeline
from taskflow.engine.changes import Changes
from taskflow.engine.context import RunContext
from taskflow.engine.decide import CancelRequest
from taskflow.engine.graph import Node, RunGraph
from taskflow.executors import Outcome
from taskflow.models import TaskTree


class RunHost(Protocol):
    """What `Dispatch` needs of the tree run it serves."""

    context: RunContext
    graph: RunGraph
    changes: Changes
    batch: WritePipeline
    tree: TaskTree

    @property
    def now(self) -> datetime: ...

    def outcome(self, running: Running, outcome: Outcome) -> None: ...

    def slot_freed(self) -> None: ...

    def wake(self) -> None: ...


@dataclasses.dataclass(slots=True, eq=False)
class Running:
    """One attempt of this run, from its claim to its outcome."""

    node: Node
    dispatch_id: str
    submitted: bool = False
    holds_slot: bool = True
    cancel: CancelRequest | None = None
    stopping: bool = False
    wait_key: str | None = None  # parked, waiting for this signal
    wait_timer: asyncio.TimerHandle | None = None
    looking: bool = False  # a reported wait is being looked into (a signal stored for it?)
    held_cursor: str | None = None  # the backend's position, stored once that is done
    starting: asyncio.Task[None] | None = None  # pre-hooks in flight
    ended: bool = False  # its outcome came back, and waits to be judged
    message: str | None = None
    used_signals: set[int] = dataclasses.field(default_factory=set)
