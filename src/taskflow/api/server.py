"""`serve`: the HTTP API on a socket, with a worker loop in the same process by default.

Stopping (SIGTERM or Ctrl-C): the worker takes no new trees and gives the running ones its
grace period, then hands them back resumable; then the server stops answering (streams are
closed after ``SHUTDOWN_SECONDS``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from taskflow.api.app import create_app
from taskflow.api.settings import ApiSettings
from taskflow.exceptions import ConfigurationError
from taskflow.repository import TaskRepository
from taskflow.runtime.manager import TaskManager
from taskflow.runtime.worker import Worker, WorkerSettings
from taskflow.storage.api_keys import issue_key

logger = logging.getLogger("taskflow.api")
SHUTDOWN_SECONDS = 3.0  # open requests (event streams) get this long once the server stops


async def first_admin_key(manager: TaskManager) -> str | None:
    """On a database without any API key, make an admin key and return it (to be shown
    once); ``None`` when keys exist."""
    store = manager.storage.api_keys
    if await store.count():
        return None
    key, record = await issue_key(
        store, user_id="admin", name="first start", scopes=("read", "write", "admin")
    )
    logger.warning("no API keys: made the admin key %s (shown once)", record.prefix)
    return key


async def serve(
    manager: TaskManager,
    settings: ApiSettings,
    *,
    host: str,
    port: int,
    worker: WorkerSettings | None,
    on_ready: Callable[[str], None],
) -> None:
    """Answer HTTP on ``host:port`` (and run a worker, unless ``worker`` is ``None``) until
    SIGTERM or SIGINT; ``on_ready(url)`` is called once the socket listens."""
    service = Worker(manager, worker) if worker is not None else None
    reader = await open_reader(manager)
    app = create_app(manager, settings, wake=service.wake if service else None, reader=reader)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_SECONDS, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        gc.freeze()  # what was loaded to start is never garbage: keep it out of collections
        on_ready(_url(runner, host))
        if service is not None:
            service.handle_signals()
            await service.run()
        else:
            await _until_signalled()
    finally:
        await runner.cleanup()
        if reader is not None:
            await reader.close()


async def open_reader(manager: TaskManager) -> TaskRepository | None:
    """On a SQLite file, a repository that reads through the standard library's sqlite3."""
    from taskflow.runtime.session import sqlite_path
    from taskflow.storage.sqlite_reader import SqliteReader

    await manager.storage.events.last_seq("schema")  # the schema exists and is current
    path = sqlite_path(manager.task_repository.url)
    storage = SqliteReader.open(path) if path else None
    return TaskRepository(storage) if storage is not None else None


def _url(runner: web.AppRunner, host: str) -> str:
    port = runner.addresses[0][1] if runner.addresses else 0
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await stop.wait()


__all__ = ["first_admin_key", "open_reader", "serve"]
