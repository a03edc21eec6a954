"""`RoutingBackend`: some attempts run here, the others elsewhere (a tree may mix them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskflow.backends.base import Attempt, ExecutionBackend, Reports
from taskflow.backends.permits import Permits
from taskflow.backends.rates import RateLimiter


class RoutingBackend(ExecutionBackend):
    """Hands each attempt to one of two backends, and its control calls to the same one.

    Args:
        local: The backend of attempts for which ``runs_locally`` is true (executors that wait
            for a person, say, which need no worker process while they wait).
        remote: The backend of every other attempt.
        runs_locally: Decides, per attempt.
    """

    def __init__(
        self,
        local: ExecutionBackend,
        remote: ExecutionBackend,
        runs_locally: Callable[[Attempt], bool],
    ) -> None:
        self.local = local
        self.remote = remote
        self.runs_locally = runs_locally
        self._where: dict[str, ExecutionBackend] = {}

    @property
    def rate_limiter(self) -> RateLimiter:
        """The remote backend's (shared with other processes, when it shares its own)."""
        return self.remote.rate_limiter

    @property
    def permits(self) -> Permits | None:
        """The remote backend's (the limits of executors run here hold across processes too)."""
        return self.remote.permits

    def _backend(self, attempt: Attempt) -> ExecutionBackend:
        return self.local if self.runs_locally(attempt) else self.remote

    def submit(self, attempt: Attempt, reports: Reports) -> None:
        """Submit to the backend chosen for the attempt."""
        backend = self._where[attempt.dispatch_id] = self._backend(attempt)
        backend.submit(attempt, _Forget(reports, self._where))

    def attach(self, attempt: Attempt, reports: Reports, cursor: str | None = None) -> None:
        """Follow an attempt another process sent (the remote backend's), after ``cursor``."""
        self._where[attempt.dispatch_id] = self.remote
        self.remote.attach(attempt, _Forget(reports, self._where), cursor)

    async def attachable(self, attempts: Any) -> set[str]:
        """The remote backend's answer, for the attempts it would have run."""
        return await self.remote.attachable([a for a in attempts if not self.runs_locally(a)])

    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Cancel where the attempt runs."""
        backend = self._where.get(dispatch_id)
        if backend is not None:
            backend.cancel(dispatch_id, reason, grace=grace)

    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Signal where the attempt runs."""
        backend = self._where.get(dispatch_id)
        if backend is not None:
            backend.signal(dispatch_id, key, data)

    async def close(self) -> None:
        """Close both."""
        await self.local.close()
        await self.remote.close()


class _Forget:
    """Passes reports on, and forgets where an attempt ran once it has finished."""

    def __init__(self, reports: Reports, where: dict[str, ExecutionBackend]) -> None:
        self.reports = reports
        self.where = where

    def progress(self, dispatch_id: str, fraction: float, message: str | None) -> None:
        self.reports.progress(dispatch_id, fraction, message)

    def log(self, dispatch_id: str, message: str, fields: Any) -> None:
        self.reports.log(dispatch_id, message, fields)

    def waiting(self, dispatch_id: str, key: str, timeout: float | None) -> None:
        self.reports.waiting(dispatch_id, key, timeout)

    def position(self, dispatch_id: str, cursor: str) -> None:
        self.reports.position(dispatch_id, cursor)

    def finished(self, dispatch_id: str, outcome: Any) -> None:
        self.where.pop(dispatch_id, None)
        self.reports.finished(dispatch_id, outcome)


__all__ = ["RoutingBackend"]
