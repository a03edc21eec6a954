"""No false alarms: generated values, generated schemas that allow them, and the edge checks.

For a value ``v`` valid against a generated schema ``S`` (closed or open objects, tuples and
lists, ``const``/``enum``, ``anyOf``/``oneOf``/``allOf`` around them, ``$ref`` into ``$defs``):

* a path that exists in ``v`` is never called impossible under ``S``, and the schema found
  at its end allows the value found there;
* when `conflict` says no value can satisfy ``S`` there and a consumer's schema ``C``, the
  value found there is indeed invalid against ``C``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from taskflow.edges.compatible import conflict
from taskflow.edges.schema import Located, step

pytestmark = pytest.mark.slow

KEYS = ["a", "b", "c", "0", "1"]
JSON_TYPE = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}

scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False)
scalars = scalars | st.text(alphabet="xy", max_size=2)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=12,
)


def _type_of(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return JSON_TYPE[type(value)]


@st.composite
def schema_for(draw: st.DrawFn, value: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """A schema that ``value`` satisfies, with random precision."""
    schema = draw(_plain_schema_for(value, defs, depth))
    wrap = draw(st.sampled_from(["none", "none", "anyOf", "oneOf-null", "allOf", "ref"]))
    if wrap == "anyOf":
        other = draw(_plain_schema_for(draw(values), defs, depth + 1))
        return {"anyOf": draw(st.permutations([schema, other]))}
    if wrap == "oneOf-null" and value is not None:
        return {"oneOf": [schema, {"type": "null"}]}
    if wrap == "allOf":
        return {"allOf": [schema, {"type": _type_of(value)} if draw(st.booleans()) else {}]}
    if wrap == "ref":
        name = f"D{len(defs)}"
        defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}
    return schema


@st.composite
def _plain_schema_for(draw: st.DrawFn, value: Any, defs: dict[str, Any], depth: int) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return {} if draw(st.booleans()) else True
    if isinstance(value, dict):
        return draw(_object_schema(value, defs, depth))
    if isinstance(value, list):
        return draw(_array_schema(value, defs, depth))
    kind = draw(st.sampled_from(["type", "const", "enum", "types"]))
    if kind == "const":
        return {"const": value}
    if kind == "enum":
        return {"enum": [value, draw(scalars)]}
    name = _type_of(value)
    if name == "integer" and draw(st.booleans()):
        name = "number"
    if kind == "types":
        return {"type": [name, draw(st.sampled_from(["null", "string", "array", "object"]))]}
    return {"type": name}


@st.composite
def _object_schema(draw: st.DrawFn, value: dict[str, Any], defs: dict[str, Any], depth: int) -> Any:
    closed = draw(st.booleans())
    named = (
        list(value)
        if closed
        else draw(st.lists(st.sampled_from(list(value) or ["a"]), unique=True))
    )
    properties = {
        name: draw(schema_for(value[name], defs, depth + 1))
        if name in value
        else {"type": "string"}
        for name in named
    }
    absent = [key for key in KEYS if key not in value]
    extra = draw(st.lists(st.sampled_from(absent), unique=True, max_size=2)) if absent else []
    for name in extra:  # declared, absent from this value
        properties.setdefault(name, draw(_plain_schema_for(draw(values), defs, depth + 1)))
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    present = [name for name in named if name in value]
    schema["required"] = draw(st.lists(st.sampled_from(present), unique=True)) if present else []
    if closed:
        schema["additionalProperties"] = False
    elif draw(st.booleans()) and value:
        # every other present name must fit additionalProperties: make it allow them all
        schema["additionalProperties"] = {}
    return schema


@st.composite
def _array_schema(draw: st.DrawFn, value: list[Any], defs: dict[str, Any], depth: int) -> Any:
    if draw(st.booleans()) and value:
        prefix = [draw(schema_for(item, defs, depth + 1)) for item in value]
        closed = draw(st.booleans())
        schema: dict[str, Any] = {"type": "array", "prefixItems": prefix}
        if closed:
            schema["items"] = False
        return schema
    items = [draw(schema_for(item, defs, depth + 1)) for item in value]
    schema = {"type": "array", "items": {"anyOf": items} if items else {}}
    if draw(st.booleans()):
        schema["maxItems"] = len(value) + draw(st.integers(0, 1))
    return schema


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    value = draw(values)
    defs: dict[str, Any] = {}
    schema = draw(schema_for(value, defs))
    root = {"allOf": [schema], "$defs": defs}
    assert Draft202012Validator(root).is_valid(value), (value, root)  # the generator is right
    return value, root


def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, str(index)))
    return found


def at_path(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        value = value[part] if isinstance(value, dict) else value[int(part)]
    return value


def valid(value: Any, where: Located) -> bool:
    schema = where.schema
    if isinstance(schema, dict):
        schema = {**schema, "$defs": where.root["$defs"]}
    return Draft202012Validator(schema).is_valid(value)


@settings(max_examples=200, deadline=None)
@given(documents())
def test_an_existing_path_is_never_impossible_and_its_schema_allows_the_value(
    document: tuple[Any, dict[str, Any]],
) -> None:
    value, root = document
    for path in paths(value):
        where: Located | None = Located(root, root)
        for part in path:
            assert where is not None
            found = step(where, part)
            assert found.impossible is None, (path, part, found.impossible, value, root)
            where = found.found
            if where is None:
                break
        if where is not None:
            assert valid(at_path(value, path), where), (path, where.schema, value)


@settings(max_examples=200, deadline=None)
@given(documents(), values, st.data())
def test_a_conflict_is_never_claimed_for_a_value_that_fits_both(
    document: tuple[Any, dict[str, Any]], other: Any, data: st.DataObject
) -> None:
    value, root = document
    defs: dict[str, Any] = {}
    consumer = data.draw(schema_for(other if data.draw(st.booleans()) else value, defs))
    expected_root = {"allOf": [consumer], "$defs": defs}
    expected = Located(expected_root, expected_root)
    for path in paths(value):
        where: Located | None = Located(root, root)
        for part in path:
            assert where is not None
            where = step(where, part).found
            if where is None:
                break
        if where is None:
            continue
        reason = conflict(where, expected)
        if reason is not None:
            found = at_path(value, path)
            assert not Draft202012Validator(expected_root).is_valid(found), (
                reason,
                found,
                where.schema,
                consumer,
            )
