"""Concurrency permits shared by several orchestrating processes.

A manager counts the attempts it runs itself (its slots). When attempts run on shared workers
and several managers hand them out — several ``taskflow worker`` processes on one database,
with the Celery backend — an executor's concurrency limit must hold across all of them: each
attempt of a limited executor then also holds a *permit* of its executor's bucket, taken from
state every manager sees. `MemoryPermits` shares permits between the managers of one process
(the engine's tests); the Celery backend keeps them in Redis.

A permit is named by its holder (the task's id: a task has at most one attempt in flight), so
that a manager that takes a tree over takes the permits of the attempts it follows again
under the same names.
"""

from __future__ import annotations

import abc
import collections


class Permits(abc.ABC):
    """Shared permits, per bucket (``executor:ID``)."""

    @abc.abstractmethod
    async def try_take(self, bucket: str, holder: str, limit: int) -> bool:
        """Take a permit of ``bucket`` for ``holder`` if fewer than ``limit`` are held (one
        ``holder`` already holds counts as taken)."""

    @abc.abstractmethod
    async def take(self, bucket: str, holder: str) -> None:
        """Take a permit whatever the limit (an attempt followed again after a takeover: it
        runs already)."""

    @abc.abstractmethod
    async def release(self, bucket: str, holder: str) -> None:
        """Give ``holder``'s permit back (unknown holders are ignored)."""

    async def close(self) -> None:  # noqa: B027  (nothing to release by default)
        """Stop renewing the permits held here (they expire where they are kept)."""


class MemoryPermits(Permits):
    """Permits shared by the managers of one process."""

    def __init__(self) -> None:
        self.held: collections.defaultdict[str, set[str]] = collections.defaultdict(set)

    async def try_take(self, bucket: str, holder: str, limit: int) -> bool:
        """Take a permit if fewer than ``limit`` are held."""
        holders = self.held[bucket]
        if holder in holders or len(holders) < limit:
            holders.add(holder)
            return True
        return False

    async def take(self, bucket: str, holder: str) -> None:
        """Take a permit whatever the limit."""
        self.held[bucket].add(holder)

    async def release(self, bucket: str, holder: str) -> None:
        """Give the permit back."""
        self.held[bucket].discard(holder)


__all__ = ["MemoryPermits", "Permits"]
