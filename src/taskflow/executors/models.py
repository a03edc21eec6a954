"""Pydantic models as executor schemas (the optional ``pydantic`` extra).

An executor may declare ``input_model`` and ``output_model``, pydantic ``BaseModel``
subclasses, instead of JSON Schema dicts. Then:

- its input schema — shown by ``taskflow executors show``, checked when a tree is created and
  again just before the run — is ``input_model.model_json_schema()``; its output schema is
  ``output_model.model_json_schema(mode="serialization")``;
- just before ``execute``, the inputs are also validated by the model itself (its own
  validators run), and ``execute`` receives **the model instance**; an executor that sets
  ``inputs_as_dict = True`` receives the validated values as a dict instead
  (``model_dump(mode="json")``: defaults filled in, values coerced);
- a model instance that ``execute`` returns (or yields as a `TaskCtl`'s data) is stored as
  ``model_dump(mode="json")``.

pydantic is imported here only when a model is declared: ``import taskflow`` never imports it.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from taskflow.exceptions import ConfigurationError, InputValidationError, RegistryError

EXTRA_HINT = "pip install 'taskflow[pydantic]'"


@dataclasses.dataclass(frozen=True, slots=True)
class ModelBinding:
    """The pydantic models an executor declared, and how its ``execute`` takes its inputs.

    Attributes:
        input_model: Validates the inputs; ``execute`` receives an instance (or a dict).
        output_model: Documents the result (its JSON Schema is the output schema).
        inputs_as_dict: Hand ``execute`` the validated values as a dict, not the instance.
    """

    input_model: type[Any] | None
    output_model: type[Any] | None
    inputs_as_dict: bool = False

    def load_inputs(self, inputs: dict[str, Any], *, task_id: str | None = None) -> Any:
        """Validate ``inputs`` with the input model; return the instance (or its dict).

        Raises:
            InputValidationError: naming the first offending field (``inputs.a.b[2]``).
        """
        if self.input_model is None:
            return inputs
        pydantic = _pydantic()
        try:
            value = self.input_model.model_validate(inputs)
        except pydantic.ValidationError as exc:
            raise _input_error(exc, task_id) from exc
        return value.model_dump(mode="json") if self.inputs_as_dict else value


def bind_models(executor: object, executor_id: str) -> ModelBinding | None:
    """The models ``executor`` declares (``None`` when it declares none), checked.

    Raises:
        RegistryError: a model is not a pydantic ``BaseModel`` subclass, or the executor
            declares both ``input_schema`` and ``input_model`` (or both output ones).
        ConfigurationError: a model is declared but pydantic is not installed.
    """
    input_model = getattr(executor, "input_model", None)
    output_model = getattr(executor, "output_model", None)
    if input_model is None and output_model is None:
        return None
    pydantic = _pydantic()
    for label, model in (("input", input_model), ("output", output_model)):
        if model is None:
            continue
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            raise RegistryError(
                f"executor {executor_id!r}: {label}_model must be a pydantic BaseModel "
                f"subclass, not {model!r}"
            )
        declared_schema = getattr(executor, f"{label}_schema", None)
        if isinstance(declared_schema, Mapping) and _is_own_schema(declared_schema, label):
            raise RegistryError(
                f"executor {executor_id!r} declares both {label}_schema and {label}_model; "
                f"keep one ({label}_model's JSON Schema becomes the {label} schema)"
            )
    return ModelBinding(input_model, output_model, bool(getattr(executor, "inputs_as_dict", False)))


def input_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON Schema of ``model`` as inputs (validation mode)."""
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def output_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON Schema of ``model`` as a result (serialization mode)."""
    schema: dict[str, Any] = model.model_json_schema(mode="serialization")
    return schema


def json_value(value: Any) -> Any:
    """``value.model_dump(mode="json")`` for a pydantic model instance; anything else as is."""
    pydantic = sys.modules.get("pydantic")  # no model can exist unless pydantic was imported
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


def _is_own_schema(schema: Mapping[str, Any], label: str) -> bool:
    """Whether ``schema`` is one the executor wrote, not the base class's placeholder."""
    from taskflow.executors.base import ANY_OBJECT

    return schema is not ANY_OBJECT if label == "input" else True


def _pydantic() -> ModuleType:
    try:
        return importlib.import_module("pydantic")
    except ImportError as exc:
        raise ConfigurationError(
            f"pydantic models as executor schemas need pydantic ({EXTRA_HINT})"
        ) from exc


def _input_error(exc: Any, task_id: str | None) -> InputValidationError:
    first = exc.errors()[0]
    where = "inputs"
    for part in first.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    rule = str(first.get("type", "value_error"))
    return InputValidationError(
        f"{where}: {first.get('msg', 'invalid value')} (model rule {rule!r})",
        path=where,
        rule=rule,
        task_id=task_id,
    )
