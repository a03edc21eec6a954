"""The executor registry: ids to executors, filled by the decorator, by hand, and by plugins.

Executor packages declare an entry point in the ``taskflow.executors`` group that names an
executor class, an instance, or a module whose import registers executors. Plugins are
loaded the first time the registry is asked for something it does not know; a plugin that
fails to load is logged and reported in `ExecutorRegistry.plugin_errors` with its package
name, and the others load anyway.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import inspect
import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any, TypeVar, cast

from taskflow.edges import edge_problems
from taskflow.exceptions import (
    DefinitionError,
    DefinitionErrors,
    DependencyCycle,
    InputValidationError,
    RegistryError,
)
from taskflow.executors.base import ExecutableTask
from taskflow.executors.models import ModelBinding, bind_models
from taskflow.models import Task
from taskflow.references import needs_resolution
from taskflow.treecheck import tree_problems
from taskflow.validation import InputValidator, OutputValidator, SchemaError, check_schema

logger = logging.getLogger("taskflow.registry")

ENTRY_POINT_GROUP = "taskflow.executors"
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_loading_source: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "taskflow_source", default=None
)

E = TypeVar("E", bound=type[ExecutableTask])


@dataclasses.dataclass(frozen=True, slots=True)
class ExecutorInfo:
    """A registered executor: what it is, where it comes from, and how to get an instance.

    Attributes:
        id: The id tasks use.
        name: Display name.
        description: What it does.
        input_schema: JSON Schema of its inputs.
        output_schema: JSON Schema of its result, if declared.
        source: ``"built-in"``, ``"package NAME VERSION"``, or the defining module.
        cls: The executor class.
        instance: The shared instance, for executors registered as instances.
        validator: The compiled input schema.
        models: The pydantic models it declares as schemas (``None``: JSON Schema only).
        output_validator: The compiled output schema that results are checked against
            (``None``: no schema, or the executor sets ``check_output = False``).
    """

    id: str
    name: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    source: str
    cls: type[ExecutableTask]
    instance: ExecutableTask | None
    validator: InputValidator
    models: ModelBinding | None = None
    output_validator: OutputValidator | None = None

    @property
    def max_concurrency(self) -> int | None:
        """The executor's own limit on simultaneous tasks."""
        return self.cls.max_concurrency

    @property
    def rerun_safe(self) -> bool:
        """Whether an interrupted run may be repeated on resume."""
        return self.cls.rerun_safe

    @property
    def checks_inputs(self) -> bool:
        """Whether the executor checks inputs beyond its schema (`ExecutableTask.check_inputs`)."""
        return self.cls.check_inputs is not ExecutableTask.check_inputs

    def create(self) -> ExecutableTask:
        """The instance that runs one task: the shared one, or a fresh one of the class.

        Raises:
            TypeError: the class does not implement ``execute``.
        """
        if self.instance is not None:
            return self.instance
        if inspect.isabstract(self.cls):
            raise TypeError(
                f"executor {self.id!r} ({self.cls.__qualname__}) does not implement execute()"
            )
        return self.cls()


def _describe(
    executor: ExecutableTask,
    cls: type[ExecutableTask],
    source: str,
    instance: ExecutableTask | None,
) -> ExecutorInfo:
    executor_id = executor.id
    if not isinstance(executor_id, str) or not ID_PATTERN.match(executor_id):
        raise RegistryError(
            f"{cls.__qualname__}: executor id {executor_id!r} must start with a letter and use "
            "only "
            "letters, digits, '_', '-' and '.'"
        )
    models = bind_models(executor, executor_id)
    schema = executor.get_input_schema()
    output = executor.get_output_schema()
    for label, value in (("input", schema), ("output", output)):
        if value is None and label == "output":
            continue
        try:
            check_schema(value)  # type: ignore[arg-type]
        except SchemaError as exc:
            raise RegistryError(
                f"executor {executor_id!r}: invalid {label} schema: {exc.message}"
            ) from exc
    return ExecutorInfo(
        id=executor_id,
        name=executor.name,
        description=executor.description,
        input_schema=schema,
        output_schema=output,
        source=source,
        cls=cls,
        instance=instance,
        validator=InputValidator(schema),
        models=models,
        output_validator=(
            OutputValidator(output, executor=executor_id)
            if output is not None and getattr(executor, "check_output", True)
            else None
        ),
    )


