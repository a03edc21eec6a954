"""Loading tree files that are hostile or careless: errors name the file and line (issue 9)."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from taskflow.documents import MAX_DEPTH
from taskflow.treefile import TreeFileError, load_tree_file, parse_assignments

LOL_TREE = """\
tasks:
  - key: a
    executor: noop
    inputs:
      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def group_chain(groups: int) -> dict[str, Any]:
    """A tree file with ``groups`` groups within groups around one task."""
    task: dict[str, Any] = {"key": "leaf", "executor": "noop", "inputs": {}}
    for level in range(groups):
        task = {"key": f"g{level}", "children": [task]}
    return {"tasks": [task]}


def block_yaml(value: Any, indent: str = "") -> str:
    """Block-style YAML of a JSON value made of mappings and lists, one key per line."""
    lines: list[str] = []
    stack = [(value, indent)]
    while stack:  # iterative: the values here are deeper than the recursion limit allows
        item, pad = stack.pop()
        pending = []
        for key, child in item.items() if isinstance(item, dict) else enumerate(item):
            head = f"{pad}{key}:" if isinstance(item, dict) else f"{pad}-"
            if isinstance(child, dict | list) and child:
                lines.append(head)
                pending.append((child, pad + "  "))
            else:
                lines.append(f"{head} {json.dumps(child)}")
        assert len(pending) <= 1, "one nested value per level keeps this simple"
        stack.extend(pending)
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def refusal(path: Path) -> TreeFileError:
    with pytest.raises(TreeFileError) as caught:
        load_tree_file(path)
    assert caught.value.path == str(path)
    return caught.value


def test_a_billion_laughs_tree_is_refused_in_milliseconds_naming_file_and_line(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "lol.yaml", LOL_TREE)
    tracemalloc.start()
    started = time.process_time()
    try:
        error = refusal(path)
    finally:
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert str(error).startswith(f"{path}:10:14: YAML aliases that stand for more than 100000")
    assert elapsed < 0.5, elapsed
    assert peak < 2_000_000, peak


def test_groups_nested_hundreds_deep_are_refused_with_the_limit(tmp_path: Path) -> None:
    text = block_yaml(group_chain(300))
    path = write(tmp_path, "deep.yaml", text)
    error = refusal(path)
    # levels: the root, tasks, then a group and its children per group: level 101 is the
    # 50th group from the top, g250, which begins on line 150 (three lines per group)
    assert error.line == 150 and text.splitlines()[149].strip() == 'key: "g250"'
    assert str(error) == (
        f"{path}:150:201: "
        f"mappings and lists nested more than {MAX_DEPTH} levels deep (at most {MAX_DEPTH})"
    )


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_deeply_nested_inputs_are_refused_in_yaml_and_json(tmp_path: Path, name: str) -> None:
    tree = {"tasks": [{"key": "a", "executor": "noop", "inputs": {"v": "x"}}]}
    text = json.dumps(tree).replace('{"v": "x"}', '{"v": ' * 2_000 + '"x"' + "}" * 2_000)
    error = refusal(write(tmp_path, name, text))
    assert error.line == 1 and "nested more than 100 levels deep" in str(error)


def test_a_tree_at_the_depth_limit_loads(tmp_path: Path) -> None:
    # document levels: root, tasks, then a group and its children per group, the leaf, inputs
    groups = (MAX_DEPTH - 4) // 2
    chain = group_chain(groups)
    for name, text in (("limit.yaml", block_yaml(chain)), ("limit.json", json.dumps(chain))):
        tree = load_tree_file(write(tmp_path, name, text))
        node: Any = tree.definition
        for _ in range(groups):
            node = node["children"][0]
        assert node["children"][0] == {"key": "leaf", "executor": "noop", "inputs": {}}


def test_a_file_that_is_not_utf8_names_the_offset_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.yaml", "tasks:\n  - key: café\n".encode("latin-1"))
    assert str(refusal(path)) == (
        f"{path}:2:13: not UTF-8 text: byte 0xe9 at offset 19 cannot be decoded"
    )


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    text = '{"tasks": [{"key": "café", "executor": "noop"}]}'
    tree = load_tree_file(write(tmp_path, "bom.json", b"\xef\xbb\xbf" + text.encode()))
    definition: Any = tree.definition
    assert definition["children"] == [{"key": "café", "executor": "noop"}]


ARGV_YAML = """\
tasks:
  - key: clean
    executor: shell.run
    inputs:
      argv: [echo, safe]
      argv: [rm, -rf, /tmp/nothing-here]
"""
ARGV_JSON = """\
{"tasks": [{"key": "clean", "executor": "shell.run",
            "inputs": {"argv": ["echo", "safe"],
                       "argv": ["rm", "-rf", "/tmp/nothing-here"]}}]}
"""


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("argv.yaml", ARGV_YAML, "6:7: duplicate key 'argv' (lines 5 and 6)"),
        ("argv.json", ARGV_JSON, "3:24: duplicate key 'argv' (lines 2 and 3)"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key_and_both_lines(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = write(tmp_path, name, text)
    assert str(refusal(path)) == f"{path}:{where}: a key may appear only once in a mapping"


def test_a_duplicate_task_field_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "twice.yaml", "tasks:\n  - key: a\n    executor: noop\n    executor: sleep\n"
    )
    assert str(refusal(path)).startswith(f"{path}:4:5: duplicate key 'executor' (lines 3 and 4)")


def test_anchors_merge_keys_and_dates_load_as_json_values(tmp_path: Path) -> None:
    text = """\
parameters: {day: 2024-01-01}
tasks:
  - {key: a, executor: noop, inputs: &common {day: "${params.day}", n: 1, tags: [x, y]}}
  - {key: b, executor: noop, inputs: {<<: *common, n: 2}}
  - {key: c, executor: noop, inputs: *common}
"""
    tree = load_tree_file(write(tmp_path, "anchors.yaml", text))
    definition: Any = tree.definition
    inputs = [task["inputs"] for task in definition["children"]]
    common = {"day": "2024-01-01", "n": 1, "tags": ["x", "y"]}
    assert inputs == [common, {**common, "n": 2}, common]


def test_an_alias_loop_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "loop.yaml", "tasks:\n  - &t {key: a, executor: noop, inputs: {me: *t}}\n"
    )
    assert str(refusal(path)) == (
        f"{path}:2:46: alias *t refers to a mapping or list that contains it"
    )


def test_a_file_that_cannot_be_read_is_reported_as_before(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert str(refusal(path)) == f"{path}: cannot read the file: No such file or directory"


def test_set_values_are_read_as_in_a_tree_file() -> None:
    assert parse_assignments(["day=2024-01-01", "n=3", "on=on", "bad={a: 1, a: 2}", "e="]) == {
        "day": "2024-01-01",  # a string, as in a file (it was a datetime.date JSON cannot hold)
        "n": 3,
        "on": True,
        "bad": "{a: 1, a: 2}",
        "e": "",
    }
