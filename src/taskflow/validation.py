"""JSON Schema (Draft 2020-12) checks for executor inputs, with ``default`` values filled in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from taskflow.exceptions import InputValidationError


def _properties_with_defaults(
    validator: Any, properties: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if isinstance(subschema, Mapping) and "default" in subschema and name not in instance:
                instance[name] = copy_json(subschema["default"])
    yield from Draft202012Validator.VALIDATORS["properties"](
        validator, properties, instance, schema
    )


_FillingValidator: Any = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"properties": _properties_with_defaults}
)


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
        self._validator = _FillingValidator(schema)
        # The common schema-less executor: skip the validator's machinery entirely.
        self._trivial = schema.get("type", "object") == "object" and set(schema) <= _ANNOTATIONS

    def validate(self, inputs: Mapping[str, Any], *, task_id: str | None = None) -> dict[str, Any]:
        """Return a copy of ``inputs`` with defaults filled in, or raise `InputValidationError`."""
        instance: dict[str, Any] = copy_json(dict(inputs))
        if self._trivial:
            return instance
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
