"""JSON Schema (Draft 2020-12) checks for executor inputs, with ``default`` values filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from taskflow.exceptions import InputValidationError


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


def field_path(error: ValidationError) -> str:
    """The offending field as ``inputs.a.b[2]`` (``inputs`` for the whole object)."""
    path = "inputs"
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


__all__ = ["InputValidator", "SchemaError", "check_schema", "copy_json", "field_path", "jsonschema"]
