"""`StreamReader`: the orchestrator's reading of the attempts' streams (worker → orchestrator).

One reader follows every attempt in flight — a single blocking ``XREAD`` over their streams,
each from its stored position (``0-0`` at first); new attempts join the next read — and passes
progress, logs, waits and the outcome on to the engine, then the id of the last entry read
(`Reports.position`), which the engine stores with what those entries reported: an attempt
re-attached after a takeover is read from there, and nothing is reported twice. Every entry,
heartbeats included, says the attempt is alive (`Flight.last_seen`, which the backend's
liveness check reads).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from taskflow.backends.celery.flight import Flight
from taskflow.backends.celery.protocol import DONE, LOG, PROGRESS, STARTED, WAITING, Keys, decode
from taskflow.executors import Outcome
from taskflow.models import ErrorType

READ_BLOCK_MS = 50  # one blocking read; new attempts join the next one
#: Reads are spaced by this much per stream followed (at most `READ_SPACING_MAX`): a read
#: costs in proportion to the streams it names, and many streams fill up quickly.
READ_SPACING_PER_STREAM = 0.00005  # seconds
READ_SPACING_MAX = 0.02  # seconds
READ_COUNT = 200  # entries per stream per read
#: The entries whose reports the engine stores: a read with none of them (heartbeats only)
#: moves no stored position.
_STORED = frozenset({PROGRESS, LOG, WAITING})


class StreamReader:
    """Reads the streams of the attempts in flight and reports what they say.

    Args:
        keys: The backend's keys.
        flights: The attempts in flight by dispatch id (the backend's own, which it keeps
            up to date: the reader never adds or removes one).
        end: Reports an attempt's outcome and stops following it (the backend's).
    """

    def __init__(
        self, keys: Keys, flights: Mapping[str, Flight], end: Callable[[Flight, Outcome], None]
    ) -> None:
        self.keys = keys
        self._flights = flights
        self._end = end

    def spacing(self) -> float:
        """How long to wait between two reads (seconds), given the streams followed."""
        return min(len(self._flights) * READ_SPACING_PER_STREAM, READ_SPACING_MAX)

    async def read_once(self, redis: Any) -> None:
        """One read of every stream followed, from its position (blocking at most
        `READ_BLOCK_MS`), and what its entries say reported."""
        streams = {self.keys.stream(d): f.position for d, f in self._flights.items()}
        found = await redis.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS)
        prefix = len(self.keys.stream(""))
        for key, entries in found or ():
            flight = self._flights.get(key[prefix:])
            if flight is not None:
                self._entries(flight, entries)

    def _entries(self, flight: Flight, entries: list[tuple[str, Any]]) -> None:
        """One read's entries of one stream, in order; then how far they go (unless the
        attempt ended: its task stores no position any more)."""
        stored = False
        for entry_id, fields in entries:
            if flight.ended:
                return
            flight.position = entry_id
            kind, data = decode(fields)
            stored = stored or kind in _STORED
            self._entry(flight, kind, data)
        if stored and not flight.ended:
            flight.reports.position(flight.attempt.dispatch_id, flight.position)

    def _entry(self, flight: Flight, kind: str, data: dict[str, Any]) -> None:
        flight.last_seen = time.monotonic()
        dispatch_id, reports = flight.attempt.dispatch_id, flight.reports
        if kind == STARTED:
            flight.started = True
        elif kind == PROGRESS:
            fraction = data.get("fraction")
            if isinstance(fraction, int | float):
                reports.progress(dispatch_id, float(fraction), data.get("message"))
        elif kind == LOG:
            fields = data.get("fields")
            reports.log(dispatch_id, str(data.get("message")), fields or {})
        elif kind == WAITING:
            reports.waiting(dispatch_id, str(data.get("key")), data.get("timeout"))
        elif kind == DONE:
            try:
                outcome = Outcome.from_json(data)
            except (KeyError, TypeError, ValueError) as exc:
                outcome = Outcome.failure(exc, ErrorType.RESULT)
            self._end(flight, outcome)
        if kind != DONE:
            flight.started = True  # a worker holds it (a re-attached attempt, say)