def _prototype(cls: type[ExecutableTask]) -> ExecutableTask:
    """An instance of ``cls`` to read its id and schemas from.

    A `BaseTask` subclass that does not implement ``execute`` yet (a class sketched with
    ``# ... rest of implementation``) is registered with a warning; its tasks fail with a
    clear error when run. Any other abstract class is refused.
    """
    if not inspect.isabstract(cls):
        return cls()
    missing = ", ".join(sorted(cls.__abstractmethods__))
    from taskflow.executors.base import BaseTask

    if issubclass(cls, BaseTask) and set(cls.__abstractmethods__) == {"execute"}:
        logger.warning(
            "executor %s does not implement execute(); its tasks will fail", cls.__qualname__
        )

        async def not_implemented(self: ExecutableTask, inputs: dict[str, Any]) -> dict[str, Any]:
            raise NotImplementedError

        readable = type(cls.__name__, (cls,), {"execute": not_implemented})
        return cast(ExecutableTask, readable())  # only its class attributes are read
    raise RegistryError(f"{cls.__qualname__} cannot be registered: it does not implement {missing}")


class ExecutorRegistry:
    """Maps executor ids to `ExecutorInfo`."""

    def __init__(self, *, discover_plugins: bool = True) -> None:
        self._executors: dict[str, ExecutorInfo] = {}
        self._plugins_loaded = not discover_plugins
        self.plugin_errors: dict[str, str] = {}

    def register(
        self,
        executor: ExecutableTask | type[ExecutableTask],
        *,
        override: bool = False,
        source: str | None = None,
    ) -> ExecutorInfo:
        """Register an executor class (a fresh instance per task) or a configured instance.

        Raises:
            RegistryError: the id is malformed, a schema is invalid, the class is abstract, or
                the id is taken by another executor and ``override`` is false.
        """
        if isinstance(executor, type):
            cls, prototype, instance = executor, _prototype(executor), None
        else:
            cls, prototype, instance = type(executor), executor, executor
        where = source or _loading_source.get() or cls.__module__
        info = _describe(prototype, cls, where, instance)
        existing = self._executors.get(info.id)
        if existing is not None and not override and existing.cls is not info.cls:
            raise RegistryError(
                f"executor id {info.id!r} is already registered by {existing.cls.__module__}."
                f"{existing.cls.__qualname__} ({existing.source}); {info.cls.__module__}."
                f"{info.cls.__qualname__} ({info.source}) cannot take it "
                "(pass override=True to replace it)"
            )
        self._executors[info.id] = info
        return info

    def unregister(self, executor_id: str) -> None:
        """Forget an executor (tests use this to clean up)."""
        self._executors.pop(executor_id, None)

    def get(self, executor_id: str) -> ExecutorInfo | None:
        """The executor registered under ``executor_id``, loading plugins if needed."""
        info = self._executors.get(executor_id)
        if info is None and not self._plugins_loaded:
            self.load_plugins()
            info = self._executors.get(executor_id)
        return info

    def ids(self) -> frozenset[str]:
        """Every registered id, plugins included."""
        self.load_plugins()
        return frozenset(self._executors)

    def __iter__(self) -> Iterator[ExecutorInfo]:
        self.load_plugins()
        return iter(sorted(self._executors.values(), key=lambda info: info.id))

    def __contains__(self, executor_id: object) -> bool:
        return isinstance(executor_id, str) and self.get(executor_id) is not None

    def load_plugins(self) -> None:
        """Import every ``taskflow.executors`` entry point once; report failures, do not raise."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            self._load_entry_point(entry_point)

    def _load_entry_point(self, entry_point: metadata.EntryPoint) -> None:
        dist = entry_point.dist
        package = f"{dist.name} {dist.version}" if dist is not None else entry_point.value
        token = _loading_source.set(f"package {package}")
        try:
            loaded = entry_point.load()
            if isinstance(loaded, ExecutableTask) or (
                isinstance(loaded, type)
                and issubclass(loaded, ExecutableTask)
                and loaded not in self._classes()
            ):
                self.register(loaded)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self.plugin_errors[package] = message
            logger.error(
                "executor plugin %s (%s) failed to load: %s", package, entry_point.value, message
            )
        finally:
            _loading_source.reset(token)

    def _classes(self) -> set[type[ExecutableTask]]:
        return {info.cls for info in self._executors.values()}


_registry = ExecutorRegistry()


def get_registry() -> ExecutorRegistry:
    """The process-wide registry that `executor_register` fills and `TaskManager` reads."""
    return _registry


def executor_register(
    executor_id: str | None = None,
    *,
    override: bool = False,
    registry: ExecutorRegistry | None = None,
) -> Callable[[E], E]:
    """Class decorator: register the executor when the class is defined.

    Args:
        executor_id: Register under this id instead of the class's own ``id``.
        override: Replace an executor already registered under the id.
        registry: Register there instead of the process-wide registry.
    """

    def decorate(cls: E) -> E:
        if executor_id is not None:
            cls = type(cls.__name__, (cls,), {"id": executor_id, "__module__": cls.__module__})  # type: ignore[assignment]
        (registry or _registry).register(cls, override=override)
        return cls

    return decorate


@contextlib.contextmanager
def registered(
    *executors: ExecutableTask | type[ExecutableTask], registry: ExecutorRegistry | None = None
) -> Iterator[None]:
    """Register executors for the duration of a ``with`` block (handy in tests)."""
    target = registry or _registry
    ids = [target.register(executor, override=True).id for executor in executors]
    try:
        yield
    finally:
        for executor_id in ids:
            target.unregister(executor_id)


def check_literal_inputs(tasks: Iterable[Task], registry: ExecutorRegistry) -> None:
    """Validate every task's inputs that hold no reference against its executor's schema.

    They are also given to the executor's `ExecutableTask.check_inputs` (its settings, e.g.
    an allowlist). Inputs with ``${...}`` references are checked just before the task runs
    instead, once the references are resolved.

    Raises:
        DefinitionError: naming the task, the field path and the rule (`DefinitionErrors`
            with each of them when several tasks have bad inputs).
    """
    DefinitionErrors.raise_if(input_problems(tasks, registry))


def input_problems(tasks: Iterable[Task], registry: ExecutorRegistry) -> list[DefinitionError]:
    """Every problem `check_literal_inputs` would raise, in task order."""
    problems: list[DefinitionError] = []
    for task in tasks:
        info = registry.get(task.executor) if task.executor is not None else None
        if info is None or needs_resolution(task.inputs):
            continue
        try:
            checked = info.validator.validate(task.inputs, task_id=task.id)
            if info.checks_inputs:
                info.create().check_inputs(checked)
        except InputValidationError as exc:
            problem = DefinitionError(str(exc), task=task.key)
            problem.__cause__ = exc
            problems.append(problem)
    return problems


def check_tasks(
    tasks: Sequence[Task], registry: ExecutorRegistry, *, new: Collection[str] | None = None
) -> None:
    """Every check a tree must pass before it is written: the one validation path for trees
    (``create_tree``, ``run_tree``, ``taskflow validate``) and single tasks (``create_task``).

    The graph (`taskflow.check_tree`), literal inputs (`check_literal_inputs`), then the
    references against the schemas at both ends of their edges (`taskflow.edges`).

    Args:
        tasks: Every task of the tree.
        registry: Where executor ids are looked up.
        new: The ids of the tasks being added (default: all); only their literal inputs and
            references are checked again.

    Raises:
        DefinitionError: naming the task (and the field, for inputs);
            `IncompatibleReference` for a reference its producer's output schema cannot
            satisfy.
    """
    problems = tree_problems(tasks, executors=registry)
    if not any(isinstance(p, DependencyCycle) for p in problems):  # a sound graph to follow
        problems += edge_problems(tasks, registry.get, consumers=new)
    problems += input_problems([t for t in tasks if new is None or t.id in new], registry)
    order = {task.key: index for index, task in enumerate(tasks)}
    problems.sort(key=lambda problem: order.get(problem.task or "", -1))
    DefinitionErrors.raise_if(problems)
