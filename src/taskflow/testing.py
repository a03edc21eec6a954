"""The executor author's kit: a pytest plugin and helpers for testing an executor.

Opt in from the ``conftest.py`` of your tests (pytest-asyncio must be installed)::

    pytest_plugins = ["taskflow.testing"]

It provides the `task_manager` fixture (a `TaskManager` on a temporary SQLite file), and::

    from taskflow.testing import check_executor, run_executor

    async def test_contract() -> None:
        await check_executor(WordCount)  # id, schemas, examples, results, cancel()

    async def test_counts_words(task_manager) -> None:
        task = await run_executor(WordCount, {"text": "a b c"}, manager=task_manager)
        assert task.result == {"words": 3}
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest_asyncio
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from taskflow.backends import FORCED_STOP
from taskflow.engine import EngineSettings
from taskflow.exceptions import InputValidationError, RegistryError
from taskflow.executors import ExecutableTask, ExecutorInfo, ExecutorRegistry, get_registry
from taskflow.models import ErrorType, Task, TaskStatus
from taskflow.runtime import TaskManager, create_session

__all__ = ["check_executor", "run_executor", "task_manager"]

Executor = ExecutableTask | type[ExecutableTask]
TASK_KEY = "task"
CANCEL_WITHIN_SECONDS = 5.0


@pytest_asyncio.fixture
async def task_manager(tmp_path: Path) -> AsyncIterator[TaskManager]:
    """A `TaskManager` on a SQLite file in the test's temporary directory, closed after.

    It looks executors up in the process-wide registry, so executors installed as packages
    (entry points) and registered ones are known to it.
    """
    manager = TaskManager(create_session(f"sqlite:///{tmp_path / 'taskflow.db'}"))
    try:
        yield manager
    finally:
        await manager.close()


async def run_executor(
    executor: Executor,
    inputs: Mapping[str, Any],
    *,
    manager: TaskManager | None = None,
    **task_options: Any,
) -> Task:
    """Run one task of ``executor`` with ``inputs`` and return it, finished.

    The task is the whole tree (a one-task tree), run by a real `TaskManager`: inputs are
    validated against the executor's schema with defaults filled in, the result is judged and
    stored, and the returned `Task` carries ``status``, ``result``, ``error`` and
    ``error_type`` as a user would see them. A failing run is returned, not raised.

    Args:
        executor: An executor class (a fresh instance runs the task) or a configured instance.
        inputs: The task's inputs.
        manager: Run on this manager (e.g. the `task_manager` fixture), whose registry holds
            the executor for the duration of the call only; by default a scratch manager on a
            temporary SQLite file is used, and the process-wide registry is left alone.
        **task_options: More fields of the task definition: ``timeout``, ``soft_timeout``,
            ``retry``, ``params``, ``priority``...

    Returns:
        The task in its final state.

    Raises:
        DefinitionError: the task cannot be created, e.g. its inputs do not match the
            executor's schema (the engine checks them when a tree is created).
    """
    if manager is None:
        async with _scratch_manager(executor) as scratch:
            return await _run_one(scratch, _describe(executor).id, inputs, task_options)
    with _registered_for_now(manager.registry, executor) as info:
        return await _run_one(manager, info.id, inputs, task_options)


async def check_executor(
    executor: Executor,
    *,
    examples: Sequence[Mapping[str, Any]] | None = None,
    cancel_inputs: Mapping[str, Any] | None = None,
    cancel_within: float = CANCEL_WITHIN_SECONDS,
) -> None:
    """Check that ``executor`` honours the executor contract; raise `AssertionError` if not.

    The checks, in order:

    1. its id is well-formed and not registered by a different class;
    2. its input and output schemas are valid JSON Schema (Draft 2020-12), it has a
       description, and every top-level property of both schemas has a ``description``;
    3. ``execute`` is a coroutine function or an async generator function;
    4. every example is valid against the input schema, and running it completes with a result
       (JSON-serialisable, as stored) that is valid against the output schema;
    5. if it has ``cancel()``: a run of ``cancel_inputs`` (default: the first example) that is
       cancelled ends ``cancelled`` within ``cancel_within`` seconds, by itself — not stopped
       by force after the grace period.

    Args:
        executor: An executor class or a configured instance.
        examples: Inputs to run instead of the input schema's ``examples`` (for instance
            pointing at a server the test started); the schema's own examples are still
            checked against the schema.
        cancel_inputs: Inputs for the cancellation check; they must keep the executor busy for
            much longer than ``cancel_within``.
        cancel_within: How quickly a cancelled run must end, in seconds.

    Raises:
        AssertionError: a check failed; the message says which, and why.
    """
    info = _describe(executor)  # registering checks the id and that the schemas are valid
    _check_id_is_free(info)
    _check_documented(info)
    _check_async(info.cls)
    to_run = _examples_to_run(info, examples)
    async with _scratch_manager(executor) as manager:
        for index, example in enumerate(to_run):
            task = await _run_one(manager, info.id, example, {})
            _check_result(info, task, f"example #{index} {dict(example)!r}")
    if callable(getattr(info.cls, "cancel", None)):
        await _check_cancel(executor, info, cancel_inputs or to_run[0], cancel_within)


# -- running --------------------------------------------------------------------------------


def _definition(
    executor_id: str, inputs: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "key": TASK_KEY,
        "name": executor_id,
        "executor": executor_id,
        "inputs": dict(inputs),
        **options,
    }


async def _run_one(
    manager: TaskManager, executor_id: str, inputs: Mapping[str, Any], options: Mapping[str, Any]
) -> Task:
    tree = await manager.run_tree(_definition(executor_id, inputs, options))
    return tree.task


@contextlib.asynccontextmanager
async def _scratch_manager(
    executor: Executor, settings: EngineSettings | None = None
) -> AsyncIterator[TaskManager]:
    """A manager on a temporary SQLite file whose private registry holds only ``executor``."""
    registry = ExecutorRegistry(discover_plugins=False)
    _register(registry, executor)
    with tempfile.TemporaryDirectory(prefix="taskflow-kit-") as directory:
        url = f"sqlite:///{Path(directory) / 'taskflow.db'}"
        manager = TaskManager(create_session(url), registry=registry, settings=settings)
        try:
            yield manager
        finally:
            await manager.close()


@contextlib.contextmanager
def _registered_for_now(registry: ExecutorRegistry, executor: Executor) -> Iterator[ExecutorInfo]:
    """Register ``executor`` in ``registry``; afterwards put back what had its id before."""
    executor_id = _describe(executor).id
    previous = registry.get(executor_id)
    info = _register(registry, executor, override=True)
    try:
        yield info
    finally:
        if previous is None:
            registry.unregister(executor_id)
        else:
            registry.register(
                previous.instance or previous.cls, override=True, source=previous.source
            )


def _register(
    registry: ExecutorRegistry, executor: Executor, *, override: bool = False
) -> ExecutorInfo:
    try:
        return registry.register(executor, override=override)
    except RegistryError as exc:
        raise AssertionError(f"the executor cannot be registered: {exc}") from exc


def _describe(executor: Executor) -> ExecutorInfo:
    """The executor as a registry sees it (id, schemas, class), without registering it."""
    return _register(ExecutorRegistry(discover_plugins=False), executor)


# -- static checks ----------------------------------------------------------------------------


def _check_id_is_free(info: ExecutorInfo) -> None:
    taken = get_registry().get(info.id)
    if taken is not None and taken.cls is not info.cls:
        raise AssertionError(
            f"executor id {info.id!r} is already taken by {taken.cls.__module__}."
            f"{taken.cls.__qualname__} ({taken.source}); pick another id for "
            f"{info.cls.__module__}.{info.cls.__qualname__}"
        )


def _check_documented(info: ExecutorInfo) -> None:
    who = f"executor {info.id!r}"
    if not info.description.strip():
        raise AssertionError(f"{who} has no description (set description or a docstring)")
    if info.output_schema is None:
        raise AssertionError(
            f"{who} declares no output schema (set output_schema or get_output_schema())"
        )
    for label, schema in (("input", info.input_schema), ("output", info.output_schema)):
        undocumented = sorted(
            name
            for name, sub in (schema.get("properties") or {}).items()
            if not (isinstance(sub, Mapping) and sub.get("description"))
        )
        if undocumented:
            raise AssertionError(
                f"{who}: {label} schema properties without a description: "
                + ", ".join(undocumented)
            )


def _check_async(cls: type[ExecutableTask]) -> None:
    execute = cls.execute
    if not (inspect.iscoroutinefunction(execute) or inspect.isasyncgenfunction(execute)):
        raise AssertionError(
            f"{cls.__qualname__}.execute must be 'async def' (a coroutine function or an async "
            "generator function)"
        )


def _examples_to_run(
    info: ExecutorInfo, examples: Sequence[Mapping[str, Any]] | None
) -> list[Mapping[str, Any]]:
    own = info.input_schema.get("examples", [])
    if not isinstance(own, list):
        raise AssertionError(f"executor {info.id!r}: the input schema's examples must be a list")
    _check_valid_inputs(info, own, "input schema example")
    if examples is None:
        examples = own
    else:
        _check_valid_inputs(info, examples, "example")
    if not examples:
        raise AssertionError(
            f"executor {info.id!r}: nothing to run; add 'examples' to the input schema "
            "or pass examples="
        )
    return list(examples)


def _check_valid_inputs(
    info: ExecutorInfo, examples: Sequence[Mapping[str, Any]], label: str
) -> None:
    for index, example in enumerate(examples):
        try:
            info.validator.validate(example)
        except InputValidationError as exc:
            raise AssertionError(
                f"executor {info.id!r}: {label} #{index} is not valid: {exc}"
            ) from exc


def _check_result(info: ExecutorInfo, task: Task, label: str) -> None:
    who = f"executor {info.id!r}, {label}"
    if task.error_type == ErrorType.OUTPUT_VALIDATION:  # the engine checked it against the schema
        raise AssertionError(f"{who}: the result does not match the output schema at {task.error}")
    if task.status is not TaskStatus.COMPLETED:
        raise AssertionError(f"{who}: ended {task.status.value}: {task.error_type}: {task.error}")
    assert info.output_schema is not None  # _check_documented made sure
    error = best_match(Draft202012Validator(info.output_schema).iter_errors(task.result))
    if error is not None:
        where = "result" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        raise AssertionError(
            f"{who}: the result does not match the output schema at {where}: {error.message}"
        )


# -- cancellation -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Probe:
    """Events telling when a run's ``execute`` starts, and when it returns by itself."""

    started: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    returned: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@contextlib.contextmanager
