"""The kit's fixtures, and the test server (see http_server_app.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from http_server_app import Server, ServerState, make_app

pytest_plugins = ["taskflow.testing"]


async def _serve(host: str) -> AsyncIterator[Server]:
    state = ServerState()
    server = TestServer(make_app(state), host=host, handler_cancellation=True)
    await server.start_server()
    try:
        yield Server(server, state)
    finally:
        state.release.set()
        await server.close()


@pytest.fixture
async def http_server() -> AsyncIterator[Server]:
    """The test server, on 127.0.0.1."""
    async for server in _serve("127.0.0.1"):
        yield server


@pytest.fixture
async def other_server() -> AsyncIterator[Server]:
    """Another one, on another loopback address (127.0.0.2): the "internal" service."""
    async for server in _serve("127.0.0.2"):
        yield server
