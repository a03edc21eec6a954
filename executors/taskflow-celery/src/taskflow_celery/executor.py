"""``celery.task``: send a Celery task by name, wait for its outcome over its Redis stream."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow import BaseTask, InputValidationError
from taskflow_celery import client, tracking
from taskflow_celery.errors import CeleryRemoteError, CeleryTaskRevoked
from taskflow_celery.schema import INPUT_SCHEMA, OUTPUT_SCHEMA
from taskflow_celery.settings import CelerySettings
from taskflow_celery.stream import RETRY, STREAM_TTL_SECONDS, StreamEntry
from taskflow_celery.waiting import Finished, StopSignal, Waiter

logger = logging.getLogger("taskflow_celery")

TRACKING_MARGIN_SECONDS = 3600  # the tracking hash outlives the longest wait by this much


@dataclasses.dataclass(slots=True)
class CeleryCall:
    """One Celery task this run waits for.

    Attributes:
        app: The client Celery application.
        tracker: The taskflow task's tracking hash.
        celery_task_id: The Celery task id.
        name: The Celery task's name.
        adopted: Whether an interrupted earlier attempt sent it.
        started: Event-loop time when it was sent (or picked up).
    """

    app: Any
    tracker: tracking.Tracker
    celery_task_id: str
    name: str
    adopted: bool
    started: float
    _revoking: asyncio.Task[None] | None = None

    def revoke(self) -> asyncio.Task[None]:
        """Revoke the Celery task (once, however often asked) and record it abandoned."""
        if self._revoking is None:
            self._revoking = asyncio.ensure_future(self._revoke())
        return self._revoking

    async def _revoke(self) -> None:
        await asyncio.to_thread(client.revoke, self.app, self.celery_task_id)
        await self.tracker.mark(tracking.ABANDONED)

    def describe(self) -> dict[str, Any]:
        """The fields every result of the run carries."""
        return {"celery_task_id": self.celery_task_id, "name": self.name}


class CeleryTask(BaseTask):
    """Triggers an existing Celery task by name and waits for its outcome.

    The task is sent with ``send_task`` under an id of its own (``taskflow-{task id}-{attempt}``),
    then its Redis stream ``task:{id}:progress`` is long-polled (blocking ``XREAD`` from the
    start of the stream, in blocks of at most 5 s): ``done`` completes the task with the Celery
    result, ``error`` fails it with the remote exception's class name as ``error_type``,
    progress entries become the task's progress. A task that publishes no stream is followed
    through the Celery result backend. ``timeout`` revokes the Celery task and fails with
    ``TaskTimeout``; ``cancel()`` revokes it with ``terminate=True`` (SIGTERM to the worker
    process running it). An attempt interrupted by a crash is picked up by the next one, which
    waits for the Celery task already sent instead of sending it again (``rerun_safe``).
    """

    id = "celery.task"
    name = "Celery task"
    description = (
        "Sends a Celery task by name and waits for its outcome: a long poll on its Redis "
        "stream task:{id}:progress, else the result backend."
    )
    input_schema: ClassVar[Mapping[str, Any]] = INPUT_SCHEMA
    output_schema: ClassVar[Mapping[str, Any] | None] = OUTPUT_SCHEMA
    rerun_safe = True  # a re-run waits for the Celery task it finds in flight (tracking)
    max_concurrency = 256  # each waiting run holds one Redis connection

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._call: CeleryCall | None = None

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Send (or pick up) the Celery task, wait for its outcome, and report it."""
        if inputs["countdown"] >= inputs["timeout"]:
            raise InputValidationError(
                f"inputs.countdown ({inputs['countdown']:g} s) must be less than inputs.timeout "
                f"({inputs['timeout']:g} s): the task could never finish in time",
                path="inputs.countdown",
                rule="countdown < timeout",
                task_id=self.context.task_id,
            )
        settings = CelerySettings.resolve(inputs)
        redis = client.open_redis(settings.redis_url)
        try:
            with client.unavailable_as("Redis", settings.redis_url):
                call = await self._begin(redis, settings, inputs)
                if call is None:
                    return {"cancelled": True, "revoked": False, "sent": False}
                finished = await self._wait(redis, call, inputs)
                return await self._conclude(call, finished, inputs["timeout"])
        finally:
            await redis.aclose()

    async def cancel(self) -> dict[str, Any] | None:
        """Stop waiting and revoke the Celery task (``terminate=True``: SIGTERM if it runs)."""
        self._stop.set()
        call = self._call
        if call is None:
            return None  # not sent yet: execute sees the stop and does not send it
        await call.revoke()
        return {"cancelled": True, "revoked": True, **call.describe()}

    async def _begin(
        self, redis: Any, settings: CelerySettings, inputs: dict[str, Any]
    ) -> CeleryCall | None:
        """Pick up the Celery task an interrupted attempt sent, or send a new one."""
        context = self.context
        ttl = max(STREAM_TTL_SECONDS, int(inputs["timeout"]) + TRACKING_MARGIN_SECONDS)
        tracker = tracking.Tracker(redis, context.task_id, ttl)
        own_id = tracking.celery_task_id(context.task_id, context.attempt)
        celery_task_id, adopted = await tracker.claim(own_id, inputs["name"])
        app = await asyncio.to_thread(client.celery_client, settings)  # the first imports celery
        call = CeleryCall(
            app,
            tracker,
            celery_task_id,
            inputs["name"],
            adopted,
            asyncio.get_running_loop().time(),
        )
        if adopted:
            context.log(
                f"waiting for Celery task {celery_task_id}, sent earlier", **call.describe()
            )
        elif self._stop.is_set() or context.is_cancelled:
            await tracker.mark(tracking.ABANDONED)
            return None
        else:
            await self._send(call, inputs)
        self._call = call
        return call

    async def _send(self, call: CeleryCall, inputs: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                functools.partial(
                    client.send,
                    call.app,
                    call.name,
                    call.celery_task_id,
                    args=inputs["args"],
                    kwargs=inputs["kwargs"],
                    queue=inputs["queue"],
                    countdown=inputs["countdown"],
                )
            )
        except BaseException:
            await self._mark_quietly(call, tracking.ABANDONED)
            raise
        self.context.log(f"sent Celery task {call.name!r}", **call.describe())

    async def _wait(self, redis: Any, call: CeleryCall, inputs: dict[str, Any]) -> Finished:
        waiter = Waiter(
            redis,
            call.app,
            call.celery_task_id,
            deadline=call.started + inputs["timeout"],
            stop=StopSignal(self._stop, self.context.cancel_requested),
            on_progress=self._progress,
        )
        if inputs["expect_stream"]:
            return await waiter.follow_stream()
        finished = await waiter.poll_backend()
        assert finished is not None  # no limit before the deadline
        return finished

    async def _progress(self, entry: StreamEntry) -> None:
        if entry.status == RETRY:
            self.context.log(f"the Celery task will be retried: {entry.message}")
        elif entry.fraction is not None:
            await self.context.report_progress(entry.fraction, entry.message)
        elif entry.message:
            self.context.log(entry.message)

    async def _conclude(
        self, call: CeleryCall, finished: Finished, timeout: float
    ) -> dict[str, Any]:
        elapsed = round(asyncio.get_running_loop().time() - call.started, 3)
        if finished.kind in ("timeout", "stopped"):
            revoked = await self._revoke_quietly(call)
            if finished.kind == "stopped":
                return {"cancelled": True, "revoked": revoked, **call.describe()}
            fate = "revoked" if revoked else "left running (revoke failed)"
            return {
                "status": "failed",
                "error": (
                    f"celery task {call.name!r} ({call.celery_task_id}) did not finish within "
                    f"{timeout:g} s; it was {fate}"
                ),
                "error_type": "TaskTimeout",
                "revoked": revoked,
                **call.describe(),
            }
        await self._mark_quietly(call, tracking.COLLECTED)
        if finished.kind == "revoked":
            raise CeleryTaskRevoked(
                f"celery task {call.name!r} ({call.celery_task_id}) was revoked (the result "
                "backend says REVOKED)"
            )
        if finished.kind == "error":
            return _failure(call, finished)
        if finished.source == "none":
            self.context.log(
                "the Celery task said done, but no result backend has its result",
                **call.describe(),
            )
        return {
            "result": finished.result,
            "state": "SUCCESS",
            "source": finished.source,
            "adopted": call.adopted,
            "elapsed_seconds": elapsed,
            **call.describe(),
        }

    async def _revoke_quietly(self, call: CeleryCall) -> bool:
        try:
            await call.revoke()
        except Exception as exc:
            self.context.log(f"could not revoke the Celery task: {exc}", **call.describe())
            return False
        return True

    async def _mark_quietly(self, call: CeleryCall, state: str) -> None:
        try:
            await call.tracker.mark(state)
        except Exception:  # bookkeeping only: the outcome is known
            logger.warning("could not record %s for %s", state, call.celery_task_id, exc_info=True)


def _failure(call: CeleryCall, finished: Finished) -> dict[str, Any]:
    """The failed result of a Celery task that raised (the engine records ``error_type``)."""
    remote = CeleryRemoteError(
        call.name,
        call.celery_task_id,
        finished.error_type or "Exception",
        finished.error or "",
        finished.traceback,
    )
    return {
        "status": "failed",
        "error": str(remote),
        "error_type": remote.remote_type,
        "remote_error": remote.remote_message,
        "traceback": remote.remote_traceback,
        **call.describe(),
    }
