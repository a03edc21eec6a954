"""The kit's fixtures, and the test server (see http_server_app.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from http_server_app import Server, ServerState, make_app

pytest_plugins = ["taskflow.testing"]


@pytest.fixture
async def http_server() -> AsyncIterator[Server]:
    state = ServerState()
    server = TestServer(make_app(state), host="127.0.0.1", handler_cancellation=True)
    await server.start_server()
    try:
        yield Server(server, state)
    finally:
        state.release.set()
        await server.close()
