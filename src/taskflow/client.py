"""`Client`: the HTTP API from Python (aiohttp) — submit, read, control, wait, follow events.

It speaks only HTTP and JSON: it imports nothing of the engine, so it can live in a service
that never runs a tree. Errors from the server (problem+json) are raised as `ApiError` with
the status and the problem document; the event stream reconnects by itself, with
``Last-Event-ID``, missing no event.

Example:
    >>> async with Client("http://127.0.0.1:8080", api_key) as client:
    ...     tree = await client.submit({"tasks": [{"key": "a", "executor": "noop"}]})
    ...     done = await client.wait(tree["id"])
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp

from taskflow.exceptions import TaskflowError

API_KEY_VARIABLE = "TASKFLOW_API_KEY"
FINISHED = frozenset({"completed", "failed", "cancelled"})
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between stream reconnections


class ApiError(TaskflowError):
    """Raised when the server answers with an error (a problem+json document, or a bare status).

    Attributes:
        status: The HTTP status.
        problem: The problem document (``type``, ``title``, ``detail``, ``task``, ``field`` ...).
        retry_after: For 429, the seconds the server asks to wait.
    """

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: int | None = None):
        self.status = status
        self.problem = dict(problem)
        self.retry_after = retry_after
        detail = self.problem.get("detail") or self.problem.get("title") or "error"
        super().__init__(f"HTTP {status}: {detail}")


class Client:
    """The taskflow HTTP API.

    Args:
        url: The server's base URL (``http://127.0.0.1:8080``).
        api_key: Sent as ``Authorization: Bearer KEY`` (``None``: no key).
        timeout: Seconds a request may take (event streams excepted).
    """

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.stream: aiohttp.ClientResponse | None = None  # the event stream being read

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def request(self, method: str, path: str, **options: Any) -> Any:
        """One request; the JSON answer.

        Raises:
            ApiError: the server answered with an error status.
        """
        session = self._open()
        async with session.request(
            method, self.url + path, timeout=self._timeout, **options
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise _error(response, text)
            return json.loads(text) if text else None

    # -- trees ---------------------------------------------------------------------------

    async def submit(
        self, tree: Mapping[str, Any] | Sequence[Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a tree (a tree file's document); returns ``{id, status, status_url,
        events_url}``. The same ``idempotency_key`` returns the first request's tree; with a
        tree that differs from that one it raises `ApiError` (422, ``idempotency-key-reused``)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: dict[str, Any] = await self.request("POST", "/v1/trees", json=tree, headers=headers)
        return result

    async def get(self, tree_id: str) -> dict[str, Any]:
        """A tree with every task."""
        result: dict[str, Any] = await self.request("GET", f"/v1/trees/{tree_id}")
        return result

    async def task(self, task_id: str) -> dict[str, Any]:
        """One task."""
        result: dict[str, Any] = await self.request("GET", f"/v1/tasks/{task_id}")
        return result

    async def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        name: str | None = None,
        since: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of trees, newest first: ``{items, next_cursor}``."""
        params: builtins.list[tuple[str, str]] = [("limit", str(limit))]
        statuses = [status] if isinstance(status, str) else list(status or [])
        params += [("status", s) for s in statuses]
        params += [(k, v) for k, v in (("name", name), ("since", since), ("cursor", cursor)) if v]
        result: dict[str, Any] = await self.request("GET", "/v1/trees", params=params)
        return result

    async def trees(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every tree matching ``filters`` (as `list`), page after page."""
        cursor = None
        while True:
            page = await self.list(**filters, cursor=cursor)
            for item in page["items"]:
                yield item
            cursor = page["next_cursor"]
            if cursor is None:
                return

    # -- control -------------------------------------------------------------------------

    async def cancel(self, task_id: str, reason: str | None = None) -> dict[str, Any]:
        """Cancel a task and its subtree (a root: the whole tree)."""
        body = {"reason": reason} if reason else {}
        result: dict[str, Any] = await self.request(
            "POST", f"/v1/tasks/{task_id}/cancel", json=body
        )
        return result

    async def notify(self, task_id: str, key: str, data: Any = None) -> dict[str, Any]:
        """Send ``data`` to the task's ``context.wait(key)``."""
        body = {"key": key, "data": data}
        result: dict[str, Any] = await self.request(
            "POST", f"/v1/tasks/{task_id}/notify", json=body
        )
        return result

    async def retry(self, task_id: str, *, with_dependents: bool = False) -> dict[str, Any]:
        """Run a failed or cancelled task again."""
        body = {"with_dependents": with_dependents}
        result: dict[str, Any] = await self.request("POST", f"/v1/tasks/{task_id}/retry", json=body)
        return result

    async def executors(self) -> builtins.list[dict[str, Any]]:
        """The executors the server can run."""
        result = await self.request("GET", "/v1/executors")
        return list(result["items"])

    # -- following -----------------------------------------------------------------------

    async def wait(self, tree_id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Follow the tree's events until it is finished; return it with every task.

        Raises:
            TimeoutError: ``timeout`` seconds passed first.
        """

        async def follow() -> dict[str, Any]:
            async for _ in self.events(tree_id):
                pass
            return await self.get(tree_id)

        return await asyncio.wait_for(follow(), timeout)

    async def events(self, tree_id: str, *, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The tree's events (``seq`` above ``after``), live, until it is finished.

        A dropped connection is opened again with ``Last-Event-ID``: no event is missed or
        repeated. Errors the server answers with (404, 401 ...) are raised as `ApiError`.
        """
        last, failures = after, 0
        while True:
            try:
                async for kind, data in self._stream_once(tree_id, last):
                    if kind == "end":
                        return
                    failures = 0
                    last = int(data["seq"])
                    yield data
                return  # the server closed the stream after the end event
            except (TimeoutError, aiohttp.ClientError, ConnectionError):
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                await asyncio.sleep(delay)

    async def _stream_once(self, tree_id: str, after: int) -> AsyncIterator[tuple[str, Any]]:
        session = self._open()
        headers = {"Last-Event-ID": str(after), "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        path = f"{self.url}/v1/trees/{tree_id}/events/stream"
        async with session.get(path, headers=headers, timeout=timeout) as response:
            if response.status >= 400:
                raise _error(response, await response.text())
            self.stream = response
            try:
                async for kind, data in _frames(response):
                    yield kind, data
            finally:
                self.stream = None
        raise aiohttp.ClientPayloadError("the stream ended before its end event")


async def _frames(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """``(event, data)`` for each SSE frame (comments and retry hints skipped)."""
    kind, data = "message", list[str]()
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", list[str]()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _error(response: aiohttp.ClientResponse, text: str) -> ApiError:
    try:
        problem = json.loads(text) if text else {}
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    problem.setdefault("title", response.reason or "error")
    retry = response.headers.get("Retry-After")
    return ApiError(response.status, problem, int(retry) if retry and retry.isdigit() else None)


__all__ = ["API_KEY_VARIABLE", "ApiError", "Client"]
