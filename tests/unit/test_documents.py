"""Reading YAML and JSON documents safely: the refusals of `taskflow.documents` (issue 9)."""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from typing import Any

import pytest

from taskflow.documents import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    DocumentError,
    decode_utf8,
    load_json,
    load_yaml,
)

LOL = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""  # the classic "billion laughs": 9**9 strings


def refusal(load: Any, text: str) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load(text)
    return caught.value


def nested_yaml(depth: int, flow: bool) -> str:
    """A YAML document of ``depth`` nested mappings ending in a scalar."""
    if flow:
        return "{a: " * depth + "x" + "}" * depth + "\n"
    return (
        "".join("  " * level + "a:\n" for level in range(depth - 1)) + "  " * (depth - 1) + "a: x\n"
    )


def nested_json(depth: int) -> str:
    return '{"a": [' * (depth // 2) + ("{}" if depth % 2 else "1") + "]}" * (depth // 2)


def depth_of(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend(
                (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


# -- YAML aliases --------------------------------------------------------------------------


def test_billion_laughs_is_refused_in_milliseconds_and_kilobytes() -> None:
    tracemalloc.start()
    started = time.process_time()
    try:
        error = refusal(load_yaml, LOL)
    finally:
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert "aliases that stand for more than 100000 values" in error.message
    assert error.line == 6  # the first alias past the bound: 9**5 strings under f
    assert elapsed < 0.5, elapsed
    assert peak < 1_000_000, peak


def test_aliases_up_to_the_bound_load_and_one_more_value_is_refused() -> None:
    anchor = "[" + ", ".join(["x"] * 999) + "]"  # a list and 999 strings: 1000 values
    uses = MAX_ALIAS_NODES // 1000
    text = f"s: &s x\na: &a {anchor}\nb: [{', '.join(['*a'] * uses)}]\n"
    value = load_yaml(text)
    assert len(value["b"]) == uses and value["b"][0] is value["a"]
    error = refusal(load_yaml, text.replace("b: [", "b: [*s, "))
    assert error.line == 3 and "more than 100000 values" in error.message


def test_anchors_and_merge_keys_still_work() -> None:
    text = "base: &base {url: http://a, tries: 2}\nuse: {<<: *base, url: http://b}\nalso: *base\n"
    assert load_yaml(text) == {
        "base": {"url": "http://a", "tries": 2},
        "use": {"url": "http://b", "tries": 2},
        "also": {"url": "http://a", "tries": 2},
    }


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: [1, {c: *a}]}\n"])
def test_an_alias_inside_what_it_names_is_refused(text: str) -> None:
    error = refusal(load_yaml, text)
    assert error.message == "alias *a refers to a mapping or list that contains it"
    assert error.line == 1


def test_depth_counts_what_an_alias_stands_for() -> None:
    deep = "[" * 60 + "x" + "]" * 60
    assert depth_of(load_yaml(f"a: &a {deep}\nb: *a\n")) == 61
    error = refusal(load_yaml, f"a: &a {deep}\nb: {'[' * 40}*a{']' * 40}\n")
    assert error.line == 2 and "nested more than 100 levels" in error.message


# -- depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", [False, True], ids=["block", "flow"])
def test_yaml_at_the_depth_limit_loads_and_deeper_is_refused_with_its_line(flow: bool) -> None:
    assert depth_of(load_yaml(nested_yaml(MAX_DEPTH, flow))) == MAX_DEPTH
    error = refusal(load_yaml, nested_yaml(MAX_DEPTH + 1, flow))
    assert error.message == "mappings and lists nested more than 100 levels deep (at most 100)"
    assert error.line == (1 if flow else MAX_DEPTH + 1)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_very_deep_yaml_is_refused_not_a_recursion_error(depth: int) -> None:
    text = "tasks:\n  - key: a\n    executor: noop\n    inputs: " + "[" * depth + "]" * depth + "\n"
    error = refusal(load_yaml, text)
    assert (error.line, error.column) == (4, 13 + MAX_DEPTH - 3)  # the root, tasks, task


def test_json_at_the_depth_limit_loads_and_deeper_is_refused_with_its_line() -> None:
    assert depth_of(load_json(nested_json(MAX_DEPTH))) == MAX_DEPTH
    error = refusal(load_json, "{\n" + nested_json(MAX_DEPTH + 1)[1:].replace("[", "[\n", 1))
    assert "nested more than 100 levels" in error.message and error.line == 3


@pytest.mark.parametrize("depth", [300, 3_000, 100_000])
def test_very_deep_json_is_refused_not_a_recursion_error(depth: int) -> None:
    error = refusal(load_json, '{"tasks": ' + "[" * depth + "]" * depth + "}")
    assert (error.line, error.column) == (1, 10 + MAX_DEPTH)  # bracket 100, at level 101


# -- keys ----------------------------------------------------------------------------------

ARGV = "tasks:\n  - key: a\n    executor: shell.run\n    inputs:\n      argv: [echo, safe]\n      argv: [rm, -rf, /]\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (ARGV, 6, "duplicate key 'argv' (lines 5 and 6): a key may appear only once in a mapping"),
        ("a: 1\nb: 2\n'a': 3\n", 3, "duplicate key 'a' (lines 1 and 3)"),
        ('{a: 1, "a": 2}\n', 1, "duplicate key 'a' (line 1)"),
        ("x:\n  - {k: 1}\n  - {k: 1, j: 2, k: 3}\n", 3, "duplicate key 'k' (line 3)"),
        ("base: &b {u: 1}\nuse: {<<: *b, v: 2, v: 3}\n", 2, "duplicate key 'v' (line 2)"),
    ],
)
def test_duplicate_yaml_keys_are_refused_naming_the_key_and_both_lines(
    text: str, line: int, message: str
) -> None:
    error = refusal(load_yaml, text)
    assert error.message.startswith(message) and error.line == line


@pytest.mark.parametrize("value", ["x", "[{a: 1}, x]"])
def test_merging_something_other_than_mappings_is_refused(value: str) -> None:
    error = refusal(load_yaml, f"m: {{<<: {value}}}\n")
    assert error.message == (
        "invalid YAML: expected a mapping or list of mappings for merging, but found scalar"
    )


def test_a_merged_key_overridden_by_the_mapping_is_not_a_duplicate() -> None:
    # e's merge rewrites b's node before b itself (deeper in d) is constructed.
    text = "m: &m {k: 1}\nd: {x: &b {<<: *m, k: 2}}\ne: {<<: *b, j: 0}\nc: {<<: [*b, *m], k: 3}\n"
    value = load_yaml(text)
    assert (value["d"]["x"], value["e"], value["c"]) == ({"k": 2}, {"k": 2, "j": 0}, {"k": 3})


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '{"tasks": [{"key": "a", "executor": "shell.run",\n "inputs": {"argv": ["echo", "safe"],\n'
            '  "argv": ["rm", "-rf", "/"]}}]}\n',
            3,
            "duplicate key 'argv' (lines 2 and 3)",
        ),
        ('{"a": 1, "\\u0061": 2}', 1, "duplicate key 'a' (line 1)"),
        (
            '[{"a": {"a": 1, "b": "a"}, "b": [{"a": 1}], "c": "x"},\n {"c": 1, "c": 2}]',
            2,
            "duplicate key 'c'",
        ),
    ],
)
def test_duplicate_json_keys_are_refused_naming_the_key_and_both_lines(
    text: str, line: int, message: str
) -> None:
    error = refusal(load_json, text)
    assert error.message.startswith(message) and error.line == line


