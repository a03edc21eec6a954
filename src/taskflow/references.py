"""References from a task's inputs to results of the tasks it depends on.

Syntax, usable from Python, JSON and YAML alike: ``${KEY.result.PATH}`` where ``KEY`` is the
key (or id) of an upstream task and ``PATH`` walks into its result with dots (list items by
index: ``${fetch.result.items.0.name}``). ``${KEY.result}`` is the whole result; ``${KEY.status}``
and ``${KEY.error}`` are also available (useful after an optional dependency).

A string that is exactly one reference is replaced by the value, whatever its type; a reference
inside a longer string is formatted into it. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from taskflow.exceptions import TaskExecutionError

_REFERENCE = re.compile(r"(?<!\$)\$\{\s*([^{}\s]+)\s*\}")
_WHOLE = re.compile(r"^\$\{\s*([^{}\s]+)\s*\}$")
FIELDS = ("result", "status", "error")


class ReferenceResolutionError(TaskExecutionError):
    """Raised at run time when a reference's path does not exist in the upstream result."""


def referenced_keys(value: Any) -> set[str]:
    """Every task key that ``value`` (a JSON-like structure) refers to."""
    keys: set[str] = set()
    _collect(value, keys)
    return keys


def _collect(value: Any, keys: set[str]) -> None:
    if isinstance(value, str):
        if "${" in value:
            keys.update(m.group(1).split(".", 1)[0] for m in _REFERENCE.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, keys)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, keys)


def needs_resolution(value: Any) -> bool:
    """Whether ``value`` holds a reference or an escaped ``$${`` (both need `resolve`)."""
    return bool(_strings(value))


def check_syntax(expression: str) -> str | None:
    """Return a problem with one reference expression (``KEY.field...``), or ``None``."""
    parts = expression.split(".")
    if len(parts) < 2 or parts[1] not in FIELDS:
        return f"'${{{expression}}}' must look like KEY.result[.path], KEY.status or KEY.error"
    return None


def invalid_expressions(value: Any) -> list[str]:
    """Problems with the syntax of every reference inside ``value``."""
    problems: list[str] = []
    for text in _strings(value):
        for match in _REFERENCE.finditer(text):
            problem = check_syntax(match.group(1))
            if problem:
                problems.append(problem)
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if "${" in value else []
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


@dataclasses.dataclass(frozen=True, slots=True)
class Site:
    """Where one reference sits in a task's inputs.

    Attributes:
        path: The keys and list indexes leading to the string that holds it.
        expression: What is between ``${`` and ``}`` (``fetch.result.items.0``).
        whole: Whether the string is exactly this reference (the value keeps its type), or
            the reference is formatted into a longer string (the value is a string).
    """

    path: tuple[str | int, ...]
    expression: str
    whole: bool


def sites(value: Any) -> Iterator[Site]:
    """Every reference inside ``value`` (a JSON-like structure), with where it sits."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, current = stack.pop()
        if isinstance(current, str):
            if "${" in current:
                whole = _WHOLE.match(current) is not None
                for match in _REFERENCE.finditer(current):
                    yield Site(path, match.group(1), whole)
        elif isinstance(current, Mapping):
            stack.extend(((*path, str(k)), v) for k, v in reversed(list(current.items())))
        elif isinstance(current, list | tuple):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(current))))


Lookup = Callable[[str], Mapping[str, Any]]


def resolve(value: Any, lookup: Lookup) -> Any:
    """A copy of ``value`` with every reference replaced.

    ``lookup(key)`` returns ``{"result": ..., "status": ..., "error": ...}`` of an upstream task.
    """
    if isinstance(value, str):
        return _resolve_string(value, lookup) if "${" in value else value  # also unescapes $${
    if isinstance(value, Mapping):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, lookup) for v in value]
    return value


def _resolve_string(text: str, lookup: Lookup) -> Any:
    whole = _WHOLE.match(text)
    if whole:
        return _evaluate(whole.group(1), lookup)

    def format_one(match: re.Match[str]) -> str:
        found = _evaluate(match.group(1), lookup)
        return found if isinstance(found, str) else json.dumps(found)

    return _REFERENCE.sub(format_one, text).replace("$${", "${")


def _evaluate(expression: str, lookup: Lookup) -> Any:
    key, *path = expression.split(".")
    current: Any = lookup(key)
    walked = key
    for part in path:
        current = _step(current, part, walked, expression)
        walked += "." + part
    return current


def _step(current: Any, part: str, walked: str, expression: str) -> Any:
    if isinstance(current, Mapping) and part in current:
        return current[part]
    if isinstance(current, list) and part.isdigit() and int(part) < len(current):
        return current[int(part)]
    raise ReferenceResolutionError(
        f"reference '${{{expression}}}': {walked} has no {part!r} (it is {_describe(current)})"
    )


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        keys = ", ".join(map(repr, list(value)[:8]))
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return "null" if value is None else f"a {type(value).__name__}"
