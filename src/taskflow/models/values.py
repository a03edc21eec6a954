"""What a value must be to be stored: one set of rules for every database.

Inputs, results, log fields, progress messages and notify data are JSON. Every database
taskflow supports must store them the same way, so the rules are the strictest of them:
objects with string keys, finite numbers (no NaN or infinity), strings without NUL characters
or lone surrogates (PostgreSQL's ``jsonb`` refuses both), and a size limit. `json_problem`
finds the first violation and names its path (``result.items[3].price``), so that the task
whose value it is can fail alone, with a message saying what to fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

#: The largest result (or notify data, or log entry) stored, as compact JSON, by default.
MAX_VALUE_BYTES = 16 * 1024 * 1024

_SCALARS = (str, int, float, bool, type(None))


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which PostgreSQL cannot store"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate, which is not valid Unicode"
    return None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return _string_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value!r}, which JSON cannot hold (only finite numbers)"
    return None


def _step(path: str, key: object) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _node_problem(where: str, current: Any, stack: list[tuple[str, Any]]) -> str | None:
    """The problem with one node of a value, pushing its children on ``stack``."""
    if isinstance(current, Mapping):
        for key, item in current.items():
            if not isinstance(key, str):
                return f"{where}: has the key {key!r}, but object keys must be strings"
            problem = _string_problem(key)
            if problem:
                return f"{where}: a key {problem}"
            stack.append((_step(where, key), item))
        return None
    if isinstance(current, list | tuple):
        stack.extend((_step(where, i), item) for i, item in enumerate(current))
        return None
    if isinstance(current, _SCALARS):
        problem = _scalar_problem(current)
        return f"{where}: {problem}" if problem else None
    return f"{where}: a value of type {type(current).__name__} is not JSON"


def _located(value: Any, path: str) -> str | None:
    """The first problem, with its path (the slow walk, run only once one is known)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, current = stack.pop()
        problem = _node_problem(where, current, stack)
        if problem is not None:
            return problem
    return None


#: An upper bound of the JSON size of one character (``\uXXXX``) and of any number.
_CHAR_BYTES = 6
_NUMBER_BYTES = 32


#: Past this many values, the walk hands over to the JSON encoder (which also finds a value
#: that refers to itself, where a walk would never end).
MAX_NODES = 1_000_000
_TOO_MANY = -1


def _bound(value: Any, budget: int) -> int | None:
    """An upper bound of ``value``'s size as JSON; ``None`` if it holds a problem;
    `_TOO_MANY` past ``budget`` values (a value that refers to itself never ends).

    One walk without paths or copies: the common case (a value that is fine) costs little.
    """
    size = 0
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return _TOO_MANY
        current = stack.pop()
        if isinstance(current, str):
            if _string_problem(current):
                return None
            size += _CHAR_BYTES * len(current) + 2
        elif isinstance(current, Mapping):
            for key in current:
                if not isinstance(key, str) or _string_problem(key):
                    return None
                size += _CHAR_BYTES * len(key) + 4
            stack.extend(current.values())
            size += 2
        elif isinstance(current, list | tuple):
            stack.extend(current)
            size += 2 + len(current)
        else:
            scalar = _scalar_bound(current)
            if scalar is None:
                return None
            size += scalar
    return size


def _scalar_bound(value: Any) -> int | None:
    if isinstance(value, float):
        return _NUMBER_BYTES if math.isfinite(value) else None
    if isinstance(value, int):  # bool too
        return _NUMBER_BYTES
    return 4 if value is None else None


def _encoded_problem(value: Any, path: str, max_bytes: int | None) -> str | None:
    """For a value too big to walk cheaply: what the encoder says of it."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # a cycle, or NaN
        return f"{path}: {exc}"
    except TypeError as exc:
        return f"{path}: {exc}"
    size = len(text.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        return f"{path}: is {size:,} bytes as JSON, over the limit of {max_bytes:,}"
    if "\\u0000" in text or "\x00" in text:
        return f"{path}: contains a NUL character (\\u0000), which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{path}: contains a lone surrogate, which is not valid Unicode"
    return None


def json_problem(value: Any, path: str, *, max_bytes: int | None = MAX_VALUE_BYTES) -> str | None:
    """The first reason ``value`` cannot be stored, prefixed with its path; ``None`` if it can.

    Walks the value without recursion (nesting depth is the caller's to choose), then, only if
    a bound of its size passes ``max_bytes``, measures it encoded.
    """
    if not value and isinstance(value, Mapping | list | tuple):
        return None
    bound = _bound(value, MAX_NODES)
    if bound == _TOO_MANY:
        return _encoded_problem(value, path, max_bytes)
    if bound is None:
        return _located(value, path)
    if max_bytes is not None and bound > max_bytes:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > max_bytes:
            return f"{path}: is {size:,} bytes as JSON, over the limit of {max_bytes:,}"
    return None