def test_json_keys_that_only_look_alike_are_not_duplicates() -> None:
    text = '{"a": "a", "b": ["a", "a", {"a": "}"}], "c": {"a": "\\"a\\""}, "A": 0, "a ": 1}'
    assert load_json(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "on: x\n",
            "the key 'on' is read as true, not a string: keys must be strings (quote it: \"on\")",
        ),
        ("inputs: {200: ok}\n", "the key '200' is read as 200"),
        ("~: x\n", "the key '~' is read as null"),
        ("? [a, b]\n: x\n", "a key that is a mapping or a list: keys must be strings"),
    ],
)
def test_yaml_keys_must_be_strings(text: str, message: str) -> None:
    assert refusal(load_yaml, text).message.startswith(message)


# -- values --------------------------------------------------------------------------------


def test_plain_dates_stay_strings_and_types_json_lacks_are_refused() -> None:
    assert load_yaml("d: 2024-01-01\nt: 2001-12-14 21:59:43.10 -5\nbad: 2001-13-45\n") == {
        "d": "2024-01-01",
        "t": "2001-12-14 21:59:43.10 -5",
        "bad": "2001-13-45",
    }
    for tag in ("binary", "set", "omap", "pairs", "timestamp"):
        error = refusal(
            load_yaml, f"a: 1\nb: !!{tag} x\n" if tag != "set" else "a: 1\nb: !!set {x}\n"
        )
        assert error.message.startswith(f"!!{tag} is not a JSON value (only strings"), tag
        assert error.line == 2


