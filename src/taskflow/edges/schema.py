"""What a JSON Schema (Draft 2020-12) says for certain about the values it allows.

Answered soundly — "impossible" only when no value the schema allows could do it, "unknown"
whenever the schema does not decide:

* `step`: what can be found under one key (or list index) of a value the schema allows?
  Through ``properties``, ``patternProperties``, ``additionalProperties``, ``prefixItems``,
  ``items``, ``maxItems``, ``const`` and ``enum``, local ``$ref`` (``#/$defs/...``), ``allOf``
  (every branch holds), ``anyOf`` and ``oneOf`` (some branch holds).
* `types_of`: which JSON types may a value have (``type``, ``const``, ``enum``, and through
  the same combinators)?

`taskflow.edges.compatible` builds on them to tell whether two schemas can both hold.

Keywords that only narrow the allowed values further (``pattern``, ``minimum``, ``not``,
``if``, ``unevaluatedProperties`` ...) are left aside: ignoring a restriction can hide a
mistake, never invent one. Remote ``$ref`` and ``$dynamicRef`` are unknown.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

#: The JSON types, with numbers split in two so that ``integer`` is a part of ``number``.
BASE_TYPES = frozenset({"null", "boolean", "object", "array", "string", "integer", "fraction"})
_TYPE_NAMES = {
    "null": {"null"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
    "string": {"string"},
    "integer": {"integer"},
    "number": {"integer", "fraction"},
}
_SHOWN_CHARS = 240  # the longest schema fragment quoted in a message
_ANNOTATIONS = ("description", "title", "examples", "$comment", "default", "$schema")
_DEFINITIONS = ("$defs", "definitions")

Types = frozenset[str] | None  # None: any type


@dataclasses.dataclass(frozen=True, slots=True)
class Located:
    """A schema fragment, and the document its local ``$ref`` point into."""

    schema: Any
    root: Any

    def at(self, schema: Any) -> Located:
        """Another fragment of the same document."""
        return Located(schema, self.root)


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """What one step into a value finds.

    ``found`` is the schema of what is there (``None``: the schema does not say), unless
    ``impossible`` says why nothing can be there.
    """

    found: Located | None = None
    impossible: str | None = None


UNKNOWN = Step()


def resolve_ref(where: Located, ref: str) -> Located | None:
    """The target of a local ``$ref`` (``#`` or ``#/json/pointer``); ``None`` for any other."""
    if ref == "#":
        return where.at(where.root)
    if not ref.startswith("#/"):
        return None
    node: Any = where.root
    for raw in ref[2:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return where.at(node)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "fraction"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def literals(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _own_types(schema: Mapping[str, Any]) -> Types:
    found: Types = None
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared
    if isinstance(names, list):
        found = frozenset(t for name in names for t in _TYPE_NAMES.get(str(name), BASE_TYPES))
    allowed = literals(schema)
    if allowed is not None:
        of_literals = frozenset(json_type(value) for value in allowed)
        found = of_literals if found is None else found & of_literals
    return found


def _both(left: Types, right: Types) -> Types:
    if left is None:
        return right
    return left if right is None else left & right


def types_of(where: Located, seen: frozenset[str] = frozenset()) -> Types:
    """The JSON types a value of this schema may have (``None``: any)."""
    schema = where.schema
    if schema is False:
        return frozenset()
    if not isinstance(schema, Mapping):
        return None
    found = _own_types(schema)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        target = resolve_ref(where, ref)
        if target is not None:
            found = _both(found, types_of(target, seen | {ref}))
    for branch in listed(schema.get("allOf")):
        found = _both(found, types_of(where.at(branch), seen))
    for keyword in ("anyOf", "oneOf"):
        branches = listed(schema.get(keyword))
        if branches:
            union: set[str] = set()
            for branch in branches:
                of_branch = types_of(where.at(branch), seen)
                if of_branch is None:
                    break
                union |= of_branch
            else:
                found = _both(found, frozenset(union))
    return found


def listed(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _all_of(steps: Iterable[Step]) -> Step:
    """Every one of these holds: impossible if one is; else what they all say."""
    known: list[Located] = []
    for step in steps:
        if step.impossible is not None:
            return step
        if step.found is not None:
            known.append(step.found)
    if not known:
        return UNKNOWN
    if len(known) == 1:
        return Step(known[0])
    return Step(known[0].at({"allOf": [k.schema for k in known]}))


def _any_of(steps: Sequence[Step], keyword: str) -> Step:
    """One of these holds: impossible only if each is; unknown if one is."""
    possible = [step for step in steps if step.impossible is None]
    if not possible:
        reasons = "; ".join(step.impossible or "" for step in steps)
        return Step(impossible=f"no branch of {keyword} allows it ({reasons})")
    if any(step.found is None for step in possible):
        return UNKNOWN
    found = [step.found for step in possible if step.found is not None]
    if len(found) == 1:
        return Step(found[0])
    return Step(found[0].at({"anyOf": [f.schema for f in found]}))


def step(where: Located, part: str, seen: frozenset[str] = frozenset()) -> Step:
    """What a value of this schema holds under ``part`` (a key, or a list index as digits)."""
    schema = where.schema
    if schema is False:
        return Step(impossible="its schema allows no value at all")
    if not isinstance(schema, Mapping):
        return UNKNOWN
    steps = [_own_step(where, schema, part)]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = resolve_ref(where, ref) if ref not in seen else None
        if target is not None:
            steps.append(step(target, part, seen | {ref}))
    if "$dynamicRef" in schema:
        steps.append(UNKNOWN)
    steps.extend(step(where.at(branch), part, seen) for branch in listed(schema.get("allOf")))
    for keyword in ("anyOf", "oneOf"):
        branches = listed(schema.get(keyword))
        if branches:
            steps.append(_any_of([step(where.at(b), part, seen) for b in branches], keyword))
    return _all_of(steps)


def _own_step(where: Located, schema: Mapping[str, Any], part: str) -> Step:
    allowed = literals(schema)
    if allowed is not None:
        return _literal_step(where, allowed, part)
    types = _own_types(schema)
    branches: list[Step] = []
    if types is None or "object" in types:
        branches.append(_object_step(where, schema, part))
    if types is None or "array" in types:
        branches.append(_array_step(where, schema, part))
    if not branches:
        return Step(impossible=f"it is {describe_types(types)}, which holds nothing")
    # Scalars hold nothing: a step is possible only into an object or a list.
    if all(b.impossible is not None for b in branches):
        return branches[0] if not part.isdigit() or len(branches) == 1 else branches[-1]
    return _any_of(branches, "type")


def _literal_step(where: Located, allowed: list[Any], part: str) -> Step:
    values = []
    for literal in allowed:
        if isinstance(literal, Mapping) and part in literal:
            values.append(literal[part])
        elif isinstance(literal, list) and part.isdigit() and int(part) < len(literal):
            values.append(literal[int(part)])
    if not values:
        return Step(
            impossible=f"it is always one of {shown_value(allowed)}, none of which has {part!r}"
        )
    return Step(where.at({"enum": values}))


def _object_step(where: Located, schema: Mapping[str, Any], part: str) -> Step:
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and part in properties:
        return Step(where.at(properties[part]))
    matched: list[Step] = []
    patterns = schema.get("patternProperties")
    for pattern, subschema in patterns.items() if isinstance(patterns, Mapping) else ():
        try:
            if re.search(pattern, part):
                matched.append(Step(where.at(subschema)))
        except re.error:
            return UNKNOWN  # a pattern Python cannot read: it may match
    if matched:
        return _all_of(matched)
    additional = schema.get("additionalProperties", True)
    if additional is False:
        declared = sorted(properties) if isinstance(properties, Mapping) else []
        listed = f"it declares {', '.join(declared)}" if declared else "it declares no property"
        return Step(impossible=f"{listed}, and no other (additionalProperties: false)")
    if additional is True:
        return UNKNOWN
    return Step(where.at(additional))


def _array_step(where: Located, schema: Mapping[str, Any], part: str) -> Step:
    if not part.isdigit():
        return Step(impossible=f"a list holds items by index (.0, .1 ...), not {part!r}")
    index = int(part)
    most = schema.get("maxItems")
    if isinstance(most, int) and index >= most:
        return Step(impossible=f"it holds at most {most} items (maxItems)")
    prefix = listed(schema.get("prefixItems"))
    if index < len(prefix):
        return Step(where.at(prefix[index]))
    items = schema.get("items", True)
    if items is False:
        return Step(impossible=f"it holds at most {len(prefix)} items (prefixItems, items: false)")
    return UNKNOWN if items is True else Step(where.at(items))


def describe_types(types: Types) -> str:
    """``an integer or null``, ``a string``, ``anything`` ..."""
    if types is None:
        return "anything"
    if not types:
        return "nothing"
    names = sorted(types - {"integer", "fraction"})
    if {"integer", "fraction"} <= types:
        names.append("number")
    elif "integer" in types:
        names.append("integer")
    elif "fraction" in types:
        names.append("number with a fraction")
    names.sort(key=lambda name: name == "null")
    first = names[0]
    article = "an" if first[0] in "aeiou" else "a"
    words = [f"{article} {first}", *names[1:]]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def type_names(types: Types) -> str:
    """``integer|null``, ``string``, ``any`` ..."""
    if types is None:
        return "any"
    names = sorted(types - {"integer", "fraction"})
    if {"integer", "fraction"} <= types:
        names.append("number")
    elif "integer" in types or "fraction" in types:
        names.append("integer" if "integer" in types else "number")
    return "|".join(sorted(names, key=lambda n: (n == "null", n))) or "never"


def shown(where: Located | None) -> str:
    """The fragment as compact JSON for a message: annotations and ``$defs`` left out, a lone
    local ``$ref`` followed once, long ones cut."""
    if where is None:
        return "(none)"
    schema = where.schema
    if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        target = resolve_ref(where, schema["$ref"])
        if target is not None and set(schema) - set(_ANNOTATIONS) == {"$ref"}:
            return f"{schema['$ref']} = {shown(target)}"
    return shown_value(_bare(schema, _ANNOTATIONS + _DEFINITIONS))


def bare(where: Located | None) -> Any:
    """The fragment without annotations (for JSON output)."""
    return None if where is None else _bare(where.schema, _ANNOTATIONS)


def _bare(schema: Any, left_out: tuple[str, ...]) -> Any:
    if isinstance(schema, Mapping):
        return {
            key: value if key in ("const", "enum") else _bare(value, left_out)
            for key, value in schema.items()
            if key not in left_out
        }
    if isinstance(schema, list):
        return [_bare(item, left_out) for item in schema]
    return schema


def declared_names(where: Located, seen: frozenset[str] = frozenset()) -> list[str]:
    """The property names a schema declares, through ``$ref`` and the combinators (to suggest
    one for a misspelt name)."""
    schema = where.schema
    if not isinstance(schema, Mapping):
        return []
    properties = schema.get("properties")
    names = list(properties) if isinstance(properties, Mapping) else []
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        target = resolve_ref(where, ref)
        if target is not None:
            names += declared_names(target, seen | {ref})
    for keyword in ("allOf", "anyOf", "oneOf"):
        for branch in listed(schema.get(keyword)):
            names += declared_names(where.at(branch), seen)
    return list(dict.fromkeys(names))


def shown_value(value: Any) -> str:
    text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