def _probed(executor: Executor) -> Iterator[tuple[ExecutableTask, _Probe]]:
    """An instance to register whose ``execute`` reports to a `_Probe` (restored afterwards)."""
    instance = executor() if isinstance(executor, type) else executor
    probe = _Probe()
    execute: Callable[..., Any] = instance.execute
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(execute):

        async def wrapped_generator(inputs: dict[str, Any]) -> AsyncIterator[Any]:
            probe.started.set()
            async for signal in execute(inputs):
                yield signal
            probe.returned.set()

        wrapper = wrapped_generator
    else:

        async def wrapped(inputs: dict[str, Any]) -> Any:
            probe.started.set()
            result = await execute(inputs)
            probe.returned.set()
            return result

        wrapper = wrapped
    vars(instance)["execute"] = wrapper  # shadows the method for this instance only
    try:
        yield instance, probe
    finally:
        del vars(instance)["execute"]


async def _check_cancel(
    executor: Executor, info: ExecutorInfo, inputs: Mapping[str, Any], within: float
) -> None:
    who = f"executor {info.id!r}, cancel() on {dict(inputs)!r}"
    settings = EngineSettings(cancel_grace_seconds=within + 1.0)
    with _probed(executor) as (instance, probe):
        async with _scratch_manager(instance, settings) as manager:
            final, took = await _cancel_a_run(
                manager, info.id, inputs=inputs, probe=probe, within=within, who=who
            )
    if final.status is not TaskStatus.CANCELLED:
        raise AssertionError(
            f"{who}: the run ended {final.status.value} instead of cancelled: "
            f"{final.error_type}: {final.error}"
        )
    if final.traceback:  # a requested cancel wins, but the executor raised instead of stopping
        raised = final.traceback.strip().splitlines()[-1]
        raise AssertionError(
            f"{who}: the run raised instead of stopping cleanly when cancelled: {raised}"
        )
    if FORCED_STOP in (final.error or "") or took > within:
        raise AssertionError(
            f"{who}: the run did not stop by itself within {within:g} s of cancel() "
            f"(took {took:.2f} s; {final.error})"
        )


async def _cancel_a_run(
    manager: TaskManager,
    executor_id: str,
    *,
    inputs: Mapping[str, Any],
    probe: _Probe,
    within: float,
    who: str,
) -> tuple[Task, float]:
    """Start a run, cancel it once ``execute`` runs; return how it ended and how long it took."""
    tree = await manager.create_tree(_definition(executor_id, inputs, {}))
    tree_id = await manager.start(tree)
    try:
        await asyncio.wait_for(probe.started.wait(), within)
    except TimeoutError:
        raise AssertionError(f"{who}: the run did not start within {within:g} s") from None
    if probe.returned.is_set():
        raise AssertionError(
            f"{who}: the run finished before it could be cancelled; pass cancel_inputs= that "
            "keep the executor busy for longer"
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    await manager.cancel(tree_id, "cancelled by check_executor")
    final = await asyncio.wait_for(manager.wait(tree_id), within + 10.0)
    return final.task, loop.time() - started
