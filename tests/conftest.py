"""Shared fixtures: repositories on every backend, managers, and the service policy.

Tests that need a service (PostgreSQL) skip with a reason when it does not answer, and fail
instead when ``TASKFLOW_REQUIRE_SERVICES=1`` (as CI sets).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from services import service_unavailable

from taskflow import EngineSettings, TaskManager, TaskRepository, create_session

POSTGRES_ADMIN_URL = os.environ.get(
    "TASKFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the user's ~/.taskflow: the default database lives in a temp dir."""
    monkeypatch.setenv("TASKFLOW_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("TASKFLOW_DATABASE_URL", raising=False)


async def _postgres_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        POSTGRES_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a PostgreSQL server that answers (or skip/fail)."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        service_unavailable(
            "PostgreSQL", "asyncpg is not installed (pip install 'taskflow[postgres]')"
        )
    try:
        asyncio.run(_postgres_admin("SELECT 1"))
    except Exception as exc:
        service_unavailable("PostgreSQL", f"{POSTGRES_ADMIN_URL}: {exc}")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"taskflow_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'taskflow.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_url(request: pytest.FixtureRequest) -> str:
    """Like `database_url`, plus the in-memory repository."""
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def repository(any_url: str) -> AsyncIterator[TaskRepository]:
    """A repository on every backend."""
    repo = create_session(any_url)
    yield repo
    await repo.close()


ManagerFactory = Callable[..., TaskManager]


@pytest.fixture
async def make_manager(database_url: str) -> AsyncIterator[ManagerFactory]:
    """Build TaskManagers on the test's database (SQLite, then PostgreSQL); closed after."""
    made: list[TaskManager] = []

    def make(**settings: Any) -> TaskManager:
        made.append(TaskManager(create_session(database_url), settings=EngineSettings(**settings)))
        return made[-1]

    yield make
    for mgr in made:
        await mgr.close()


@pytest.fixture
def manager(make_manager: ManagerFactory) -> TaskManager:
    """A TaskManager (concurrency 8) on a SQLite file and on PostgreSQL."""
    return make_manager(concurrency=8)
