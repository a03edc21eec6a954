"""``http.request``: one HTTP request on aiohttp, as a task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from taskflow import BaseTask, InputValidationError
from taskflow.executors import SafetySetting, TrustProfile
from taskflow_http.client import Reply, RequestSpec, decode_body, send
from taskflow_http.errors import HostNotAllowed, HttpStatusError
from taskflow_http.hosts import (
    ALLOW_HOSTS_VARIABLE,
    DENY_HOSTS_VARIABLE,
    DENY_PRIVATE_VARIABLE,
    HostPolicy,
    HttpSettings,
    current_settings,
    new_session,
)
from taskflow_http.schema import INPUT_SCHEMA, OUTPUT_SCHEMA

ERROR_BODY_CHARS = 200  # how much of an error response's body the task's error quotes


class HttpRequest(BaseTask):
    """Makes an HTTP request and returns the response (status, headers, JSON or text body).

    Only http and https URLs are requested, redirects included, and only hosts the settings
    allow (`taskflow_http.hosts`: ``allow_hosts``, ``deny_hosts``, and private addresses
    denied under the ``server`` trust profile), checked for every redirect and after DNS
    resolution. The body read is limited (``max_response_bytes``), each attempt has a time
    limit, and retries are opt-in.
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
    #: Makes the resolver of host names (its answers are checked, then connected to).
    resolver: ClassVar[Callable[[], AbstractResolver]] = aiohttp.DefaultResolver

    def __init__(self) -> None:
        self._stop = asyncio.Event()

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse a URL whose host the settings refuse by its name (or its IP address)."""
        try:
            host = URL(inputs["url"]).host
        except ValueError:
            return  # execute says what is wrong with it
        reason = HostPolicy(current_settings()).refuses_host(host) if host else None
        if reason is not None:
            raise InputValidationError(
                f"inputs.url: {reason}", path="inputs.url", rule="allowed_hosts"
            )

    def safety(self) -> Sequence[SafetySetting]:
        """Allowed and denied hosts, and private addresses, per trust profile."""
        local = HttpSettings.from_environment(TrustProfile.LOCAL, environ={})
        server = HttpSettings.from_environment(TrustProfile.SERVER, environ={})
        current = current_settings()
        return [
            SafetySetting(
                name="allow_hosts",
                description="hosts (names, *.domain, IPs, CIDR ranges) requests may reach "
                "([]: any that is not denied)",
                local=list(local.allow_hosts),
                server=list(server.allow_hosts),
                current=list(current.allow_hosts),
                env=ALLOW_HOSTS_VARIABLE,
            ),
            SafetySetting(
                name="deny_hosts",
                description="hosts requests may not reach, checked after DNS resolution too",
                local=list(local.deny_hosts),
                server=list(server.deny_hosts),
                current=list(current.deny_hosts),
                env=DENY_HOSTS_VARIABLE,
            ),
            SafetySetting(
                name="deny_private",
                description="refuse private, loopback, link-local, multicast and unspecified "
                "addresses (unless an allow_hosts range names them)",
                local=local.deny_private,
                server=server.deny_private,
                current=current.deny_private,
                env=DENY_PRIVATE_VARIABLE,
            ),
        ]

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Send the request; fail on errors, and on a status >= 400 if ``raise_for_status``."""
        spec = RequestSpec.from_inputs(inputs)
        policy = HostPolicy(current_settings())
        reason = policy.refuses_host(spec.url.host or "")
        if reason is not None:
            raise HostNotAllowed(f"{spec.label}: {reason}", host=spec.url.host or "")
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with new_session(policy, type(self).resolver()) as session:
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
