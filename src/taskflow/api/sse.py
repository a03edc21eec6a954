"""``GET /v1/trees/{id}/events/stream``: a tree's events as Server-Sent Events.

Each event's ``id:`` is its sequence number in the tree's log, so ``Last-Event-ID`` (or
``?after=SEQ``) resumes right after the last event a client saw, missing none: events are read
from the stored log, the in-process bus only says when to look again. When the tree is
finished an ``end`` event (its final status) closes the stream. An idle stream gets a comment
line every ``ping_seconds`` so that proxies keep it open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from aiohttp import web

from taskflow.api.auth import principal_of
from taskflow.api.context import LIMITS, MANAGER, SETTINGS
from taskflow.api.trees import int_query, visible_tree
from taskflow.api.views import API, bad_query
from taskflow.events import TaskEvent

routes = web.RouteTableDef()
_DONE = object()


def _resume_point(request: web.Request) -> int:
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return int_query(request, "after", 0, 0, 2**62)
    try:
        return max(0, int(header))
    except ValueError:
        raise bad_query("Last-Event-ID", "an event id (an integer) from this stream") from None


def frame(event: str, data: object, event_id: int | None = None) -> bytes:
    """One SSE frame."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def _pump(events: AsyncIterator[TaskEvent], queue: asyncio.Queue[object]) -> None:
    try:
        async for event in events:
            await queue.put(event)
    finally:
        await queue.put(_DONE)


@routes.get(f"{API}/trees/{{tree_id}}/events/stream")
async def stream_events(request: web.Request) -> web.StreamResponse:
    """The tree's events from ``Last-Event-ID`` (or ``?after=``) on, live, then ``end``."""
    tree = await visible_tree(request, request.match_info["tree_id"])
    after = _resume_point(request)
    key_id = principal_of(request).key_id
    limits = request.app[LIMITS]
    limits.open_stream(key_id)
    try:
        return await _stream(request, tree.id, after)
    finally:
        limits.close_stream(key_id)


async def _stream(request: web.Request, tree_id: str, after: int) -> web.StreamResponse:
    manager = request.app[MANAGER]
    ping = request.app[SETTINGS].ping_seconds
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1000)
    pump = asyncio.ensure_future(_pump(manager.subscribe(tree_id, after=after), queue))
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), ping)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if item is _DONE:
                break
            assert isinstance(item, TaskEvent)
            await response.write(frame(item.type.value, item.to_dict(), item.seq))
        if pump.done() and pump.exception() is None:
            tree = await manager.task_repository.get_tree(tree_id)
            status = tree.status.value if tree is not None else None
            await response.write(frame("end", {"tree_id": tree_id, "status": status}))
    except ConnectionResetError:
        pass  # the client went away; it resumes with Last-Event-ID
    finally:
        pump.cancel()
        with contextlib.suppress(BaseException):
            await pump
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


__all__ = ["frame", "routes"]
