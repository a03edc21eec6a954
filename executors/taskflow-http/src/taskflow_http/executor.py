"""``http.request``: one HTTP request on aiohttp, as a task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from taskflow import BaseTask
from taskflow_http.client import Reply, RequestSpec, decode_body, send
from taskflow_http.errors import HttpStatusError
from taskflow_http.schema import INPUT_SCHEMA, OUTPUT_SCHEMA

ERROR_BODY_CHARS = 200  # how much of an error response's body the task's error quotes


class HttpRequest(BaseTask):
    """Makes an HTTP request and returns the response (status, headers, JSON or text body).

    Only http and https URLs are requested, redirects included. The body read is limited
    (``max_response_bytes``), each attempt has a time limit, and retries are opt-in.
    ``cancel()`` aborts the request in flight. ``rerun_safe`` is false because a request may
    have effects (a POST that went through must not be sent again on resume); subclass with
    ``rerun_safe = True`` for idempotent APIs. Register the class, not an instance: an
    instance holds the state of the one run it is doing.
    """

    id = "http.request"
    name = "HTTP request"
    description = "Makes an HTTP request (http/https only) and returns the response."
    input_schema: ClassVar[Mapping[str, Any]] = INPUT_SCHEMA
    output_schema: ClassVar[Mapping[str, Any] | None] = OUTPUT_SCHEMA
    rerun_safe = False
    max_concurrency = 32

    def __init__(self) -> None:
        self._stop = asyncio.Event()

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Send the request; fail on errors, and on a status >= 400 if ``raise_for_status``."""
        spec = RequestSpec.from_inputs(inputs)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with aiohttp.ClientSession() as session:
            exchange = asyncio.ensure_future(send(session, spec))
            if await self._stopped_before(exchange):
                return {"cancelled": True, "method": spec.method, "url": str(spec.url)}
            reply = exchange.result()
        if inputs["raise_for_status"] and reply.status >= 400:
            raise _status_error(reply, spec.label)
        return {
            "status_code": reply.status,
            "reason": reply.reason,
            "url": reply.url,
            "headers": reply.headers,
            **decode_body(reply, inputs["response_type"], spec.label),
            "size_bytes": len(reply.body),
            "redirects": reply.redirects,
            "attempts": reply.attempts,
            "elapsed_seconds": round(loop.time() - started, 3),
        }

    async def cancel(self) -> None:
        """Abort the request in flight; the run ends with ``{"cancelled": true, ...}``."""
        self._stop.set()

    async def _stopped_before(self, exchange: asyncio.Future[Reply]) -> bool:
        """Wait for ``exchange``, unless a stop is asked first: then abort it, return True."""
        stops = [asyncio.ensure_future(self._stop.wait())]
        flag = self.context.cancel_requested
        if flag is not None:
            stops.append(asyncio.ensure_future(flag.wait()))
        try:
            await asyncio.wait([exchange, *stops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in stops:
                waiting.cancel()
            if not exchange.done():
                exchange.cancel()  # closes the connection: the request is aborted
                with contextlib.suppress(asyncio.CancelledError):
                    await exchange
        return exchange.cancelled()


def _status_error(reply: Reply, label: str) -> HttpStatusError:
    excerpt = reply.body[:ERROR_BODY_CHARS].decode(reply.charset or "utf-8", errors="replace")
    message = f"{label} answered {reply.status} {reply.reason}".rstrip()
    if excerpt.strip():
        message += f": {excerpt.strip()}"
    return HttpStatusError(message, status=reply.status, url=reply.url)
