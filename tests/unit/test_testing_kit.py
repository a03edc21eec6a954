"""The executor author's kit (taskflow.testing): run_executor, check_executor, the fixture."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from taskflow import (
    BaseTask,
    DefinitionError,
    TaskCtl,
    TaskManager,
    TaskStatus,
    create_session,
    get_registry,
)
from taskflow.testing import check_executor, run_executor

pytest_plugins = ["pytester"]

OBJECT: dict[str, Any] = {"type": "object"}


class Repeat(BaseTask):
    """Repeats a word; stops early, keeping what it has, when cancelled."""

    id = "kit.repeat"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "word": {"type": "string", "description": "What to repeat."},
            "times": {"type": "integer", "default": 2, "description": "How often."},
            "pause": {"type": "number", "default": 0, "description": "Seconds between words."},
        },
        "required": ["word"],
        "additionalProperties": False,
        "examples": [{"word": "hi"}, {"word": "yo", "times": 3}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The words, space-separated."}},
        "required": ["text"],
        "additionalProperties": False,
    }

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.words: list[str] = []

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        for _ in range(inputs["times"]):
            if self.stop.is_set():
                break
            self.words.append(inputs["word"])
            await asyncio.sleep(inputs["pause"])
        return {"text": " ".join(self.words)}

    async def cancel(self) -> dict[str, Any]:
        self.stop.set()
        return {"partial": " ".join(self.words)}


LONG_RUN = {"word": "zzz", "times": 10_000, "pause": 0.01}


class Steps(BaseTask):
    """An async generator executor: reports progress, then succeeds."""

    id = "kit.steps"
    input_schema: ClassVar[Mapping[str, Any]] = {"type": "object", "examples": [{}]}
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {"steps": {"type": "integer", "description": "Steps done."}},
        "required": ["steps"],
    }

    async def execute(self, inputs: dict[str, Any]):  # type: ignore[override]
        yield TaskCtl.report_progress("half way", 50)
        yield TaskCtl.success("done", data={"steps": 2})


# -- run_executor ---------------------------------------------------------------------------


async def test_run_executor_runs_one_task_with_defaults_filled_in() -> None:
    task = await run_executor(Repeat, {"word": "ho"})
    assert (task.status, task.result, task.executor) == (
        TaskStatus.COMPLETED,
        {"text": "ho ho"},
        "kit.repeat",
    )
    assert task.tree_id == task.id  # the task is the whole tree
    assert "kit.repeat" not in get_registry()  # the process-wide registry was left alone


async def test_run_executor_raises_for_invalid_inputs_as_the_engine_does() -> None:
    with pytest.raises(DefinitionError, match=r"task 'task': inputs\.word: 3 is not of type"):
        await run_executor(Repeat, {"word": 3})


async def test_run_executor_returns_a_failed_run() -> None:
    task = await run_executor(_without_cancel(execute=_unlucky), {"word": "x"})
    assert (task.status, task.error_type, task.error) == (
        TaskStatus.FAILED,
        "ValueError",
        "no luck",
    )


async def test_run_executor_passes_task_options() -> None:
    task = await run_executor(Repeat, LONG_RUN, timeout=0.2)
    assert (task.status, task.error_type) == (TaskStatus.FAILED, "TaskTimeout")


async def test_run_executor_accepts_a_configured_instance() -> None:
    instance = Repeat()
    instance.words.append("already")
    task = await run_executor(instance, {"word": "there", "times": 1})
    assert task.result == {"text": "already there"}


@pytest.fixture
async def task_manager(tmp_path: Path) -> AsyncIterator[TaskManager]:
    """Like the kit's fixture (tested below through a plugin user), for the tests here."""
    manager = TaskManager(create_session(f"sqlite:///{tmp_path / 'taskflow.db'}"))
    yield manager
    await manager.close()


async def test_run_executor_on_a_manager_registers_only_for_the_call(
    task_manager: TaskManager,
) -> None:
    class Impostor(BaseTask):
        """Takes the id of a built-in for one run."""

        id = "noop"

        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            return {"impostor": True}

    builtin = get_registry().get("noop")
    assert builtin is not None
    task = await run_executor(Impostor, {}, manager=task_manager)
    assert task.result == {"impostor": True}
    restored = get_registry().get("noop")
    assert restored is not None and (restored.cls, restored.source) == (builtin.cls, "built-in")
    task = await run_executor(Repeat, {"word": "a"}, manager=task_manager)
    assert task.result == {"text": "a a"} and "kit.repeat" not in get_registry()


# -- check_executor: executors that pass ----------------------------------------------------


async def test_check_executor_passes_a_good_executor_with_cancel() -> None:
    await check_executor(Repeat, cancel_inputs=LONG_RUN, cancel_within=2.0)


async def test_check_executor_passes_an_async_generator_executor() -> None:
    await check_executor(Steps)


async def test_check_executor_runs_the_examples_it_is_given() -> None:
    seen: list[str] = []

    class Recording(Repeat):
        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            seen.append(inputs["word"])
            return await super().execute(inputs)

    await check_executor(Recording, examples=[{"word": "mine"}], cancel_inputs=LONG_RUN)
    assert seen[0] == "mine" and "hi" not in seen


