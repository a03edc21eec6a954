from __future__ import annotations

import pytest

from taskflow import InputValidationError
from taskflow.validation import InputValidator

SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string"},
        "timeout": {"type": "integer", "default": 30},
        "options": {
            "type": "object",
            "properties": {"retries": {"type": "integer", "default": 2}},
            "default": {},
        },
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
    },
    "required": ["url"],
}


def test_defaults_are_filled_in_nested_objects_without_touching_the_input() -> None:
    inputs = {"url": "http://x"}
    checked = InputValidator(SCHEMA).validate(inputs)
    assert checked == {"url": "http://x", "timeout": 30, "options": {"retries": 2}}
    assert inputs == {"url": "http://x"}


def test_default_values_are_copied_per_call() -> None:
    validator = InputValidator(SCHEMA)
    first = validator.validate({"url": "a"})
    first["options"]["retries"] = 99
    assert validator.validate({"url": "b"})["options"] == {"retries": 2}


@pytest.mark.parametrize(
    ("inputs", "path", "rule"),
    [
        ({}, "inputs", "required"),
        ({"url": 3}, "inputs.url", "type"),
        ({"url": "a", "items": [{"n": 1}, {"n": "x"}]}, "inputs.items[1].n", "type"),
    ],
)
def test_violations_name_the_field_path_and_rule(
    inputs: dict[str, object], path: str, rule: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        InputValidator(SCHEMA).validate(inputs, task_id="t1")
    error = caught.value
    assert (error.path, error.rule, error.task_id) == (path, rule, "t1")
    assert str(error).startswith(f"{path}: ") and f"rule '{rule}'" in str(error)


def test_annotation_only_schema_accepts_any_object() -> None:
    assert InputValidator({"type": "object", "description": "x"}).validate({"a": [1]}) == {"a": [1]}


def test_a_default_satisfies_required_whatever_the_key_order() -> None:
    prop = {"f": {"type": "string", "default": "d"}}
    for schema in (
        {"type": "object", "properties": prop, "required": ["f"]},
        {"required": ["f"], "type": "object", "properties": prop},
    ):
        assert InputValidator(schema).validate({}) == {"f": "d"}
