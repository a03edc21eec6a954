"""Whether one value can satisfy two schemas: what a producer makes, what a consumer takes.

`conflict` answers soundly (a reason only when no value could satisfy both). JSON types
decide first (``type``, ``const``, ``enum``, through ``$ref`` and the combinators); then, for
an object, the properties either side requires; for an array, its first items when either
side requires some; for scalars, two lists of allowed values that share none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from taskflow.edges.schema import (
    Located,
    Step,
    describe_types,
    json_type,
    listed,
    literals,
    resolve_ref,
    shown_value,
    step,
    types_of,
)

_DEPTH = 4  # how deep `conflict` looks into objects and arrays


def _required(where: Located, seen: frozenset[str] = frozenset()) -> set[str]:
    """Properties every object value of this schema has (own, ``$ref``, ``allOf``)."""
    schema = where.schema
    if not isinstance(schema, Mapping):
        return set()
    names = {str(name) for name in listed(schema.get("required"))}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        target = resolve_ref(where, ref)
        if target is not None:
            names |= _required(target, seen | {ref})
    for branch in listed(schema.get("allOf")):
        names |= _required(where.at(branch), seen)
    return names


def _min_items(where: Located) -> int:
    schema = where.schema
    least = schema.get("minItems", 0) if isinstance(schema, Mapping) else 0
    return least if isinstance(least, int) else 0


def _all_literals(where: Located, seen: frozenset[str] = frozenset()) -> list[Any] | None:
    """The values a schema allows, when it lists them (own, ``$ref``, ``allOf``)."""
    schema = where.schema
    if not isinstance(schema, Mapping):
        return None
    found = literals(schema)
    ref = schema.get("$ref")
    nested: list[Located] = [where.at(branch) for branch in listed(schema.get("allOf"))]
    if isinstance(ref, str) and ref not in seen:
        target = resolve_ref(where, ref)
        if target is not None:
            nested.append(target)
            seen = seen | {ref}
    for other in nested:
        more = _all_literals(other, seen)
        if more is not None:
            found = more if found is None else [v for v in found if _key(v) in _keys(more)]
    return found


def _key(value: Any) -> tuple[str, str]:
    return json_type(value), json.dumps(value, sort_keys=True, default=str)


def _keys(values: Iterable[Any]) -> set[tuple[str, str]]:
    return {_key(value) for value in values}


def conflict(produced: Located, expected: Located, depth: int = 0) -> str | None:
    """Why no value can satisfy both schemas, or ``None`` if one may (or it cannot be told)."""
    left, right = types_of(produced), types_of(expected)
    if left is None or right is None:
        return None
    common = left & right
    if not common:
        return f"it is {describe_types(left)}, and {describe_types(right)} is expected"
    if depth >= _DEPTH:
        return None
    reasons = []
    for kind in sorted(common):
        reason = _conflict_of_kind(kind, produced, expected, depth)
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0]


def _conflict_of_kind(kind: str, produced: Located, expected: Located, depth: int) -> str | None:
    if kind == "object":
        return _object_conflict(produced, expected, depth)
    if kind == "array":
        return _array_conflict(produced, expected, depth)
    mine, theirs = _all_literals(produced), _all_literals(expected)
    if mine is None or theirs is None:
        return None
    mine = [v for v in mine if json_type(v) == kind]
    if _keys(mine) & _keys(theirs):
        return None
    return f"it is one of {shown_value(mine)}, and one of {shown_value(theirs)} is expected"


def _object_conflict(produced: Located, expected: Located, depth: int) -> str | None:
    for name in sorted(_required(expected)):
        there = step(produced, name)
        if there.impossible is not None:
            return f"{name!r} is required, and it never has one: {there.impossible}"
        reason = _pair_conflict(there, step(expected, name), depth)
        if reason is not None:
            return f"at {name!r}: {reason}"
    for name in sorted(_required(produced)):
        wanted = step(expected, name)
        if wanted.impossible is not None:
            return f"it always has {name!r}, which is not accepted: {wanted.impossible}"
        reason = _pair_conflict(step(produced, name), wanted, depth)
        if reason is not None:
            return f"at {name!r}: {reason}"
    return None


def _array_conflict(produced: Located, expected: Located, depth: int) -> str | None:
    least = max(_min_items(produced), _min_items(expected))
    for index in range(min(least, 3)):
        there, wanted = step(produced, str(index)), step(expected, str(index))
        for side, found in (("it never has", there), ("is not accepted", wanted)):
            if found.impossible is not None:
                return f"item {index} is required, and {side} one: {found.impossible}"
        reason = _pair_conflict(there, wanted, depth)
        if reason is not None:
            return f"at item {index}: {reason}"
    return None


def _pair_conflict(there: Step, wanted: Step, depth: int) -> str | None:
    if there.found is None or wanted.found is None:
        return None
    return conflict(there.found, wanted.found, depth + 1)
