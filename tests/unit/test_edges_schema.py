"""What a schema says for certain: `step` through a value, `types_of`, and `conflict`."""

from __future__ import annotations

from typing import Any

import pytest

from taskflow.edges.compatible import conflict
from taskflow.edges.schema import Located, describe_types, step, type_names, types_of


def at(schema: Any) -> Located:
    return Located(schema, schema)


def walk(schema: Any, *parts: str) -> Any:
    """The schema found at the end of ``parts``; 'unknown', or the impossibility's reason."""
    where = at(schema)
    for part in parts:
        found = step(where, part)
        if found.impossible is not None:
            return ("impossible", found.impossible)
        if found.found is None:
            return "unknown"
        where = found.found
    return where.schema


CLOSED = {
    "type": "object",
    "properties": {"body": {"type": "string"}, "code": {"type": "integer"}},
    "additionalProperties": False,
}


# -- step: objects --------------------------------------------------------------------------


def test_a_declared_property_is_found() -> None:
    assert walk(CLOSED, "code") == {"type": "integer"}


def test_an_undeclared_name_in_a_closed_object_is_impossible_and_lists_what_is_declared() -> None:
    kind, reason = walk(CLOSED, "bdy")
    assert kind == "impossible"
    assert reason == "it declares body, code, and no other (additionalProperties: false)"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"body": {}}},  # additionalProperties not said
        {"type": "object", "properties": {"body": {}}, "additionalProperties": True},
        {"type": "object"},
        {},
        True,
    ],
)
def test_an_undeclared_name_in_an_open_object_is_unknown(schema: Any) -> None:
    assert walk(schema, "bdy") == "unknown"


def test_additional_properties_as_a_schema_describes_every_other_name() -> None:
    headers = {"type": "object", "additionalProperties": {"type": "string"}}
    assert walk(headers, "Content-Type") == {"type": "string"}


def test_pattern_properties_match_before_additional_properties() -> None:
    schema = {
        "type": "object",
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    assert walk(schema, "x-id") == {"type": "string"}
    assert walk(schema, "id")[0] == "impossible"


def test_a_pattern_python_cannot_read_makes_the_step_unknown() -> None:
    schema = {"patternProperties": {"(?<!": {}}, "additionalProperties": False}
    assert walk(schema, "anything") == "unknown"


def test_a_scalar_holds_nothing() -> None:
    kind, reason = walk({"type": "object", "properties": {"n": {"type": "integer"}}}, "n", "x")
    assert (kind, reason) == ("impossible", "it is an integer, which holds nothing")


def test_a_false_schema_allows_nothing() -> None:
    assert walk({"type": "object", "properties": {"gone": False}}, "gone", "x")[0] == "impossible"


# -- step: lists ----------------------------------------------------------------------------


LIST = {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}


def test_list_items_are_reached_by_index() -> None:
    assert walk(LIST, "3", "name") == {"type": "string"}


def test_a_list_has_no_names() -> None:
    kind, reason = walk(LIST, "first")
    assert kind == "impossible" and "by index" in reason


def test_prefix_items_then_items() -> None:
    pair = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    assert walk(pair, "1") == {"type": "integer"}
    assert walk(pair, "2") == "unknown"
    closed = {**pair, "items": False}
    assert walk(closed, "2") == (
        "impossible",
        "it holds at most 2 items (prefixItems, items: false)",
    )


def test_an_index_past_max_items_is_impossible() -> None:
    assert walk({"type": "array", "maxItems": 2}, "2") == (
        "impossible",
        "it holds at most 2 items (maxItems)",
    )


def test_digits_are_a_name_in_an_object() -> None:
    assert walk({"type": "object", "properties": {"0": {"type": "null"}}}, "0") == {"type": "null"}


def test_an_untyped_schema_may_be_a_list_or_an_object() -> None:
    untyped = {"properties": {"a": {"type": "string"}}, "additionalProperties": False}
    assert walk(untyped, "b")[0] == "impossible"  # not in the object, and no list has names
    assert walk(untyped, "0") == "unknown"  # a list could have an item 0


# -- step: $ref and combinators ---------------------------------------------------------------


DEFS = {
    "type": "object",
    "properties": {"item": {"$ref": "#/$defs/Item"}, "tree": {"$ref": "#/$defs/Node"}},
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"size": {"type": "integer"}},
            "required": ["size"],
            "additionalProperties": False,
        },
        "Node": {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "label": {"type": "string"},
            },
            "additionalProperties": False,
        },
    },
}


def test_a_local_ref_is_followed() -> None:
    assert walk(DEFS, "item", "size") == {"type": "integer"}
    assert walk(DEFS, "item", "sise")[0] == "impossible"


def test_a_recursive_ref_is_followed_as_deep_as_the_path() -> None:
    assert walk(DEFS, "tree", "children", "0", "children", "1", "label") == {"type": "string"}
    assert walk(DEFS, "tree", "children", "0", "labl")[0] == "impossible"


