"""Typed events and the in-process bus that delivers them.

The engine publishes an event only after the change it describes is committed. A subscriber
that raises is logged and skipped: it never breaks scheduling.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from taskflow.models import utcnow

logger = logging.getLogger("taskflow.events")


class EventType(enum.StrEnum):
    """What an event reports."""

    STARTED = "started"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"
    WAITING = "waiting"
    RESUMED = "resumed"
    LOG = "log"

    @property
    def is_terminal(self) -> bool:
        """Whether the event reports that a task finished."""
        return self in (EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED)


@dataclasses.dataclass(frozen=True, slots=True)
class TaskEvent:
    """One thing that happened to a task.

    Attributes:
        type: What happened.
        task_id: The task it happened to.
        tree_id: Its tree.
        data: Details: ``key`` always; ``status``, ``progress``, ``message``, ``error`` ...
        time: When (UTC).
        seq: Its place in the tree's event log (1, 2, 3 ...; 0 before it is stored).
    """

    type: EventType
    task_id: str
    tree_id: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    time: datetime = dataclasses.field(default_factory=utcnow)
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "seq": self.seq,
            "type": self.type.value,
            "task_id": self.task_id,
            "tree_id": self.tree_id,
            "data": dict(self.data),
            "time": self.time.isoformat(),
        }


Subscriber = Callable[[TaskEvent], None]


class EventBus:
    """Delivers events to subscribers, in order, in the publishing process."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` for every event; returns a function that unsubscribes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone listens (publishers skip building events when nobody does)."""
        return bool(self._subscribers)

    def publish(self, event: TaskEvent) -> None:
        """Hand ``event`` to every subscriber; a subscriber that raises is logged and skipped."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", subscriber, event.type)
