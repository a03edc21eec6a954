"""One HTTP exchange on aiohttp, with retries, a body size limit and aiohttp errors translated."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from taskflow_http.errors import (
    HostNotAllowed,
    HttpRequestError,
    HttpTimeout,
    ResponseDecodeError,
    ResponseTooLarge,
)

READ_CHUNK_BYTES = 64 * 1024
SCHEMES = frozenset({"http", "https"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestSpec:
    """What to send, and how to treat the answer (the task's inputs, checked)."""

    method: str
    url: URL
    headers: Mapping[str, str]
    query: Mapping[str, str | int | float]
    body: dict[str, Any]  # keyword arguments for the body: json= or data=, or none
    timeout: float
    retries: int
    retry_on_status: frozenset[int]
    retry_backoff: float
    follow_redirects: bool
    max_redirects: int
    max_response_bytes: int

    @property
    def label(self) -> str:
        """``GET https://...``, for messages."""
        return f"{self.method} {self.url}"

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any]) -> RequestSpec:
        """Check the inputs that the schema cannot, and gather them.

        Raises:
            HttpRequestError: the URL is not http(s) or has no host; json and body both given.
        """
        url = URL(inputs["url"])
        if url.scheme not in SCHEMES or not url.host:
            raise HttpRequestError(
                f"inputs.url: only http:// and https:// URLs with a host are allowed, "
                f"not {inputs['url']!r}"
            )
        if "json" in inputs and "body" in inputs:
            raise HttpRequestError("inputs: give json or body, not both")
        body: dict[str, Any] = {}
        if "json" in inputs:
            body["json"] = inputs["json"]
        elif "body" in inputs:
            body["data"] = inputs["body"].encode()
        return cls(
            method=inputs["method"],
            url=url,
            headers=inputs["headers"],
            query=inputs["query"],
            body=body,
            timeout=inputs["timeout"],
            retries=inputs["retries"],
            retry_on_status=frozenset(inputs["retry_on_status"]),
            retry_backoff=inputs["retry_backoff"],
            follow_redirects=inputs["follow_redirects"],
            max_redirects=inputs["max_redirects"],
            max_response_bytes=inputs["max_response_bytes"],
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """The final response, read."""

    status: int
    reason: str
    url: str
    headers: dict[str, str]
    content_type: str
    charset: str | None
    body: bytes
    redirects: list[str]
    attempts: int = 1


async def send(session: aiohttp.ClientSession, spec: RequestSpec) -> Reply:
    """Make the request, trying again after connection errors and retryable statuses.

    Raises:
        HostNotAllowed: the session's policy refused a redirect, a DNS answer or an address.
        HttpTimeout: an attempt took longer than ``spec.timeout`` (not retried).
        HttpRequestError: the last attempt failed to connect, or the request is invalid.
        ResponseTooLarge: the body is over ``spec.max_response_bytes``.
    """
    attempt = 0
    while True:
        attempt += 1
        final = attempt > spec.retries
        try:
            reply = await _exchange(session, spec, accept_any_status=final)
        except HostNotAllowed as exc:  # a redirect, a DNS answer or an address: not retried
            raise HostNotAllowed(f"{spec.label}: {exc}", host=exc.host) from exc
        except TimeoutError as exc:
            raise HttpTimeout(
                f"{spec.label}: no complete response within {spec.timeout:g} s"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            if final:
                raise HttpRequestError(
                    f"{spec.label}: {_describe(exc)} (after {attempt} attempt(s))"
                ) from exc
            reply = None
        except aiohttp.ClientError as exc:
            raise HttpRequestError(f"{spec.label}: {_describe(exc)}") from exc
        if reply is not None:
            return dataclasses.replace(reply, attempts=attempt)
        await asyncio.sleep(spec.retry_backoff * 2 ** (attempt - 1))


async def _exchange(
    session: aiohttp.ClientSession, spec: RequestSpec, *, accept_any_status: bool
) -> Reply | None:
    """One attempt; ``None`` when the status asks for a retry and one is allowed."""
    async with session.request(
        spec.method,
        spec.url,
        headers=spec.headers,
        params=spec.query,
        allow_redirects=spec.follow_redirects,
        max_redirects=spec.max_redirects,
        timeout=aiohttp.ClientTimeout(total=spec.timeout),
        **spec.body,
    ) as response:
        if response.status in spec.retry_on_status and not accept_any_status:
            return None
        body = await read_limited(response, spec.max_response_bytes, spec.label)
        headers: dict[str, str] = {}
        for name, value in response.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return Reply(
            status=response.status,
            reason=response.reason or "",
            url=str(response.url),
            headers=headers,
            content_type=response.content_type,
            charset=response.charset,
            body=body,
            redirects=[str(step.url) for step in response.history],
        )


async def read_limited(response: aiohttp.ClientResponse, limit: int, label: str) -> bytes:
    """The body, or `ResponseTooLarge` as soon as it is known to be over ``limit`` bytes.

    Nothing past the limit is read: the connection is closed instead of drained.
    """
    declared = response.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge(
            f"{label}: the response declares {declared} bytes, over max_response_bytes ({limit})"
        )
    body = bytearray()
    async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(
                f"{label}: the response body is over max_response_bytes ({limit}); stopped reading"
            )
    return bytes(body)


def decode_body(reply: Reply, response_type: str, label: str) -> dict[str, Any]:
    """``{"json": value}`` or ``{"text": str}``, as ``response_type`` asks.

    Raises:
        ResponseDecodeError: the body is not valid JSON, or not in its declared charset.
    """
    is_json = reply.content_type == "application/json" or reply.content_type.endswith("+json")
    if response_type == "text" or (response_type == "auto" and not is_json):
        return {"text": reply.body.decode(reply.charset or "utf-8", errors="replace")}
    try:
        return {"json": json.loads(reply.body.decode(reply.charset or "utf-8"))}
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise ResponseDecodeError(f"{label}: the response body is not valid JSON: {exc}") from exc


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"more redirects than max_redirects ({len(exc.history)} followed)"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return f"refused to follow a redirect to a non-http(s) URL: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
