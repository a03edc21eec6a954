"""The verbs that change a running tree's tasks: claim, open, finish, requeue, progress, wait,
and how far a backend's reports of an attempt are stored.

Each verb checks the transition against the state table, changes the node in memory, queues
it for the open batch and queues the event describing the change. Progress rolls up to the
groups above (their stored progress is written at most every `GROUP_PROGRESS_SECONDS`). Log
lines are coalesced: consecutive lines of one task in one batch become one event, within a
size bound, and an attempt's log is capped.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from taskflow.engine.batch import WritePipeline
from taskflow.engine.decide import Decision
from taskflow.engine.graph import Node, RunGraph
from taskflow.events import EventType, TaskEvent
from taskflow.models import (
    AttemptRecord,
    TaskStatus,
    TaskTree,
    TreeStatus,
    check_transition,
    rolled_up_status,
    utcnow,
)
from taskflow.storage import TreeState

S = TaskStatus
_EVENT_OF = {
    S.IN_PROGRESS: EventType.STARTED,
    S.COMPLETED: EventType.COMPLETED,
    S.FAILED: EventType.FAILED,
    S.CANCELLED: EventType.CANCELLED,
    S.PENDING: EventType.RETRYING,
}
GROUP_PROGRESS_SECONDS = 0.2  # a group's rolled-up progress is written at most this often
LOG_EVENT_BYTES = 64 * 1024  # consecutive log lines of a task share one event up to this size
LOG_EVENT_LINES = 1000


class Changes:
    """State changes of one tree run's tasks, queued for its write pipeline."""

    def __init__(self, graph: RunGraph, batch: WritePipeline, max_log_bytes: int) -> None:
        self.graph = graph
        self.batch = batch
        self.now = utcnow()
        self.max_log_bytes = max_log_bytes
        self._groups_moved: set[Node] = set()
        self._groups_written = 0.0
        self._groups_due = False
        self._open_logs: dict[str, TaskEvent] = {}  # task id -> its log event in the open batch
        self._log_bytes: dict[str, int] = {}  # task id -> log bytes stored this attempt

    def tick(self) -> None:
        """Refresh the clock used for timestamps (the time of the change, not of the turn)."""
        self.now = utcnow()

    # -- status changes -----------------------------------------------------------------------

    def _status(self, node: Node, target: TaskStatus) -> None:
        check_transition(node.id, node.status, target)
        self.batch.changed(node, self.now)
        before = node.effective_progress
        node.status = target
        if node.effective_progress != before:
            self._roll_up(node, before)

    def _event(self, node: Node, kind: EventType, **extra: Any) -> None:
        data: dict[str, Any] = {"key": node.key, "status": node.status.value}
        data["attempt"] = node.attempt
        data.update((k, v) for k, v in extra.items() if v is not None)
        self.batch.emit(node, kind, data, self.now)

    def claim(self, node: Node) -> None:
        """A ready task starts an attempt."""
        self._status(node, S.IN_PROGRESS)
        node.attempt += 1
        node.started_at = self.now
        node.retry_at = None
        node.waiting = None
        node.cursor = None
        self._log_bytes.pop(node.id, None)
        self._event(node, EventType.STARTED)

    def open(self, group: Node) -> None:
        """A group starts: its children may run."""
        self._status(group, S.IN_PROGRESS)
        group.started_at = self.now
        group.opened = True
        self._event(group, EventType.STARTED)

    def finish(self, node: Node, decision: Decision) -> None:
        """An attempt ended and its task is done (``decision.status`` is terminal)."""
        self._status(node, decision.status)
        node.result = decision.result
        node.error = decision.error
        node.error_type = decision.error_type
        node.traceback = decision.traceback
        node.completed_at = self.now
        node.waiting = None
        node.cursor = None
        if decision.status is S.COMPLETED:
            node.progress = 1.0
        if node.is_group:
            node.progress = 1.0  # every child ended: the rolled-up progress is complete
        if decision.record is not None:
            node.attempts = (*node.attempts, decision.record)
        self._event(
            node, _EVENT_OF[decision.status], error=decision.error, error_type=decision.error_type
        )
        self._open_logs.pop(node.id, None)

    def cancel_pending(self, node: Node, reason: str, error_type: str) -> None:
        """A task that is not running ends cancelled."""
        self.finish(node, Decision(status=S.CANCELLED, error=reason, error_type=error_type))

    def requeue(self, node: Node, decision: Decision, event: EventType) -> None:
        """An attempt ended and the task runs again: a retry (``retry_at`` set), a task found
        interrupted, or one stopped with its manager."""
        self._status(node, S.PENDING)
        node.error = decision.error
        node.error_type = decision.error_type
        node.traceback = decision.traceback
        node.retry_at = decision.retry_at
        node.waiting = None
        node.cursor = None
        if decision.record is not None:
            node.attempts = (*node.attempts, decision.record)
        retry_at = decision.retry_at.isoformat() if decision.retry_at is not None else None
        self._event(node, event, error=decision.error, retry_at=retry_at)
        self._open_logs.pop(node.id, None)

    def reset(self, node: Node, record: AttemptRecord | None = None) -> None:
        """An explicit re-run: a failed or cancelled task is pending again."""
        self._status(node, S.PENDING)
        node.result = node.error = node.error_type = node.traceback = None
        node.completed_at = node.retry_at = None
        node.waiting = None
        node.cursor = None
        node.progress = 0.0
        node.message = None
        node.opened = False
        if record is not None:
            node.attempts = (*node.attempts, record)
        self._event(node, EventType.RETRYING, reason="run again on request")

    # -- progress, waits, logs ----------------------------------------------------------------

    def progress(self, node: Node, fraction: float, message: str | None) -> None:
        """The executor reported progress."""
        self.batch.changed(node, self.now)
        before = node.effective_progress
        node.progress = fraction
        if message is not None:
            node.message = message
        self._roll_up(node, before)
        data: dict[str, Any] = {"key": node.key, "progress": fraction}
        if message:
            data["message"] = message
        self.batch.emit(node, EventType.PROGRESS, data, self.now)

    def waiting(self, node: Node, key: str, timeout: float | None) -> None:
        """The executor waits for a signal (its slot is given back)."""
        self.batch.changed(node, self.now)
        node.waiting = {"key": key, "since": self.now.isoformat(), "timeout": timeout}
        self._event(node, EventType.WAITING, signal=key, timeout=timeout)

    def resumed(self, node: Node, *, timed_out: bool) -> None:
        """The wait is over (a signal came, or its timeout passed)."""
        self.batch.changed(node, self.now)
        key = node.waiting.get("key") if node.waiting else None
        node.waiting = None
        self._event(node, EventType.RESUMED, signal=key, timed_out=timed_out or None)

    def position(self, node: Node, cursor: str) -> None:
        """The backend has reported everything of the attempt that comes before ``cursor``:
        kept with the events of those reports (the same batch), no event of its own."""
        if node.cursor == cursor:
            return
        self.batch.changed(node, self.now)
        node.cursor = cursor

    def log(self, node: Node, message: str, fields: Mapping[str, Any]) -> None:
        """A log line, coalesced with the task's previous line in the open batch."""
        used = self._log_bytes.get(node.id, 0)
        size = len(message) + 1
        if used >= self.max_log_bytes:
            return
        self._log_bytes[node.id] = used + size
        if used + size > self.max_log_bytes:
            message = f"[log limit of {self.max_log_bytes:,} bytes reached: later lines dropped]"
        given = fields.get("lines")
        count = given if isinstance(given, int) and not isinstance(given, bool) else 1
        extra = {k: v for k, v in fields.items() if k not in ("key", "message", "lines")}
        open_event = self._open_logs.get(node.id)
        if open_event is not None:
            data = open_event.data
            assert isinstance(data, dict)
            fits = len(data["message"]) + size <= LOG_EVENT_BYTES
            if fits and data.get("lines", 1) < LOG_EVENT_LINES and _same_fields(data, extra):
                data["message"] += "\n" + message
                data["lines"] = data.get("lines", 1) + count
                return
        data = {"key": node.key, "message": message, **extra}
        if count != 1:
            data["lines"] = count  # the executor logged several lines at once
        self._open_logs[node.id] = self.batch.emit(node, EventType.LOG, data, self.now)

    def batch_began(self) -> None:
        """The open batch went to be written: log events of the next one start afresh."""
        self._open_logs.clear()

    def tree_state(
        self, tree: TaskTree, *, started: bool, final: bool, lease_seconds: float
    ) -> tuple[TaskTree, TreeState]:
        """The tree record as this batch leaves it: its status rolled up from every task,
        its times, and its lease renewed by ``lease_seconds`` (or let go, when ``final``).

        ``started``: the run runs the tree (rather than only settling requests on it).
        """
        now = self.now
        if self.graph.all_terminal:
            status = rolled_up_status(node.status for node in self.graph)
        elif started or tree.started_at is not None:
            status = TreeStatus.IN_PROGRESS
        else:
            status = tree.status  # settled but never started: still pending or queued
        started_at = tree.started_at or (now if started else None)
        state = TreeState(
            status=status,
            started_at=started_at,
            finished_at=now if status.is_finished else None,
            updated_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            keep_lease=not final,
        )
        return dataclasses.replace(tree, status=status, started_at=started_at), state

    # -- group progress -----------------------------------------------------------------------

    def _roll_up(self, node: Node, before: float) -> None:
        for group, progress in self.graph.progress_changed(node, before):
            group.set_progress(progress)
            self._groups_moved.add(group)

    def write_group_progress(self, *, final: bool = False) -> None:
        """Queue groups' rolled-up progress, at most every `GROUP_PROGRESS_SECONDS`."""
        if not self._groups_moved:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not final and now - self._groups_written < GROUP_PROGRESS_SECONDS:
            if not self._groups_due:  # come back then, even if nothing else happens
                self._groups_due = True
                loop.call_at(self._groups_written + GROUP_PROGRESS_SECONDS, self.batch.wake)
            return
        self._groups_due = False
        self._groups_written = now
        moved, self._groups_moved = self._groups_moved, set()
        for group in moved:
            if not group.is_terminal and group.dirty_from is None:
                self.batch.changed(group, self.now)


def _same_fields(data: Mapping[str, Any], extra: Mapping[str, Any]) -> bool:
    return all(data.get(k) == v for k, v in extra.items()) and all(
        k in extra for k in data if k not in ("key", "message", "lines")
    )
