"""`CeleryBackend`: attempts run as Celery tasks on workers; what happens comes back over Redis.

Each attempt is sent as one ``taskflow.run`` message whose Celery task id is the attempt's
dispatch id, after the task's fence (``current``) names that dispatch id, so that an older
attempt of the same task never runs. One `StreamReader` (`taskflow.backends.celery.reader`)
follows every attempt in flight and passes what its stream says on to the engine, without
reporting anything twice. An attempt whose heartbeats stop for ``worker_lost_seconds`` is
given up (it can no longer start anywhere) and reported failed with ``WorkerLost``, for its
retry policy to decide.

A cancel goes to the worker over the attempt's control stream (the flag, ``cancel()``, the
forced stop of the coroutine); if the attempt has not ended ``force_margin_seconds`` after its
grace period, it is revoked with ``terminate=True``. An attempt that has not started yet is
given up at once instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from taskflow.backends.base import FORCED_STOP, Attempt, ExecutionBackend, Reports
from taskflow.backends.celery.app import async_redis_client, create_app, redis_client
from taskflow.backends.celery.flight import Flight
from taskflow.backends.celery.permits import RedisPermits
from taskflow.backends.celery.protocol import (
    CANCEL,
    GIVE_UP_SCRIPT,
    SIGNAL,
    TASK_NAME,
    Keys,
    encode,
)
from taskflow.backends.celery.rates import RedisRateLimiter
from taskflow.backends.celery.reader import StreamReader
from taskflow.backends.celery.settings import CelerySettings
from taskflow.backends.permits import Permits
from taskflow.backends.rates import RateLimiter
from taskflow.executors import Outcome
from taskflow.models import ErrorType, TaskStatus

logger = logging.getLogger("taskflow.celery")
LIVENESS_SECONDS = 0.5  # how often heartbeats are checked
TIME_LIMIT_MARGIN_SECONDS = 30.0  # Celery's own time limit: the last resort past taskflow's
_ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}")


class CeleryBackend(ExecutionBackend):
    """Runs attempts on Celery workers (``taskflow celery worker``).

    Args:
        settings: Broker, Redis, routing and timings (default: `CelerySettings.from_env`).
        app: The Celery application that sends (default: one made from ``settings``).
    """

    def __init__(self, settings: CelerySettings | None = None, *, app: Any = None) -> None:
        self.settings = settings or CelerySettings.from_env()
        self.app = app or create_app(self.settings)
        self.keys = Keys(self.settings.key_prefix)
        self._sync: Any = redis_client(self.settings)  # used from the sending thread
        self._redis: Any = None
        self._flights: dict[str, Flight] = {}
        self._reader = StreamReader(self.keys, self._flights, self._end)
        self._outbox: list[Attempt] = []
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._helpers: set[asyncio.Task[Any]] = set()
        self._permits: RedisPermits | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._flights)

    @property
    def rate_limiter(self) -> RateLimiter:
        """Rate limits in Redis: shared by every orchestrator on it."""
        if self._limiter is None:
            self._limiter = RedisRateLimiter(self._async(), self.keys)
        return self._limiter

    @property
    def permits(self) -> Permits:
        """Concurrency permits in Redis: an executor's limit holds across orchestrators."""
        if self._permits is None:
            self._permits = RedisPermits(self._async(), self.keys, self.settings.permit_seconds)
        return self._permits

    # -- sending ----------------------------------------------------------------------------

    def queue_of(self, attempt: Attempt) -> str:
        """Where an attempt goes: its own queue, else the routes, else the default queue."""
        return (
            attempt.queue
            or self.settings.routes.get(attempt.executor)
            or self.settings.default_queue
        )

    def submit(self, attempt: Attempt, reports: Reports) -> None:
        """Send the attempt (from a thread, in batches); follow its stream."""
        self._start()
        self._flights[attempt.dispatch_id] = Flight(attempt, reports)
        self._outbox.append(attempt)
        self._poke()

    def attach(self, attempt: Attempt, reports: Reports, cursor: str | None = None) -> None:
        """Follow an attempt sent by another orchestrator (one that died), from the entry of
        its stream after ``cursor`` (the position stored with its reports; ``None``: from the
        beginning): nothing is sent again, nothing reported is reported again."""
        self._start()
        position = cursor if cursor is not None and _ENTRY_ID.fullmatch(cursor) else "0-0"
        self._flights[attempt.dispatch_id] = Flight(
            attempt, reports, position=position, fenced=True
        )
        self._poke()

    async def attachable(self, attempts: Iterable[Attempt]) -> set[str]:
        """The dispatch ids, among ``attempts``, that were sent and not given up: still
        queued, running on a worker, or finished with an outcome on their stream."""
        chosen = list(attempts)
        if not chosen:
            return set()
        redis = self._async()
        pipe = redis.pipeline(transaction=False)
        for attempt in chosen:
            pipe.get(self.keys.current(attempt.task_id))
            pipe.exists(self.keys.lost(attempt.dispatch_id))
        answers = await pipe.execute()
        return {
            attempt.dispatch_id
            for attempt, current, lost in zip(chosen, answers[::2], answers[1::2], strict=True)
            if current == attempt.dispatch_id and not lost
        }

    def _start(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._send_loop()), loop.create_task(self._read())]

    def _poke(self) -> None:
        assert self._wake is not None
        self._wake.set()

    def _async(self) -> Any:
        if self._redis is None:
            self._redis = async_redis_client(self.settings)
        return self._redis

    async def _send_loop(self) -> None:
        while not self._closed:
            if not self._outbox:
                await self._idle()
                continue
            batch, self._outbox = self._outbox, []
            try:
                await asyncio.to_thread(self._send, batch)
            except Exception as exc:
                logger.exception("sending %d attempts failed", len(batch))
                for attempt in batch:
                    self._end_by_id(attempt.dispatch_id, Outcome.failure(exc, ErrorType.EXECUTOR))

    def _send(self, batch: list[Attempt]) -> None:
        """Fence then send (in a thread: kombu's publishing is blocking)."""
        ttl = self.settings.stream_ttl_seconds
        pipe = self._sync.pipeline(transaction=False)
        for attempt in batch:
            pipe.set(self.keys.current(attempt.task_id), attempt.dispatch_id, ex=ttl)
        pipe.execute()
        fenced_at = time.monotonic()
        for attempt in batch:
            flight = self._flights.get(attempt.dispatch_id)
            if flight is not None:
                flight.fenced, flight.last_seen = True, fenced_at
        with self.app.producer_or_acquire() as producer:
            for attempt in batch:
                limit = None
                if attempt.timeout is not None:
                    limit = attempt.timeout + attempt.cancel_grace + TIME_LIMIT_MARGIN_SECONDS
                self.app.send_task(
                    TASK_NAME,
                    args=[attempt.to_json()],
                    task_id=attempt.dispatch_id,
                    queue=self.queue_of(attempt),
                    time_limit=limit,
                    producer=producer,
                )

    async def _idle(self) -> None:
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), LIVENESS_SECONDS)

    # -- reading ----------------------------------------------------------------------------

    async def _read(self) -> None:
        checked = time.monotonic()
        while not self._closed:
            if not self._flights:
                await self._idle()
                continue
            try:
                await self._reader.read_once(self._async())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reading attempt streams failed; retrying")
                await asyncio.sleep(1.0)
            spacing = self._reader.spacing()
            if spacing > 0.001:
                await asyncio.sleep(spacing)
            if time.monotonic() - checked >= LIVENESS_SECONDS:
                checked = time.monotonic()
                self._check_liveness()

    def _check_liveness(self) -> None:
        now, limit = time.monotonic(), self.settings.worker_lost_seconds
        for flight in list(self._flights.values()):
            if flight.checking or now - flight.last_seen <= limit or not flight.fenced:
                continue
            flight.checking = True
            if flight.started:
                self._spawn(self._lost(flight, now - flight.last_seen))
            else:
                self._spawn(self._still_queued(flight))

    async def _still_queued(self, flight: Flight) -> None:
        """An attempt no worker has taken yet waits in the broker as long as it takes — unless
        Redis lost what was written when it was sent (a restart without persistence)."""
        attempt = flight.attempt
        try:
            fence = await self._async().get(self.keys.current(attempt.task_id))
        finally:
            flight.checking = False
        if fence is not None or flight.ended or flight.started:
            flight.last_seen = time.monotonic()
            return
        error = (
            f"attempt {attempt.dispatch_id} was sent but Redis no longer knows it (restarted "
            "without persistence?): it may never run"
        )
        self._end(flight, Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.WORKER_LOST))

    async def _lost(self, flight: Flight, silent: float) -> None:
        """No entry for too long: lost if its claim (renewed by the heartbeat, kept once it
        is done) has expired too; otherwise this process was too slow to hear of it."""
        dispatch_id = flight.attempt.dispatch_id
        try:
            claimed = await self._async().exists(self.keys.claim(dispatch_id))
        finally:
            flight.checking = False
        if claimed or flight.ended:
            flight.last_seen = time.monotonic()
            return
        logger.warning("attempt %s: no heartbeat for %.1f s; worker lost", dispatch_id, silent)
        await self._give_up(flight, only_unclaimed=False)
        await asyncio.to_thread(self._revoke, dispatch_id, True)
        error = (
            f"attempt {dispatch_id}: no heartbeat from the worker running it for {silent:.1f} s "
            f"(worker_lost_seconds = {self.settings.worker_lost_seconds:g})"
        )
        self._end(flight, Outcome(TaskStatus.FAILED, error=error, error_type=ErrorType.WORKER_LOST))

    # -- ending -----------------------------------------------------------------------------

    def _end(self, flight: Flight, outcome: Outcome) -> None:
        if flight.ended:
            return
        flight.ended = True
        if flight.force_timer is not None:
            flight.force_timer.cancel()
        self._flights.pop(flight.attempt.dispatch_id, None)
        flight.reports.finished(flight.attempt.dispatch_id, outcome)

    def _end_by_id(self, dispatch_id: str, outcome: Outcome) -> None:
        flight = self._flights.get(dispatch_id)
        if flight is not None:
            self._end(flight, outcome)

    async def _give_up(self, flight: Flight, *, only_unclaimed: bool) -> bool:
        """Make sure the attempt never starts (if no worker holds it, with ``only_unclaimed``)."""
        dispatch_id = flight.attempt.dispatch_id
        given_up = await self._async().eval(
            GIVE_UP_SCRIPT,
            2,
            self.keys.claim(dispatch_id),
            self.keys.lost(dispatch_id),
            self.settings.stream_ttl_seconds,
            "1" if only_unclaimed else "0",
        )
        return bool(given_up)

    def _revoke(self, dispatch_id: str, terminate: bool) -> None:
        try:
            self.app.control.revoke(dispatch_id, terminate=terminate)
        except Exception:
            logger.exception("revoking attempt %s failed", dispatch_id)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    # -- control ----------------------------------------------------------------------------

    def cancel(self, dispatch_id: str, reason: str, *, grace: float | None = None) -> None:
        """Cancel through the worker; revoke with ``terminate=True`` if it does not end."""
        flight = self._flights.get(dispatch_id)
        if flight is None or flight.ended or flight.force_timer is not None:
            return
        delay = flight.attempt.cancel_grace if grace is None else grace
        loop = asyncio.get_running_loop()
        flight.force_timer = loop.call_later(
            max(delay, 0) + self.settings.force_margin_seconds,
            lambda: self._spawn(self._force(flight)),
        )
        self._spawn(self._cancel(flight, reason, delay))

    async def _cancel(self, flight: Flight, reason: str, grace: float) -> None:
        dispatch_id = flight.attempt.dispatch_id
        if not flight.started and await self._give_up(flight, only_unclaimed=True):
            await asyncio.to_thread(self._revoke, dispatch_id, False)
            error = FORCED_STOP if grace <= 0 else "cancelled before it started"
            self._end(flight, Outcome(TaskStatus.CANCELLED, error=error, error_type="Cancelled"))
            return
        await self._control(dispatch_id, CANCEL, {"reason": reason, "grace": grace})

    async def _force(self, flight: Flight) -> None:
        if flight.ended:
            return
        dispatch_id = flight.attempt.dispatch_id
        logger.warning("attempt %s did not stop; revoking it (terminate)", dispatch_id)
        await self._give_up(flight, only_unclaimed=False)
        await asyncio.to_thread(self._revoke, dispatch_id, True)
        outcome = Outcome(TaskStatus.CANCELLED, error=FORCED_STOP, error_type=ErrorType.CANCELLED)
        self._end(flight, outcome)

    def signal(self, dispatch_id: str, key: str, data: Any) -> None:
        """Hand ``data`` to the attempt waiting for ``key`` on its worker."""
        if dispatch_id in self._flights:
            self._spawn(self._control(dispatch_id, SIGNAL, {"key": key, "data": data}))

    async def _control(self, dispatch_id: str, op: str, data: dict[str, Any]) -> None:
        key = self.keys.control(dispatch_id)
        pipe = self._async().pipeline(transaction=False)
        pipe.xadd(key, encode(op, data))
        pipe.expire(key, self.settings.stream_ttl_seconds)
        await pipe.execute()

    async def close(self) -> None:
        """Stop following attempts (those still in flight are reported stopped by force)."""
        for flight in list(self._flights.values()):
            await self._force(flight)
        self._closed = True
        if self._permits is not None:
            await self._permits.close()
        for task in [*self._tasks, *self._helpers]:
            task.cancel()
        for task in [*self._tasks, *self._helpers]:
            with contextlib.suppress(BaseException):
                await task
        if self._redis is not None:
            await self._redis.aclose()
        self._sync.close()
        self.app.close()
