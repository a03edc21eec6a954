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

    CREATED = "created"
    STARTED = "started"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRYING = "retrying"
    LOG = "log"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskEvent:
    """One thing that happened to a task."""

    type: EventType
    task_id: str
    tree_id: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    time: datetime = dataclasses.field(default_factory=utcnow)


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
