from __future__ import annotations

from typing import Any

import pytest

from taskflow import (
    DefinitionError,
    DependencyCycle,
    InvalidReference,
    UnknownExecutor,
    build_tree,
    check_tree,
)

EXECUTORS = {"noop", "sleep", "http.request"}


def keys(tasks: list[Any]) -> list[str]:
    return [t.key for t in tasks]


def test_nested_definition_gives_ids_keys_parents_and_tree() -> None:
    tasks = build_tree(
        {
            "key": "root",
            "name": "Root",
            "children": [
                {"key": "a", "executor": "noop", "inputs": {"x": 1}},
                {
                    "key": "b",
                    "executor": "noop",
                    "dependencies": ["a", {"id": "a", "required": False}],
                },
            ],
        },
        user_id="u1",
    )
    root, a, b = tasks
    assert keys(tasks) == ["root", "a", "b"]
    assert root.executor is None and root.is_group and root.tree_id == root.id
    assert {a.tree_id, b.tree_id} == {root.id} and a.parent_id == root.id
    assert b.dependencies[0].id == a.id and b.dependencies[1].required is False
    assert {t.user_id for t in tasks} == {"u1"}
    assert [t.position for t in tasks] == [0, 1, 2]


def test_flat_lineage_format_with_schemas_method_and_local_ids() -> None:
    tasks = build_tree(
        [
            {
                "id": "task_2",
                "name": "Second",
                "parent_id": "task_1",
                "schemas": {"method": "noop"},
                "dependencies": [{"id": "task_3", "required": True}],
            },
            {"id": "task_1", "name": "Root task", "schemas": {"method": "noop"}},
            {"id": "task_3", "name": "noop", "parent_id": "task_1"},
        ]
    )
    by_key = {t.key: t for t in tasks}
    assert keys(tasks)[0] == "task_1"  # parents first, whatever the list order
    assert by_key["task_2"].executor == "noop" and by_key["task_2"].name == "Second"
    assert by_key["task_3"].executor == "noop"  # name is the executor id without schemas.method
    assert by_key["task_1"].executor == "noop"  # explicit method: not a group despite children
    assert by_key["task_2"].dependencies[0].id == by_key["task_3"].id


def test_a_task_without_executor_but_with_children_is_a_group() -> None:
    tasks = build_tree({"name": "stage", "children": [{"name": "noop"}]})
    assert tasks[0].executor is None and tasks[1].executor == "noop"
    assert keys(tasks) == ["stage", "noop"]


