"""A real HTTP API server on 127.0.0.1 (an ephemeral port) for tests, with a worker loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from taskflow import EngineSettings, TaskManager, create_session
from taskflow.api import ApiSettings, create_app
from taskflow.api.server import open_reader
from taskflow.runtime import Worker, WorkerSettings
from taskflow.storage.api_keys import issue_key


@dataclasses.dataclass
class ApiServer:
    """The server, its manager, and keys: ``admin`` (user admin), ``ann`` and ``bob``."""

    url: str
    manager: TaskManager
    keys: dict[str, str]
    session: aiohttp.ClientSession

    def headers(self, who: str) -> dict[str, str]:
        """``Authorization: Bearer`` with the key of ``who``."""
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def call(
        self, method: str, path: str, who: str | None = "ann", **options: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """One request; returns the status, the JSON body (or text) and the response."""
        headers = {**(self.headers(who) if who else {}), **options.pop("headers", {})}
        async with self.session.request(method, self.url + path, headers=headers, **options) as r:
            text = await r.text()
            try:
                body: Any = await r.json(content_type=None) if text else None
            except ValueError:
                body = text
            return r.status, body, r

    async def until_status(
        self, method: str, path: str, who: str, expected: int, timeout: float = 5.0
    ) -> Any:
        """Repeat a request until it answers ``expected`` (keys are cached for a moment)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status, body, _ = await self.call(method, path, who)
            if status == expected:
                return body
            assert asyncio.get_running_loop().time() < deadline, (status, body)
            await asyncio.sleep(0.1)

    async def wait_status(
        self, tree_id: str, statuses: set[str], who: str = "ann", timeout: float = 15.0
    ) -> dict[str, Any]:
        """Poll the status URL until the tree is in one of ``statuses``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status, body, _ = await self.call("GET", f"/v1/trees/{tree_id}", who)
            assert status == 200, body
            if body["status"] in statuses:
                return dict(body)
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def api_server(
    url: str, settings: ApiSettings | None = None, *, worker: bool = True
) -> AsyncIterator[ApiServer]:
    """A server on a database URL (a worker in the same process runs queued trees, unless
    ``worker`` is false: then nothing runs them, as with ``taskflow serve --no-worker``)."""
    manager = TaskManager(create_session(url), settings=EngineSettings(poll_seconds=0.1))
    loop = Worker(manager, WorkerSettings(poll_seconds=0.2, stop_grace_seconds=0))
    reader = await open_reader(manager)
    wake = loop.wake if worker else None
    app = create_app(manager, settings or ApiSettings(), wake=wake, reader=reader)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    keys = {}
    for user, scopes in (
        ("admin", ("admin",)),
        ("ann", ("read", "write")),
        ("bob", ("read", "write")),
    ):
        keys[user], _ = await issue_key(
            manager.storage.api_keys, user_id=user, name="test", scopes=scopes
        )
    running = asyncio.ensure_future(loop.run() if worker else asyncio.sleep(0))
    session = aiohttp.ClientSession()
    try:
        yield ApiServer(str(server.make_url("")).rstrip("/"), manager, keys, session)
    finally:
        await session.close()
        loop.stop()
        await running
        await server.close()
        if reader is not None:
            await reader.close()
        await manager.close()
