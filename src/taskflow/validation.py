"""JSON Schema (Draft 2020-12) checks of executor inputs (defaults filled in) and results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from taskflow.exceptions import InputValidationError, OutputValidationError


def fill_defaults(schema: Mapping[str, Any], instance: Any) -> None:
    """Set every missing property that has a ``default``, in nested objects too (in place).

    This runs before validation, so a default satisfies ``required`` whatever the key order of
    the schema.
    """
    if not isinstance(instance, dict) or not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, subschema in properties.items():
        if not isinstance(subschema, Mapping):
            continue
        if name not in instance and "default" in subschema:
            instance[name] = copy_json(subschema["default"])
        if name in instance:
            fill_defaults(subschema, instance[name])


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts and lists are copied, scalars shared)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise `jsonschema.SchemaError` if ``schema`` is not a valid Draft 2020-12 schema."""
    Draft202012Validator.check_schema(schema)


def field_path(error: ValidationError, root: str = "inputs") -> str:
    """The offending field as ``inputs.a.b[2]`` (``inputs`` for the whole object)."""
    path = root
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_ANNOTATIONS = frozenset({"type", "title", "description", "$schema", "$comment", "examples"})


class InputValidator:
    """Validates inputs against one schema; compiled once, used for every task of an executor."""

    __slots__ = ("_trivial", "_validator", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft202012Validator(schema)
        # The common schema-less executor: skip the validator's machinery entirely.
        self._trivial = schema.get("type", "object") == "object" and set(schema) <= _ANNOTATIONS

    def validate(self, inputs: Mapping[str, Any], *, task_id: str | None = None) -> dict[str, Any]:
        """Return a copy of ``inputs`` with defaults filled in, or raise `InputValidationError`."""
        instance: dict[str, Any] = copy_json(dict(inputs))
        if self._trivial:
            return instance
        fill_defaults(self.schema, instance)
        error = best_match(self._validator.iter_errors(instance))
        if error is None:
            return instance
        where = field_path(error)
        raise InputValidationError(
            f"{where}: {error.message} (schema rule {error.validator!r})",
            path=where,
            rule=str(error.validator),
            task_id=task_id,
        )


class OutputValidator:
    """Checks results against one executor's output schema; compiled once per executor."""

    __slots__ = ("_trivial", "_validator", "executor", "schema")

    def __init__(self, schema: Mapping[str, Any], *, executor: str) -> None:
        self.schema = schema
        self.executor = executor
        self._validator = Draft202012Validator(schema)
        # A result is always a dict: a schema that only says "an object" needs no validator.
        self._trivial = schema.get("type", "object") == "object" and set(schema) <= _ANNOTATIONS

    def problem(self, result: Mapping[str, Any]) -> OutputValidationError | None:
        """The first way ``result`` violates the schema (the most relevant one), or ``None``."""
        if self._trivial or self._validator.is_valid(result):  # the common case, cheapest
            return None
        error = best_match(self._validator.iter_errors(result))
        if error is None:
            return None
        where = field_path(error, "result")
        return OutputValidationError(
            f"{where}: {error.message} (output schema rule {error.validator!r} of executor "
            f"{self.executor!r})",
            path=where,
            rule=str(error.validator),
        )


__all__ = [
    "InputValidator",
    "OutputValidator",
    "SchemaError",
    "check_schema",
    "copy_json",
    "field_path",
    "jsonschema",
]
