"""One bad task never takes its tree down; careless input gets a clear error (issue 9).

Every test runs on a SQLite file and on PostgreSQL, with real executors. Each reproduces a
way the engine broke before: a whole batch failing on a value PostgreSQL refuses, a task stuck
``in_progress`` after an executor raised ``SystemExit``, an executor that ignored cancellation
running to completion, inputs that gave raw ``TypeError``s.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from waiting import until

from taskflow import (
    BaseTask,
    ConfigurationError,
    DefinitionError,
    EngineSettings,
    TaskConflict,
    TaskNotFound,
    TaskStatus,
    TreeStatus,
    UnknownExecutor,
)
from taskflow.executors import registered

S = TaskStatus
ANY: dict[str, Any] = {"type": "object"}


class Returns(BaseTask):
    """Returns what its ``kind`` input names: values PostgreSQL cannot store, among others."""

    id = "test.returns"
    input_schema: ClassVar[dict[str, Any]] = ANY

    async def execute(self, inputs: dict[str, Any]) -> Any:
        kind = inputs["kind"]
        values: dict[str, Any] = {
            "nan": {"price": float("nan")},
            "inf": {"rows": [{"total": float("inf")}]},
            "nul": {"stdout": "a\x00b"},
            "surrogate": {"text": "\ud800"},
            "int-key": {"counts": {1: "one"}},
            "ok": {"fine": True},
            "big": {"blob": "x" * 1_000_000},
        }
        if kind == "log-bytes":
            self.context.log(b"raw bytes")  # type: ignore[arg-type]
            self.context.log("fields", payload=b"\x00\xff", nested={"bad": float("nan")})
            return {"logged": True}
        return values[kind]


class Raises(BaseTask):
    """Raises a BaseException that is not an Exception."""

    id = "test.raises"
    input_schema: ClassVar[dict[str, Any]] = ANY

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        kind = inputs["kind"]
        if kind == "exit":
            sys.exit(4)
        if kind == "interrupt":
            raise KeyboardInterrupt
        raise GeneratorExit


RELEASED = threading.Event()  # set when a test is over: abandoned coroutines may end then


class Swallows(BaseTask):
    """Ignores cancellation: swallows every CancelledError, and keeps going for 20 s."""

    id = "test.swallows"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        end = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < end and not RELEASED.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        return {"finished": True}


class Quiet(BaseTask):
    """Sleeps until cancelled."""

    id = "test.quiet"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        await self.context.cancel_requested.wait()
        return {}


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    RELEASED.clear()
    with registered(Returns, Raises, Swallows, Quiet):
        yield
    RELEASED.set()


def returns(key: str, kind: str) -> dict[str, Any]:
    return {"key": key, "executor": "test.returns", "inputs": {"kind": kind}}


async def test_values_the_database_cannot_store_fail_their_task_alone(make_manager: Any) -> None:
    manager = make_manager()
    kinds = ["nan", "inf", "nul", "surrogate", "int-key", "log-bytes"]
    children = [returns(kind, kind) for kind in kinds]
    children += [returns("ok", "ok"), {"key": "after", "executor": "noop", "dependencies": ["ok"]}]
    tree = await manager.run_tree({"key": "root", "children": children})
    by_key = {n.task.key: n.task for n in tree.walk()}
    expected_paths = {
        "nan": "result.price: is nan",
        "inf": "result.rows[0].total: is inf",
        "nul": "result.stdout: contains a NUL character",
        "surrogate": "result.text: contains a lone surrogate",
        "int-key": "result.counts: has the key 1",
    }
    for key, start in expected_paths.items():
        task = by_key[key]
        assert (task.status, task.error_type) == (S.FAILED, "ResultError"), key
        assert (task.error or "").startswith(start), task.error
    assert by_key["log-bytes"].status is S.COMPLETED  # logging odd values never breaks a write
    assert by_key["ok"].status is S.COMPLETED and by_key["after"].status is S.COMPLETED
    stored = {t.key: t for t in await manager.task_repository.get_tree_tasks(tree.task.id)}
    assert {k: t.status for k, t in stored.items()} == {k: t.status for k, t in by_key.items()}
    record = await manager.task_repository.require_tree(tree.task.id)
    assert (record.status, record.lease.owner) == (TreeStatus.FAILED, None)
    events = await manager.task_repository.events.read(tree.task.id, limit=10_000)
    logs = [e.data["message"] for e in events if e.type.value == "log"]
    assert "b'raw bytes'" in "\n".join(logs)


async def test_a_result_over_the_size_limit_fails_with_a_clear_error(make_manager: Any) -> None:
    manager = make_manager(max_result_bytes=500_000)
    tree = await manager.run_tree({"key": "root", "children": [returns("big", "big")]})
    task = tree.find("big").task  # type: ignore[union-attr]
    assert task.error_type == "ResultError"
    assert "over the limit of 500,000" in (task.error or "")


async def test_group_results_are_not_copied_from_their_children(make_manager: Any) -> None:
    manager = make_manager()
    nested = {"key": "g3", "children": [returns(f"big{i}", "big") for i in range(3)]}
    tree = await manager.run_tree({"key": "g1", "children": [{"key": "g2", "children": [nested]}]})
    assert all(n.task.status is S.COMPLETED for n in tree.walk())
    stored = {t.key: t for t in await manager.task_repository.get_tree_tasks(tree.task.id)}
    assert [stored[k].result for k in ("g1", "g2", "g3")] == [None, None, None]
    g3 = tree.find("g3")
    assert g3 is not None and set(g3.result or {}) == {"big0", "big1", "big2"}
    started = time.monotonic()
    listed = await manager.task_repository.list_tasks(limit=100)
    assert time.monotonic() - started < 1.0
    assert all(task.result is None for task in listed)  # a listing does not load results


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt"), ("generator", "GeneratorExit")],
)
async def test_an_executor_raising_a_base_exception_fails_alone(
    make_manager: Any, kind: str, error_type: str
) -> None:
    manager = make_manager()
    tree = await asyncio.wait_for(
        manager.run_tree(
            {
                "key": "root",
                "children": [
                    {"key": "bad", "executor": "test.raises", "inputs": {"kind": kind}},
                    {"key": "fine", "executor": "noop"},
                ],
            }
        ),
        10,
    )
    by_key = {n.task.key: n.task for n in tree.walk()}
    assert (by_key["bad"].status, by_key["bad"].error_type) == (S.FAILED, error_type)
    assert by_key["fine"].status is S.COMPLETED
    record = await manager.task_repository.require_tree(tree.task.id)
    assert (record.status, record.lease.owner) == (TreeStatus.FAILED, None)


async def test_an_executor_that_ignores_cancellation_is_abandoned_after_its_time_limit(
    make_manager: Any,
) -> None:
    manager = make_manager(cancel_grace_seconds=0.5)
    started = time.monotonic()
    tree = await asyncio.wait_for(
        manager.run_tree(
            {"key": "root", "children": [{"key": "s", "executor": "test.swallows", "timeout": 1}]}
        ),
        15,
    )
    RELEASED.set()  # the abandoned coroutine may end now (it would go on for 20 s)
    task = tree.find("s").task  # type: ignore[union-attr]
    assert (task.status, task.error_type) == (S.FAILED, "TaskTimeout")
    assert time.monotonic() - started < 6  # not the 20 s it wanted


async def test_a_cancelled_executor_that_ignores_it_is_abandoned_after_the_grace(
    make_manager: Any,
) -> None:
    manager = make_manager(cancel_grace_seconds=0.3)
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "s", "executor": "test.swallows"}]}
    )
    await until(manager.running_tasks, "the task to run")
    started = time.monotonic()
    await manager.cancel(tree_id, "stop")
    tree = await asyncio.wait_for(manager.wait(tree_id), 10)
    RELEASED.set()
    assert tree.find("s").task.status is S.CANCELLED  # type: ignore[union-attr]
    assert time.monotonic() - started < 5


async def test_a_pre_hook_that_never_returns_is_under_the_time_limit(make_manager: Any) -> None:
    manager = make_manager()

    async def hangs(task: Any, inputs: Any) -> Any:
        await asyncio.Event().wait()

    manager.register_pre_hook(hangs)
    tree = await asyncio.wait_for(
        manager.run_tree(
            {"key": "root", "children": [{"key": "a", "executor": "noop", "timeout": 0.5}]}
        ),
        10,
    )
    task = tree.find("a").task  # type: ignore[union-attr]
    assert (task.status, task.error_type) == (S.FAILED, "TaskTimeout")


async def test_times_are_the_time_of_the_change(make_manager: Any) -> None:
    manager = make_manager(poll_seconds=5)
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "q", "executor": "test.quiet"}]}
    )
    await until(manager.running_tasks, "the task to run")
    await asyncio.sleep(1.2)  # a quiet run: nothing happens for a while
    before = time.time()
    await manager.cancel(tree_id)
    tree = await manager.wait(tree_id)
    for node in tree.walk():
        assert node.task.completed_at is not None
        assert node.task.completed_at.timestamp() >= before - 0.05, node.task.key


def test_settings_that_would_busy_loop_are_refused() -> None:
    for settings in ({"lease_seconds": 0}, {"poll_seconds": -1}, {"lease_seconds": float("nan")}):
        with pytest.raises(ConfigurationError):
            EngineSettings(**settings)


async def test_the_python_api_validates_single_tasks_like_trees(manager: Any) -> None:
    repo = manager.task_repository
    with pytest.raises(DefinitionError, match="name must be a non-empty string"):
        await repo.create_task(123)
    with pytest.raises(DefinitionError, match="name must be a non-empty string"):
        await repo.create_task(None)
    for key in ("a.b", ""):
        with pytest.raises(DefinitionError, match="must be a non-empty string without dots"):
            await repo.create_task("noop", key=key)
    with pytest.raises(UnknownExecutor):
        await repo.create_task("nope.missing")
    with pytest.raises(DefinitionError, match="inputs must be a mapping, not list"):
        await repo.create_task("noop", inputs=[1, 2])
    with pytest.raises(DefinitionError, match=r"inputs\.when: a value of type object"):
        await repo.create_task("noop", inputs={"when": object()})
    with pytest.raises(DefinitionError, match=r"inputs\.price: is nan"):
        await repo.create_task("noop", inputs={"price": float("nan")})
    with pytest.raises(DefinitionError, match=r"inputs\.text: contains a NUL"):
        await repo.create_task("noop", inputs={"text": "a\x00b"})
    with pytest.raises(DefinitionError, match=r"inputs\.price: is nan"):
        await manager.create_tree(
            {"key": "r", "executor": "noop", "inputs": {"price": float("nan")}}
        )
    assert await repo.list_tasks() == []  # nothing was written


async def test_notify_refuses_what_nothing_could_take(manager: Any) -> None:
    with pytest.raises(TaskNotFound):
        await manager.notify("no-such-task", "approval", {"ok": True})
    tree = await manager.run_tree({"key": "r", "executor": "noop"})
    with pytest.raises(TaskConflict, match="completed"):
        await manager.notify(tree.task.id, "approval", None)
    pending = await manager.create_tree({"key": "p", "executor": "noop"})
    with pytest.raises(DefinitionError, match=r"data: a value of type set"):
        await manager.notify(pending.task.id, "approval", {1, 2})
    with pytest.raises(DefinitionError, match=r"data\.x: is nan"):
        await manager.notify(pending.task.id, "approval", {"x": float("nan")})


async def test_stop_all_hands_back_a_task_that_would_answer_a_cancel(make_manager: Any) -> None:
    """The built-in sleep wakes when asked to stop; stopping a manager must not make it
    complete half its sleep (it used to end completed after 0.01 s of its 5)."""
    manager = make_manager()
    tree_id = await manager.launch(
        {"key": "root", "children": [{"key": "nap", "executor": "sleep", "inputs": {"seconds": 5}}]}
    )
    await until(manager.running_tasks, "the nap to start")
    assert await manager.stop_all() == 1
    nap = next(t for t in await manager.task_repository.get_tree_tasks(tree_id) if t.key == "nap")
    assert (nap.status, [a.status for a in nap.attempts]) == (S.PENDING, ["stopped"])