def test_integers_too_long_to_convert_are_refused_with_their_line() -> None:
    digits = "1" * (sys.get_int_max_str_digits() + 1)
    error = refusal(load_yaml, f"a: 1\nb: {digits}\n")
    assert (error.line, error.message) == (2, "an integer with more than 4300 digits")
    error = refusal(load_json, f'{{"a": 1,\n "b": {digits}}}')
    assert (error.line, error.column) == (2, 7)
    assert error.message == "invalid JSON: an integer with more than 4300 digits"


def test_syntax_errors_keep_their_messages_and_lines() -> None:
    error = refusal(load_yaml, "tasks:\n  - key: a\n   inputs: {}\n")
    assert error.message.startswith("invalid YAML: ") and error.line == 3
    error = refusal(load_yaml, "tasks:\n  - key: a\x00b\n")
    assert error.message == (
        "invalid YAML: unacceptable character #x0000: special characters are not allowed"
    )
    assert (error.line, error.column) == (2, 11)
    with pytest.raises(json.JSONDecodeError) as syntax:
        json.loads('{"tasks":\n [1,]}')
    error = refusal(load_json, '{"tasks":\n [1,]}')
    assert error.message == f"invalid JSON: {syntax.value.msg}"
    assert (error.line, error.column) == (syntax.value.lineno, syntax.value.colno) == (2, 5)


# -- encoding ------------------------------------------------------------------------------


def test_text_that_is_not_utf8_names_the_offset_line_and_column() -> None:
    data = "tasks:\n  - key: café\n".encode("latin-1")
    with pytest.raises(DocumentError) as caught:
        decode_utf8(data)
    error = caught.value
    assert error.message == "not UTF-8 text: byte 0xe9 at offset 19 cannot be decoded"
    assert (error.line, error.column) == (2, 13)


def test_a_utf8_byte_order_mark_is_dropped_and_offsets_count_it() -> None:
    assert decode_utf8(b"\xef\xbb\xbfa: \xc3\xa9\n") == "a: é\n"
    with pytest.raises(DocumentError) as caught:
        decode_utf8(b"\xef\xbb\xbfa: \xc3\xa9\nb: \xff\n")
    assert "byte 0xff at offset 12" in caught.value.message
    assert (caught.value.line, caught.value.column) == (2, 4)


def test_utf16_is_named() -> None:
    with pytest.raises(DocumentError, match="starts with a UTF-16 byte order mark"):
        decode_utf8("tasks: []\n".encode("utf-16"))
