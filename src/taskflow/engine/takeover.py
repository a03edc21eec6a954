"""Taking trees over: a tree's lease, at once from a provably dead owner, and the trees that
need a manager (their owner died or let them go, or they are queued for any worker).

A lease's owner id names its host and process (`taskflow.identity`): an owner on this host
whose process is gone is dead now, without waiting for its lease to run out.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from taskflow.exceptions import TaskConflict, TreeBusy
from taskflow.identity import provably_dead
from taskflow.models import Lease, TaskTree, utcnow
from taskflow.storage import LeaseClaim, LeaseStore

logger = logging.getLogger("taskflow.engine")


class ResumeResult(list[str]):
    """The trees `Engine.resume` started (a list of ids), and those it could not.

    Attributes:
        failed: Trees it could not run, with why (an executor not installed here ...).
        held: Unfinished trees still held by a live owner elsewhere (who, until when).
    """

    def __init__(self) -> None:
        super().__init__()
        self.failed: dict[str, str] = {}
        self.held: list[TaskTree] = []


async def acquire(leases: LeaseStore, tree_id: str, owner: str, lease_seconds: float) -> Lease:
    """Take the tree's lease for ``owner`` — at once from a provably dead owner on this host.

    Raises:
        TreeBusy: a live manager holds it.
        TaskConflict: the tree has no record.
    """
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    lease = await leases.acquire(tree_id, owner, now, expires)
    held_by = lease.owner if lease is not None else None
    if held_by is not None and held_by != owner and provably_dead(held_by):
        logger.warning("the owner of tree %s (%s) is dead: taking over", tree_id, held_by)
        lease = await leases.acquire(tree_id, owner, now, expires, dead_owners=[held_by])
    if lease is None:
        raise TaskConflict(tree_id, "the tree has no record (was it deleted?)")
    if lease.owner != owner:
        raise TreeBusy(tree_id, lease.owner, lease.expires_at)
    return lease


async def claim_unowned(
    leases: LeaseStore, owner: str, lease_seconds: float, *, limit: int, exclude: Collection[str]
) -> list[tuple[str, Lease]]:
    """Claim up to ``limit`` trees that need a manager, oldest first, except ``exclude``;
    no two managers ever claim the same tree. Returns each tree's id and its new lease."""
    now = utcnow()
    owners = {t.lease.owner for t in await leases.held(now) if t.lease.owner is not None}
    dead = [holder for holder in owners if provably_dead(holder)]
    expires = now + timedelta(seconds=lease_seconds)
    claimed = await leases.claim(
        owner, now, expires, limit=limit, dead_owners=dead, exclude=list(exclude)
    )
    return [(tree_id, Lease(owner, expires, token)) for tree_id, token in claimed]


def claim_of(lease: Lease) -> LeaseClaim:
    """What the run's writes are conditional on: the lease's owner and fencing token."""
    assert lease.owner is not None
    return LeaseClaim(lease.owner, lease.token)
