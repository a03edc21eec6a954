"""`Flight`: what the orchestrator keeps of each attempt it follows."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from taskflow.backends.base import Attempt, Reports


@dataclasses.dataclass(slots=True, eq=False)
class Flight:
    """One attempt the orchestrator follows.

    Attributes:
        attempt: The attempt.
        reports: Where what happens to it is reported.
        position: The id of the last entry read from its stream (``0-0``: none yet; an
            attempt re-attached after a takeover starts from the position stored with its
            reports).
        started: Whether a worker took it.
        last_seen: When it was last heard of (monotonic time).
        ended: Whether its end was reported.
        checking: Whether a liveness check of it is under way.
        fenced: Whether its fence is written (it is being sent, or was).
        force_timer: The forced stop due after a cancel's grace period.
    """

    attempt: Attempt
    reports: Reports
    position: str = "0-0"
    started: bool = False
    last_seen: float = dataclasses.field(default_factory=time.monotonic)
    ended: bool = False
    checking: bool = False
    fenced: bool = False
    force_timer: asyncio.TimerHandle | None = None
