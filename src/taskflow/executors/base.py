"""The executor interface: `ExecutableTask`, and `BaseTask` for declaring one with attributes."""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from taskflow.executors import models as pydantic_models
from taskflow.executors.context import ExecutionContext, current_context
from taskflow.executors.trust import SafetySetting
from taskflow.models import RetryPolicy

if TYPE_CHECKING:
    from pydantic import BaseModel

ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class ExecutableTask(abc.ABC):
    """One kind of work, run once per task with that task's inputs.

    Implement `execute`; override `id`, `name`, `description` and `get_input_schema` to
    describe the executor (their defaults are derived from the class name and docstring,
    and accept any object as inputs). Optionally implement ``async def cancel(self) -> dict``:
    it is called when a running task is cancelled, and what it returns is kept as the
    task's partial result. Executors that can touch the world beyond their inputs override
    `check_inputs` (refuse what the settings forbid) and `safety` (declare those settings).

    A registered *class* gets a fresh instance per task, so instance attributes are per run.
    A registered *instance* is shared by all tasks: keep run state in `context`.

    Class attributes:
        max_concurrency: At most this many tasks of this executor run at once (``None``: no limit).
        rerun_safe: Whether a run interrupted by a crash may be run again on resume; when
            false, such a task fails with ``error_type="NotRerunSafe"`` instead.
        timeout: Default hard time limit of one attempt, in seconds (a task's own wins).
        retry_policy: Default `RetryPolicy` (a task's own wins).
        input_model: A pydantic model to use as the input schema instead of JSON Schema:
            `execute` then receives an instance of it (see `taskflow.executors.models`).
        output_model: A pydantic model to use as the output schema.
        inputs_as_dict: With ``input_model``, hand `execute` the validated values as a dict
            instead of the model instance.
        check_output: Whether a result is validated against the output schema when the
            outcome is judged (a violation fails the task with
            ``error_type="OutputValidationError"``). Set it to false for an executor whose
            results are checked elsewhere (by its own tests with `taskflow.testing`, say) or
            are too large to check on every run; references to its results are still
            checked against the schema before a tree runs.
        queue: The queue its attempts go to on a distributed backend (a task's own
            ``queue`` wins; ``None``: the backend's routes, then its default queue).
        runs_locally: With a distributed backend, run its attempts in the orchestrating
            process instead (an executor that waits for a person holds no worker then).
        rate_limit: At most this many of its attempts start per second, minute or hour
            (``"100/m"``), across every tree (and, with the Celery backend, every
            orchestrating process); a task's own ``rate_limit`` wins.
    """

    max_concurrency: ClassVar[int | None] = None
    rerun_safe: ClassVar[bool] = True
    timeout: ClassVar[float | None] = None
    retry_policy: ClassVar[RetryPolicy | None] = None
    input_model: ClassVar[type[BaseModel] | None] = None
    output_model: ClassVar[type[BaseModel] | None] = None
    inputs_as_dict: ClassVar[bool] = False
    check_output: ClassVar[bool] = True
    queue: ClassVar[str | None] = None
    runs_locally: ClassVar[bool] = False
    rate_limit: ClassVar[str | None] = None

    @property
    def id(self) -> str:
        """The unique id tasks use to name this executor (default: the class name in snake_case)."""
        return _snake_case(type(self).__name__)

    @property
    def name(self) -> str:
        """A human-readable name (default: the class name)."""
        return type(self).__name__

    @property
    def description(self) -> str:
        """What the executor does (default: the first line of the class docstring)."""
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def context(self) -> ExecutionContext:
        """The current run's context (task ids, dependency results, cancellation flag)."""
        return current_context()

    @abc.abstractmethod
    async def execute(self, inputs: Any) -> Any:
        """Do the work and return the task's result, a JSON-serialisable dict.

        ``inputs`` is the dict of validated inputs (defaults filled in), or an instance of
        ``input_model`` when the executor declares one. Returning ``{"status": "failed",
        "error": ...}`` fails the task with that error; raising an exception fails it too. A
        returned pydantic model is stored as ``model_dump(mode="json")``.
        """

    def get_input_schema(self) -> Mapping[str, Any]:
        """The JSON Schema (Draft 2020-12) that inputs are validated against before `execute`
        (default: ``input_model``'s, or any object)."""
        if self.input_model is not None:
            return pydantic_models.input_schema(self.input_model)
        return ANY_OBJECT

    def get_output_schema(self) -> Mapping[str, Any] | None:
        """The JSON Schema of the result (default: ``output_model``'s, or ``None``: undeclared).

        Results are validated against it when an attempt ends (see ``check_output``), and
        references to them (``${KEY.result.PATH}``) are checked against it before a tree
        runs (see docs/trees.md, *Typed edges*)."""
        if self.output_model is not None:
            return pydantic_models.output_schema(self.output_model)
        return None

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse inputs that the schema allows but the executor's settings do not.

        Called with schema-checked inputs (defaults filled in): when a tree is checked
        (``create_tree``, ``taskflow validate``) for inputs without references, and again
        right before every run. The default accepts everything.

        Raises:
            InputValidationError: naming the field (``path``) and the setting (``rule``).
        """
        return

    def safety(self) -> Sequence[SafetySetting]:
        """The executor's safety settings, their defaults per trust profile and current values.

        ``taskflow executors show`` lists them. The default: none.
        """
        return ()


class BaseTask(ExecutableTask):
    """An `ExecutableTask` described by class attributes instead of properties.

    Example:
        >>> class Greet(BaseTask):
        ...     id = "greet"
        ...     name = "Greet"
        ...     description = "Says hello"
        ...     input_schema = {"type": "object", "properties": {"who": {"type": "string"}}}
        ...     async def execute(self, inputs):
        ...         return {"greeting": f"Hello, {inputs['who']}!"}
    """

    id: str
    name: str
    description: str
    input_schema: ClassVar[Mapping[str, Any]] = ANY_OBJECT
    output_schema: ClassVar[Mapping[str, Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Default ``name`` and ``description`` from this class itself (its name, the first line
        of its own docstring), not from a parent executor; ``id`` is inherited if set."""
        super().__init_subclass__(**kwargs)
        own_doc = cls.__dict__.get("__doc__")
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        if "description" not in cls.__dict__ and (
            own_doc or not isinstance(getattr(cls, "description", None), str)
        ):
            cls.description = _first_line(own_doc)
        if not isinstance(getattr(cls, "id", None), str):
            cls.id = _snake_case(cls.__name__)

    def get_input_schema(self) -> Mapping[str, Any]:
        """The class attribute ``input_schema`` (or ``input_model``'s JSON Schema)."""
        if self.input_model is not None:
            return pydantic_models.input_schema(self.input_model)
        return self.input_schema

    def get_output_schema(self) -> Mapping[str, Any] | None:
        """The class attribute ``output_schema`` (or ``output_model``'s JSON Schema)."""
        if self.output_model is not None:
            return pydantic_models.output_schema(self.output_model)
        return self.output_schema


def _first_line(doc: str | None) -> str:
    doc = (doc or "").strip()
    return doc.splitlines()[0] if doc else ""
