"""A real aiohttp server on 127.0.0.1 (a random port) for the http.request tests."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

ENDLESS_BYTES = 200 * 1024 * 1024  # what /endless sends at most, so that it ends by itself
SLOW_SECONDS = 30.0


@dataclasses.dataclass
class ServerState:
    """What the test server saw."""

    hits: Counter[str] = dataclasses.field(default_factory=Counter)
    slow_started: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    aborted: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


STATE = web.AppKey("state", ServerState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def echo(request: web.Request) -> web.Response:
    text = await request.text()
    return web.json_response(
        {
            "method": request.method,
            "query": dict(request.query),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": text,
            "json": await request.json() if request.content_type == "application/json" else None,
        }
    )


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code} body")


async def flaky(request: web.Request) -> web.Response:
    """503 for the first N requests, then 200."""
    state = request.app[STATE]
    state.hits["flaky"] += 1
    if state.hits["flaky"] <= int(request.match_info["failures"]):
        return web.Response(status=503, text="try again")
    return web.json_response({"hits": state.hits["flaky"]})


async def drop(request: web.Request) -> web.Response:
    """Close the connection without answering, the first N times."""
    state = request.app[STATE]
    state.hits["drop"] += 1
    if state.hits["drop"] <= int(request.match_info["failures"]):
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError
    return web.json_response({"hits": state.hits["drop"]})


async def redirect(request: web.Request) -> web.Response:
    hops = int(request.match_info["hops"])
    if hops == 0:
        return web.json_response({"arrived": True})
    raise web.HTTPFound(f"/redirect/{hops - 1}")


async def to_file(request: web.Request) -> web.Response:
    raise web.HTTPFound("file:///etc/passwd")


async def redirect_to(request: web.Request) -> web.Response:
    """Redirects wherever ``?url=`` says (an open redirect, as attackers find them)."""
    raise web.HTTPFound(request.query["url"])


async def internal(request: web.Request) -> web.Response:
    """What only the inside should see; counts who asked."""
    request.app[STATE].hits["internal"] += 1
    return web.Response(text="internal secret")


async def endless(request: web.Request) -> web.StreamResponse:
    """A chunked body with no Content-Length that goes on and on."""
    response = web.StreamResponse()
    await response.prepare(request)
    chunk = b"x" * 65536
    for _ in range(ENDLESS_BYTES // len(chunk)):
        await response.write(chunk)
    return response


async def slow(request: web.Request) -> web.Response:
    """Answers after 30 s (or when the test ends); notes when its client goes away."""
    state = request.app[STATE]
    state.slow_started.set()
    try:
        await asyncio.wait_for(state.release.wait(), SLOW_SECONDS)
    except asyncio.CancelledError:
        state.aborted.set()  # the client closed the connection
        raise
    return web.Response(text="finally")


def answer(make: Callable[[], web.Response]) -> Handler:
    """A handler that always answers ``make()``."""

    async def handler(request: web.Request) -> web.Response:
        return make()

    return handler


def make_app(state: ServerState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    add = app.router.add_get
    add("/json", answer(lambda: web.json_response({"hello": "world", "n": [1, 2]})))
    add("/text", answer(lambda: web.Response(text="plain text")))
    latin1 = "café".encode("latin-1")
    add(
        "/latin1",
        answer(lambda: web.Response(body=latin1, content_type="text/plain", charset="latin-1")),
    )
    add("/not-json", answer(lambda: web.Response(text="{oops", content_type="application/json")))
    add("/big", answer(lambda: web.Response(body=b"x" * 100_000)))
    add("/status/{code}", status)
    add("/flaky/{failures}", flaky)
    add("/redirect/{hops}", redirect)
    add("/to-file", to_file)
    add("/redirect-to", redirect_to)
    add("/internal", internal)
    add("/endless", endless)
    add("/slow", slow)
    app.router.add_route("*", "/echo", echo)
    app.router.add_post("/drop/{failures}", drop)
    return app


@dataclasses.dataclass
class Server:
    """The running server: its URLs and what it saw."""

    server: TestServer
    state: ServerState

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))