# -- check_executor: executors that fail ----------------------------------------------------


def _variant(base: type[BaseTask], **attributes: Any) -> type[BaseTask]:
    return type("Variant", (base,), {"__doc__": base.__doc__, **attributes})


def _without_cancel(**attributes: Any) -> type[BaseTask]:
    return _variant(Repeat, cancel=None, **attributes)


def _schema(**changes: Any) -> dict[str, Any]:
    return {**Repeat.input_schema, **changes}


async def _unlucky(self: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("no luck")


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        (_without_cancel(id="9lives"), "cannot be registered: .*must start with a letter"),
        (_without_cancel(id="noop"), "'noop' is already taken by taskflow.executors.builtin.Noop"),
        (
            _without_cancel(output_schema={"type": "object", "properties": {"x": {"type": 5}}}),
            "output schema.*not valid",
        ),
        (_without_cancel(output_schema=None), "declares no output schema"),
        (
            _without_cancel(
                input_schema=_schema(properties={"word": {"type": "string"}, "times": {}})
            ),
            "input schema properties without a description: times, word",
        ),
        (
            _without_cancel(description="", __doc__=None),
            "has no description",
        ),
        (
            _without_cancel(execute=lambda self, inputs: {"text": ""}),
            "execute must be 'async def'",
        ),
        (_without_cancel(input_schema=_schema(examples=[])), "nothing to run"),
        (
            _without_cancel(input_schema=_schema(examples=[{"word": "ok"}, {"times": 1}])),
            "example #1 is not valid: inputs: 'word' is a required property",
        ),
        (_without_cancel(execute=_unlucky), r"example #0 .*ended failed: ValueError: no luck"),
        (
            _without_cancel(
                output_schema={
                    "type": "object",
                    "properties": {"text": {"type": "integer", "description": "Oops."}},
                }
            ),
            r"result does not match the output schema at result.text: 'hi hi' is not of type",
        ),
    ],
    ids=[
        "malformed-id",
        "id-taken",
        "invalid-output-schema",
        "no-output-schema",
        "undocumented-property",
        "no-description",
        "sync-execute",
        "no-examples",
        "invalid-example",
        "example-fails",
        "result-mismatch",
    ],
)
async def test_check_executor_catches(executor: type[BaseTask], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        await check_executor(executor)


async def test_check_executor_catches_a_cancel_that_does_not_stop_the_run() -> None:
    class Deaf(Repeat):
        async def cancel(self) -> dict[str, Any]:
            return {"ignored": True}

    with pytest.raises(AssertionError, match=r"did not stop by itself within 0.3 s.*by force"):
        await check_executor(Deaf, cancel_inputs=LONG_RUN, cancel_within=0.3)


async def test_check_executor_catches_a_cancel_that_makes_the_run_fail() -> None:
    class Crashing(Repeat):
        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            result = await super().execute(inputs)
            if self.stop.is_set():
                raise RuntimeError("torn down mid-way")
            return result

    with pytest.raises(
        AssertionError, match="raised instead of stopping cleanly when cancelled: RuntimeError"
    ):
        await check_executor(Crashing, cancel_inputs=LONG_RUN)


async def test_check_executor_checks_the_examples_it_is_given() -> None:
    with pytest.raises(AssertionError, match=r"example #0 is not valid: inputs\.word"):
        await check_executor(Repeat, examples=[{"word": 1}])


async def test_check_executor_wants_a_run_long_enough_to_cancel() -> None:
    with pytest.raises(AssertionError, match="finished before it could be cancelled"):
        await check_executor(Repeat)


async def test_check_executor_leaves_a_configured_instance_as_it_was() -> None:
    instance = Repeat()
    await check_executor(instance, cancel_inputs=LONG_RUN, cancel_within=2.0)
    assert "execute" not in vars(instance)


# -- the task_manager fixture, as a plugin user sees it --------------------------------------


@pytest.fixture
def plugin_user(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["taskflow.testing"]')
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    return pytester


def test_task_manager_fixture_gives_a_manager_on_a_temporary_sqlite_file(
    plugin_user: pytest.Pytester,
) -> None:
    plugin_user.makepyfile(
        test_uses_fixture=textwrap.dedent(
            """
            import pytest
            from taskflow import TaskStatus, create_session

            left_running = {}

            @pytest.mark.asyncio
            async def test_runs_a_tree(task_manager, tmp_path):
                assert str(tmp_path) in task_manager.task_repository.url
                tree = await task_manager.run_tree({"name": "noop", "inputs": {"a": 1}})
                assert (tree.task.status, tree.task.result) == (TaskStatus.COMPLETED, {"a": 1})

            @pytest.mark.asyncio
            async def test_leaves_a_tree_running(task_manager):
                tree = await task_manager.create_tree({"name": "sleep", "inputs": {"seconds": 60}})
                await task_manager.start(tree)
                left_running.update(url=task_manager.task_repository.url, id=tree.task.id)

            @pytest.mark.asyncio
            async def test_the_manager_was_closed_after_the_test():
                repository = create_session(left_running["url"])
                task = await repository.require_task(left_running["id"])
                await repository.close()
                assert task.status is TaskStatus.PENDING  # stopped, and left resumable
            """
        )
    )
    result = plugin_user.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
