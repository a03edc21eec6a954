"""The execution backend seam: what the engine hands a backend, and what comes back.

The engine hands a backend an `Attempt` — plain JSON-serialisable data, so that the backend
may run it in this process, in another one, or on another machine — and the backend reports
what happens to it through `Reports`: progress, log lines, a wait for a signal, and exactly one
``finished`` with the `Outcome` — and, from a backend that follows attempts running elsewhere,
how far it has read their reports (``position``), so that a manager taking a tree over goes on
from there. The backend builds the executor's `ExecutionContext` and owns
what happens while the attempt runs: the cooperative cancel flag, the executor's ``cancel()``,
the grace period, the forced stop, and both time limits (hard and soft).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from taskflow.backends.permits import Permits
from taskflow.backends.rates import MemoryRateLimiter, RateLimiter
from taskflow.executors import Outcome

#: The error of an attempt stopped by force (after its grace period).
FORCED_STOP = "stopped by force"
#: How long, after the forced stop, an attempt that still does not end is waited for before it
#: is abandoned (reported finished, its coroutine left to itself).
ABANDON_SECONDS = 2.0


@dataclasses.dataclass(slots=True, kw_only=True)
class Attempt:
    """One attempt at one task, as handed to a backend: plain data only.

    Attributes:
        dispatch_id: Unique per attempt (``{task_id}.{attempt}``); reports carry it.
        task_id: The task.
        tree_id: Its tree.
        key: The task's key in the tree.
        executor: The registered executor id that runs it.
        inputs: Resolved inputs (validated by the backend before ``execute``).
        attempt: 1 for the first run, 2 for the first retry, and so on.
        user_id: The tree's owner.
        dependency_results: The results of the tasks it depends on, by key.
        timeout: Hard time limit of the attempt, in seconds (``None``: none).
        soft_timeout: Seconds after which ``context.soft_timed_out`` is true.
        cancel_grace: How long a cancelled executor may take to stop before it is stopped by
            force.
        queue: Where a distributed backend should run it (``None``: its default).
        trust: The trust profile of its tree (``"server"``: the tree came from others, and
            the executor runs under that profile wherever it runs; ``None``: the process's).
    """

    dispatch_id: str
    task_id: str
    tree_id: str
    key: str
    executor: str
    inputs: Mapping[str, Any]
    attempt: int
    user_id: str | None = None
    dependency_results: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    timeout: float | None = None
    soft_timeout: float | None = None
    cancel_grace: float = 5.0
    queue: str | None = None
    trust: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The attempt as a JSON object (version 1)."""
        data = dataclasses.asdict(self)
        data["v"] = 1
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attempt:
        """The attempt of `to_json`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class Reports(Protocol):
    """What a backend tells the engine about the attempts it runs (on the engine's loop)."""

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        """The executor reported progress (0.0 to 1.0)."""

    def log(self, dispatch_id: str, message: str, fields: Mapping[str, Any]) -> None:
        """The executor logged a line."""

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        """The executor waits for the signal ``key`` (see `ExecutionBackend.signal`)."""

    def position(self, dispatch_id: str, cursor: str) -> None:
        """Everything reported for this attempt so far came from before ``cursor`` (an opaque
        marker of the backend's): store it with what was reported, and hand it back to
        `ExecutionBackend.attach` after a takeover. Only a backend whose attempts outlive the
        process that follows them reports it (once per read, not per report)."""

    def finished(self, dispatch_id: str, outcome: Outcome) -> None:
        """The attempt ended (reported exactly once per attempt)."""


class ExecutionBackend(abc.ABC):
    """Runs attempts, and reports what happens to them."""

    _limiter: RateLimiter | None = None

    @property
    def rate_limiter(self) -> RateLimiter:
        """Where rate limits are kept: this backend's memory, unless it shares them with other
        processes."""
        if self._limiter is None:
            self._limiter = MemoryRateLimiter()
        return self._limiter

    @property
    def permits(self) -> Permits | None:
        """Concurrency permits shared with the other managers whose attempts run where this
        backend runs them (``None``: each manager's own count is the limit)."""
        return None

    @abc.abstractmethod
    def submit(self, attempt: Attempt, reports: Reports) -> None:
        """Start ``attempt``; report on it to ``reports``, ending with one ``finished``."""

    @abc.abstractmethod
    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Ask the attempt to stop: set its cancel flag, wake a wait, call the executor's
        ``cancel()`` (whose result becomes the partial result); stop it by force after
        ``grace`` seconds (default: the attempt's ``cancel_grace``). With ``grace=0`` it is
        stopped by force at once, with no cooperative phase (a manager handing its trees
        back). It still ends with one ``finished``. Unknown or finished attempts are ignored."""

    @abc.abstractmethod
    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Hand ``data`` to an attempt that reported waiting for ``key`` (``None``: the wait
        timed out)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every attempt (by force) and release resources."""

    async def attachable(self, attempts: Iterable[Attempt]) -> set[str]:
        """The dispatch ids, among ``attempts`` (found ``in_progress`` when a manager takes a
        tree over), of those that may still be running or may have finished where this
        backend runs attempts — on another machine — and that `attach` can follow to their
        end instead of running them again. The default: none (they died with their process).
        """
        return set()

    def attach(self, attempt: Attempt, reports: Reports, cursor: str | None = None) -> None:
        """Follow an attempt another process submitted (one `attachable` named): report on it
        to ``reports`` as if it had been submitted here, without running it again — only what
        comes after ``cursor``, the last `Reports.position` stored for it (``None``: from its
        beginning)."""
        raise NotImplementedError(f"{type(self).__name__} cannot re-attach to attempts")


__all__ = ["ABANDON_SECONDS", "FORCED_STOP", "Attempt", "ExecutionBackend", "Reports"]