def test_keys_are_derived_from_names_and_deduplicated() -> None:
    tasks = build_tree({"name": "my root", "children": [{"name": "noop"}, {"name": "noop"}]})
    assert keys(tasks) == ["my_root", "noop", "noop_2"]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"name": "r", "children": [{"key": "a", "executor": "noop", "colour": 1}]},
            r"task 'a': unknown field\(s\) colour",
        ),
        (
            {
                "name": "r",
                "children": [{"key": "a", "executor": "noop"}, {"key": "a", "executor": "noop"}],
            },
            "used by more than one",
        ),
        (
            {"name": "r", "children": [{"key": "a", "executor": "noop", "priority": 7}]},
            "task 'a': priority must be",
        ),
        (
            {
                "name": "r",
                "children": [
                    {"key": "a", "executor": "noop", "dependencies": ["fetc"]},
                    {"key": "fetch", "executor": "noop"},
                ],
            },
            "task 'a': depends on 'fetc'.*did you mean 'fetch'",
        ),
        (
            {"name": "r", "children": [{"key": "a", "executor": "noop", "inputs": [1]}]},
            "task 'a': inputs must be a mapping",
        ),
        ({"name": "r", "children": [{"key": "a.b", "executor": "noop"}]}, "without dots"),
        ([], "empty"),
        ([{"id": "a", "name": "noop"}, {"id": "b", "name": "noop"}], "exactly one root"),
        (
            [{"id": "a", "name": "noop"}, {"id": "b", "name": "noop", "parent_id": "zz"}],
            "parent_id 'zz'",
        ),
        ("text", "mapping or a list"),
    ],
)
def test_malformed_definitions_name_the_task_and_problem(definition: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        build_tree(definition)


def test_cycle_reports_its_path() -> None:
    tasks = build_tree(
        {
            "name": "r",
            "children": [
                {"key": "a", "executor": "noop", "dependencies": ["c"]},
                {"key": "b", "executor": "noop", "dependencies": ["a"]},
                {"key": "c", "executor": "noop", "dependencies": ["b"]},
                {"key": "d", "executor": "noop", "dependencies": ["a"]},
            ],
        }
    )
    with pytest.raises(DependencyCycle) as caught:
        check_tree(tasks, executors=EXECUTORS)
    path = caught.value.path
    assert path[0] == path[-1] and sorted(path[:-1]) == ["a", "b", "c"]
    assert " -> ".join(path) in str(caught.value)


def test_self_dependency_is_a_cycle() -> None:
    tasks = build_tree(
        {"name": "r", "children": [{"key": "a", "executor": "noop", "dependencies": ["a"]}]}
    )
    with pytest.raises(DependencyCycle, match="a -> a"):
        check_tree(tasks)


def test_unknown_executor_suggests_close_ids() -> None:
    tasks = build_tree({"name": "r", "children": [{"key": "get", "executor": "http.requests"}]})
    with pytest.raises(
        UnknownExecutor,
        match=r"task 'get': unknown executor 'http.requests'; did you mean 'http.request'",
    ):
        check_tree(tasks, executors=EXECUTORS)


def test_reference_must_be_upstream() -> None:
    tasks = build_tree(
        {
            "name": "r",
            "children": [
                {"key": "a", "executor": "noop"},
                {"key": "b", "executor": "noop", "inputs": {"v": "${a.result.x}"}},
            ],
        }
    )
    with pytest.raises(
        InvalidReference, match="task 'b': inputs refer to 'a', which is not upstream"
    ):
        check_tree(tasks)


def test_transitive_upstream_reference_is_fine() -> None:
    tasks = build_tree(
        {
            "name": "r",
            "children": [
                {"key": "a", "executor": "noop"},
                {"key": "b", "executor": "noop", "dependencies": ["a"]},
                {
                    "key": "c",
                    "executor": "noop",
                    "dependencies": ["b"],
                    "inputs": {"v": "${a.result.x}", "w": "${b.status}"},
                },
            ],
        }
    )
    check_tree(tasks, executors=EXECUTORS)


@pytest.mark.parametrize(
    ("value", "message"),
    [("${zz.result}", "not a task of this tree"), ("${a.output}", "must look like KEY.result")],
)
def test_bad_references(value: str, message: str) -> None:
    tasks = build_tree(
        {
            "name": "r",
            "children": [
                {"key": "a", "executor": "noop"},
                {"key": "b", "executor": "noop", "dependencies": ["a"], "inputs": {"v": value}},
            ],
        }
    )
    with pytest.raises(InvalidReference, match=message):
        check_tree(tasks)


def test_depending_on_a_group_that_contains_you_is_a_cycle() -> None:
    tasks = build_tree(
        {"key": "stage", "children": [{"key": "a", "executor": "noop", "dependencies": ["stage"]}]}
    )
    with pytest.raises(DependencyCycle, match=r"stage -> a -> stage|a -> stage -> a"):
        check_tree(tasks)


def test_depending_on_a_parent_with_an_executor_or_a_sibling_group_is_fine() -> None:
    tasks = build_tree(
        {
            "key": "p",
            "executor": "noop",
            "children": [
                {"key": "a", "executor": "noop", "dependencies": ["p", "g"]},
                {"key": "g", "children": [{"key": "b", "executor": "noop"}]},
            ],
        }
    )
    check_tree(tasks)


def test_a_deadline_past_the_calendar_or_a_concurrency_past_32_bits_is_refused() -> None:
    from taskflow import DefinitionError, build_tree

    with pytest.raises(DefinitionError, match="too far away"):
        build_tree({"name": "t", "deadline": 1e300, "children": [{"key": "a", "executor": "noop"}]})
    with pytest.raises(DefinitionError, match="from 1 to 2147483647"):
        build_tree(
            {"name": "t", "concurrency": 2**40, "children": [{"key": "a", "executor": "noop"}]}
        )
