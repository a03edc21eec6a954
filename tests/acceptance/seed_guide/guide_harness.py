"""What the seed-guide acceptance test adds around the guide's code blocks.

The test runs each block of ``custom-tasks.md`` as a script; preludes and epilogues import
this module to run the block's executor through a real `TaskManager` on a SQLite file in
``$TASKFLOW_HOME`` and to print what came of it (one ``GUIDE-REPORT`` JSON line) for the
test to check. ``python -m guide_harness SCRIPT`` runs a script whose block uses top-level
``await`` (as the guide's "Using Registered Tasks" snippet does), like ``python -m asyncio``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import sqlite3
import sys
import types
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import aiosqlite

from taskflow import (
    DefinitionError,
    ExecutableTask,
    ExecutorInfo,
    Task,
    TaskManager,
    TaskRepository,
    TaskTreeNode,
    create_session,
    get_registry,
)

REPORT_PREFIX = "GUIDE-REPORT "


class SpecificError(Exception):
    """The guide's ``SpecificError`` ("Handle Errors Gracefully")."""


def perform_operation(inputs: Mapping[str, Any]) -> int:
    """The guide's ``perform_operation``: add up ``inputs["numbers"]``.

    Raises KeyError (no numbers), ValueError (a negative one), SpecificError (none at all).
    """
    numbers = inputs["numbers"]
    if not numbers:
        raise SpecificError("nothing to add")
    if any(n < 0 for n in numbers):
        raise ValueError("negative numbers are not allowed")
    return sum(numbers)


async def echo(self: ExecutableTask, inputs: dict[str, Any]) -> dict[str, Any]:
    """An ``execute`` for fragments that define other members: returns the checked inputs."""
    return {"received": inputs}


def executor_from(
    namespace: Mapping[str, Any],
    *members: str,
    name: str = "GuideFragment",
    base: type[ExecutableTask] = ExecutableTask,
    schema: Mapping[str, Any] | None = None,
) -> type[ExecutableTask]:
    """A class made of the guide's top-level method fragments (``echo`` if no ``execute``)."""
    body: dict[str, Any] = {member: namespace[member] for member in members}
    body.setdefault("execute", echo)
    if schema is not None:
        body["get_input_schema"] = lambda self: schema
    body["__module__"] = "__main__"
    return type(name, (base,), body)


def definitions(name: str) -> list[Callable[..., Any]]:
    """Every top-level ``def name`` of the calling script, in source order.

    A block that defines ``execute`` twice (good, then bad) leaves only the last one bound;
    the earlier ones are rebuilt from the script's code object.
    """
    frame = sys._getframe(1)
    return [
        types.FunctionType(code, frame.f_globals, name)
        for code in frame.f_code.co_consts
        if isinstance(code, types.CodeType) and code.co_name == name
    ]


def database_url() -> str:
    """The harness's own SQLite file, in ``$TASKFLOW_HOME``."""
    return f"sqlite:///{Path(os.environ['TASKFLOW_HOME']) / 'harness.db'}"


def summary(task: Task) -> dict[str, Any]:
    """What the test checks of a stored task."""
    result = None if task.result is None else dict(task.result)
    return {
        "status": task.status.value,
        "result": result,
        "error": task.error,
        "error_type": task.error_type,
    }


async def stored(repository: TaskRepository, *task_ids: str) -> list[dict[str, Any]]:
    """Read tasks back from ``repository`` (all of them if no ids), then close it."""
    try:
        if task_ids:
            tasks = [await repository.require_task(task_id) for task_id in task_ids]
        else:
            tasks = await repository.list_tasks(with_results=True)
        return [summary(task) for task in tasks]
    finally:
        await repository.close()


async def load(*task_ids: str) -> list[dict[str, Any]]:
    """The stored state of tasks in the harness's database."""
    return await stored(create_session(database_url()), *task_ids)


def describe(info: ExecutorInfo) -> dict[str, str]:
    """What the registry knows of an executor."""
    return {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "source": info.source,
    }


def run(executor: str | ExecutableTask | type[ExecutableTask], *inputs: Mapping[str, Any]) -> Any:
    """Register ``executor`` (or look up a registered id), run one task per inputs, report."""
    return asyncio.run(_run(executor, inputs))


async def _run(
    executor: str | ExecutableTask | type[ExecutableTask], inputs: tuple[Mapping[str, Any], ...]
) -> dict[str, Any]:
    registry = get_registry()
    if isinstance(executor, str):
        info = registry.get(executor)
        if info is None:
            raise LookupError(f"no executor {executor!r} is registered")
    else:
        info = registry.register(executor, override=True)
    manager = TaskManager(create_session(database_url()))
    try:
        runs = [await _run_one(manager, info.id, item) for item in inputs]
    finally:
        await manager.close()
    ran = iter(await load(*(run for run in runs if isinstance(run, str))))
    return {
        "executor": describe(info),
        "tasks": [next(ran) if isinstance(run, str) else run for run in runs],
    }


async def _run_one(
    manager: TaskManager, executor_id: str, inputs: Mapping[str, Any]
) -> str | dict[str, Any]:
    """Run one task; its id, or (refused before anything ran) what the refusal says."""
    repository = manager.task_repository
    try:
        task = await repository.create_task(
            name=executor_id, user_id="guide", inputs=inputs, key="guide"
        )
    except DefinitionError as exc:
        error = str(exc).removeprefix("task 'guide': ")
        return {
            "status": "refused",
            "result": None,
            "error": error,
            "error_type": "DefinitionError",
        }
    await manager.distribute_task_tree(TaskTreeNode(task))
    return task.id


def trim_headers(outcome: dict[str, Any]) -> dict[str, Any]:
    """Keep only the Content-Type of the response headers an APICallTask returned."""
    for task in outcome["tasks"]:
        result = task["result"] or {}
        if "headers" in result:
            result["headers"] = {"Content-Type": result["headers"]["Content-Type"]}
    return outcome


class SqliteConnection:
    """A ``db_connection`` for the guide's DatabaseQueryTask: ``await fetch(query, params)``."""

    def __init__(self, path: str, script: str) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.executescript(script)

    async def fetch(self, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        async with aiosqlite.connect(self.path) as conn:
            conn.row_factory = aiosqlite.Row
            async with conn.execute(query, params) as cursor:
                return [dict(row) for row in await cursor.fetchall()]


def report(value: Any) -> None:
    """Print the one line the test reads."""
    print(REPORT_PREFIX + json.dumps(value, sort_keys=True))


def run_with_top_level_await(path: str) -> None:
    """Run a script as ``__main__``, allowing ``await`` at its top level."""
    code = compile(Path(path).read_text(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    outcome = eval(code, {"__name__": "__main__", "__file__": path})
    if inspect.iscoroutine(outcome):
        asyncio.run(outcome)


if __name__ == "__main__":
    run_with_top_level_await(sys.argv[1])
