from __future__ import annotations

from typing import Any

import pytest

from taskflow.references import ReferenceResolutionError, referenced_keys, resolve

RESULTS: dict[str, dict[str, Any]] = {
    "fetch": {
        "result": {"body": {"items": [{"name": "x"}, {"name": "y"}]}, "code": 200},
        "status": "completed",
        "error": None,
    },
    "maybe": {"result": None, "status": "failed", "error": "boom"},
}


def lookup(key: str) -> dict[str, Any]:
    return RESULTS[key]


def test_whole_string_reference_keeps_the_type() -> None:
    assert resolve("${fetch.result.body}", lookup) == {"items": [{"name": "x"}, {"name": "y"}]}
    assert resolve("${fetch.result.code}", lookup) == 200
    assert resolve("${ fetch.result.body.items.1.name }", lookup) == "y"


def test_references_inside_text_are_formatted() -> None:
    assert (
        resolve("code=${fetch.result.code} first=${fetch.result.body.items.0.name}", lookup)
        == "code=200 first=x"
    )
    assert resolve("body: ${fetch.result.body.items.0}", lookup) == 'body: {"name": "x"}'


def test_nested_structures_and_status_error_fields() -> None:
    value = {"a": ["${maybe.status}", {"b": "${maybe.error}"}], "n": 3}
    assert resolve(value, lookup) == {"a": ["failed", {"b": "boom"}], "n": 3}


def test_escape_writes_a_literal() -> None:
    assert resolve("cost: $${fetch.result.code}", lookup) == "cost: ${fetch.result.code}"
    assert referenced_keys("$${fetch.result}") == set()


def test_missing_path_names_what_is_there() -> None:
    with pytest.raises(
        ReferenceResolutionError,
        match=r"fetch\.result\.body has no 'item' \(it is an object with keys 'items'\)",
    ):
        resolve("${fetch.result.body.item}", lookup)
    with pytest.raises(ReferenceResolutionError, match=r"maybe\.result has no 'x' \(it is null"):
        resolve("${maybe.result.x}", lookup)


def test_referenced_keys_walks_everything() -> None:
    assert referenced_keys({"a": ["${x.result}", {"b": "t ${y.status} ${x.error}"}], "c": 1}) == {
        "x",
        "y",
    }


def test_resolve_copies_instead_of_mutating() -> None:
    inputs = {"list": [1, 2]}
    resolved = resolve(inputs, lookup)
    resolved["list"].append(3)
    assert inputs == {"list": [1, 2]}