@pytest.mark.parametrize("ref", ["https://example.org/schema.json", "#/$defs/Missing", "other#"])
def test_a_ref_that_cannot_be_followed_is_unknown(ref: str) -> None:
    assert walk({"type": "object", "properties": {"x": {"$ref": ref}}}, "x", "y") == "unknown"


def test_a_ref_loop_ends() -> None:
    loop = {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}}
    assert walk(loop, "x") == "unknown"


def test_all_of_every_branch_holds() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {
                "type": "object",
                "properties": {"a": {"minLength": 1}, "b": {}},
                "additionalProperties": False,
            },
        ]
    }
    assert walk(schema, "a") == {"allOf": [{"type": "string"}, {"minLength": 1}]}
    assert walk(schema, "c")[0] == "impossible"  # the second branch forbids it


def test_any_of_is_impossible_only_when_every_branch_is() -> None:
    schema = {
        "anyOf": [
            CLOSED,
            {"type": "object", "properties": {"other": {}}, "additionalProperties": False},
        ]
    }
    assert walk(schema, "code") == {"type": "integer"}
    assert walk(schema, "nothing")[0] == "impossible"
    assert walk({"oneOf": [CLOSED, {"type": "object"}]}, "nothing") == "unknown"


def test_an_optional_value_is_an_object_or_null() -> None:
    optional = {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}], "$defs": DEFS["$defs"]}
    assert walk(optional, "size") == {"type": "integer"}
    assert walk(optional, "length")[0] == "impossible"


def test_const_and_enum_decide_by_their_values() -> None:
    assert walk({"const": {"a": 1}}, "a") == {"enum": [1]}
    assert walk({"enum": [{"a": 1}, {"b": 2}]}, "c")[0] == "impossible"


# -- types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ({"type": "string"}, "string"),
        ({"type": ["integer", "null"]}, "integer|null"),
        ({"type": "number"}, "number"),
        ({"enum": ["a", 1, None]}, "integer|string|null"),
        ({"const": 2.5}, "number"),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "string|null"),
        ({"allOf": [{"type": ["string", "integer"]}, {"type": "string"}]}, "string"),
        ({"$ref": "#/$defs/S", "$defs": {"S": {"type": "boolean"}}}, "boolean"),
        ({"anyOf": [{"type": "string"}, {}]}, "any"),
        ({}, "any"),
        (True, "any"),
    ],
)
def test_types_of(schema: Any, names: str) -> None:
    assert type_names(types_of(at(schema))) == names


def test_types_are_described_in_words() -> None:
    assert describe_types(frozenset({"string", "null"})) == "a string or null"
    assert describe_types(frozenset({"integer"})) == "an integer"
    assert describe_types(None) == "anything"


# -- conflict -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("produced", "expected", "reason"),
    [
        ({"type": "string"}, {"type": "array"}, "it is a string, and an array is expected"),
        ({"type": "number"}, {"type": "string"}, "it is a number, and a string is expected"),
        ({"type": ["string", "null"]}, {"type": "integer"}, "it is a string or null, and an"),
        ({"enum": ["a", "b"]}, {"enum": ["c"]}, 'it is one of ["a", "b"], and one of ["c"]'),
        (
            {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
            {"type": "object", "required": ["b"]},
            "'b' is required, and it never has one",
        ),
        (
            {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]},
            {"type": "object", "properties": {"b": {"type": "integer"}}},
            "at 'b': it is a string, and an integer is expected",
        ),
        (
            {"type": "object", "properties": {"b": {}}, "required": ["b"]},
            {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
            "it always has 'b', which is not accepted",
        ),
        (
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            {"type": "array", "items": {"type": "integer"}},
            "at item 0: it is a string, and an integer is expected",
        ),
    ],
)
def test_conflicts_that_are_certain(produced: Any, expected: Any, reason: str) -> None:
    found = conflict(at(produced), at(expected))
    assert found is not None and found.startswith(reason), found


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        ({"type": "integer"}, {"type": "number"}),
        ({"type": "number"}, {"type": "integer"}),  # 3.0 is an integer too
        ({"type": ["string", "null"]}, {"type": ["array", "null"]}),  # null fits both
        ({"type": "string"}, {}),
        ({}, {"type": "array"}),
        ({"type": "string"}, {"type": "string", "pattern": "^https?://"}),  # cannot be told
        # an empty list satisfies both
        (
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "items": {"type": "integer"}},
        ),
        # the property may be absent
        (
            {"type": "object", "properties": {"b": {"type": "string"}}},
            {"type": "object", "properties": {"b": {"type": "integer"}}},
        ),
        ({"$ref": "https://example.org/s.json"}, {"type": "string"}),
    ],
)
def test_no_conflict_where_a_value_may_satisfy_both(produced: Any, expected: Any) -> None:
    assert conflict(at(produced), at(expected)) is None
