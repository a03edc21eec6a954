"""Trust profiles and the python.call allowlist: refused at validation, and again at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskflow import ConfigurationError, DefinitionError, TaskManager, TaskStatus, create_session
from taskflow.api.trees import from_others, replay_difference
from taskflow.definition import build_tree
from taskflow.executors import (
    ExecutorRegistry,
    SafetySetting,
    TrustProfile,
    TrustSettings,
    get_registry,
    tree_trust,
    trust_settings,
    use_trust,
)
from taskflow.executors.builtin import PythonCall

S = TaskStatus


@pytest.fixture(autouse=True)
def _trust_from_a_clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TASKFLOW_TRUST", raising=False)
    monkeypatch.delenv("TASKFLOW_PYTHON_CALL_ALLOW", raising=False)
    use_trust(None)
    yield
    use_trust(None)


@pytest.fixture
async def manager() -> AsyncIterator[TaskManager]:
    manager = TaskManager(create_session("memory://"))
    try:
        yield manager
    finally:
        await manager.close()


def call(function: str, *args: Any, key: str = "call") -> dict[str, Any]:
    return {
        "key": key,
        "executor": "python.call",
        "inputs": {"function": function, "args": list(args)},
    }


def touch_command(marker: Path) -> str:
    return f"touch {marker}"


async def test_os_system_is_refused_at_validation_under_the_server_profile(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    marker = tmp_path / "pwned.txt"
    with pytest.raises(DefinitionError) as caught:
        await manager.run_tree(call("os:system", touch_command(marker), key="pwn"))
    message = str(caught.value)
    assert "pwn" in message
    assert "inputs.function: 'os:system' is not allowed by the python.call allowlist" in message
    assert "trust profile server: nothing" in message
    assert not marker.exists()
    with pytest.raises(DefinitionError, match="'os:system' is not allowed"):
        manager.check(call("os:system", "true"))  # what `taskflow validate` runs


async def test_under_the_local_profile_anything_may_be_called(manager: TaskManager) -> None:
    tree = await manager.run_tree(call("os:getcwd"))
    assert tree.task.status is S.COMPLETED
    assert tree.task.result == {"value": str(Path.cwd())}


async def test_an_allowlist_from_the_environment_applies_under_the_local_profile_too(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_PYTHON_CALL_ALLOW", "math:*, operator:add")
    tree = await manager.run_tree(call("math:sqrt", 16))
    assert tree.task.result == {"value": 4.0}
    with pytest.raises(DefinitionError) as caught:
        manager.check(call("os:system", "true"))
    assert "trust profile local: math:*, operator:add" in str(caught.value)


async def test_the_server_profile_runs_what_its_allowlist_names(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_PYTHON_CALL_ALLOW", "textwrap:*")
    tree = await manager.run_tree(call("textwrap:dedent", "  indented"))
    assert tree.task.result == {"value": "indented"}


async def test_a_callable_that_came_through_a_reference_is_refused_when_the_task_runs(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_PYTHON_CALL_ALLOW", "math:*")
    marker = tmp_path / "pwned.txt"
    definition = {
        "key": "root",
        "children": [
            {"key": "source", "executor": "noop", "inputs": {"function": "os:system"}},
            {
                "key": "call",
                "executor": "python.call",
                "dependencies": ["source"],
                "inputs": {"function": "${source.result.function}", "args": [f"touch {marker}"]},
            },
        ],
    }
    tree = await manager.run_tree(definition)  # the name is not known before it runs
    task = next(node.task for node in tree.walk() if node.task.key == "call")
    assert (task.status, task.error_type) == (S.FAILED, "InputValidationError")
    assert "inputs.function: 'os:system' is not allowed" in (task.error or "")
    assert not marker.exists()


async def test_an_allowed_module_is_no_way_to_reach_what_it_imports(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # json imports codecs: json:codecs.lookup names an allowed module, but is _codecs:lookup.
    monkeypatch.setenv("TASKFLOW_PYTHON_CALL_ALLOW", "json:*")
    tree = await manager.run_tree(call("json:codecs.lookup", "utf-8"))
    assert (tree.task.status, tree.task.error_type) == (S.FAILED, "InputValidationError")
    assert "'json:codecs.lookup' (that is '_codecs:lookup') is not allowed" in (
        tree.task.error or ""
    )
    tree = await manager.run_tree(call("json:dumps", [1]))
    assert tree.task.result == {"value": "[1]"}


async def test_python_settings_win_over_the_environment(
    manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    use_trust(TrustSettings(profile=TrustProfile.SERVER, python_call_allow=("math:*",)))
    assert (await manager.run_tree(call("math:floor", 2.5))).task.result == {"value": 2}
    use_trust(TrustSettings())  # local, no allowlist: the environment's server is ignored
    assert (await manager.run_tree(call("operator:neg", 1))).task.result == {"value": -1}
    use_trust("server")  # what taskflow serve does: the server profile, the rest from env
    assert trust_settings() == TrustSettings(profile=TrustProfile.SERVER, python_call_allow=())
    use_trust(None)
    monkeypatch.delenv("TASKFLOW_TRUST")
    assert trust_settings() == TrustSettings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASKFLOW_TRUST", "paranoid", "TASKFLOW_TRUST: 'paranoid' is not a trust profile"),
    ],
)
def test_a_malformed_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        trust_settings()


def test_the_environment_gives_profile_and_allowlist() -> None:
    environ = {"TASKFLOW_TRUST": "Server", "TASKFLOW_PYTHON_CALL_ALLOW": " a:b ,, c.*:* "}
    assert TrustSettings.from_environment(environ=environ) == TrustSettings(
        profile=TrustProfile.SERVER, python_call_allow=("a:b", "c.*:*")
    )
    assert TrustSettings.from_environment(environ={"TASKFLOW_PYTHON_CALL_ALLOW": ""}) == (
        TrustSettings(python_call_allow=())  # set but empty: nothing may be called
    )


def test_python_call_declares_its_safety_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKFLOW_PYTHON_CALL_ALLOW", "myapp.*:*")
    (setting,) = PythonCall().safety()
    assert isinstance(setting, SafetySetting)
    assert setting.to_dict() == {
        "name": "python_call_allow",
        "description": setting.description,
        "local": None,
        "server": [],
        "current": ["myapp.*:*"],
        "env": "TASKFLOW_PYTHON_CALL_ALLOW",
    }


def test_executors_without_settings_declare_none() -> None:
    registry = ExecutorRegistry(discover_plugins=False)
    info = registry.register(get_registry().get("noop").cls)  # type: ignore[union-attr]
    assert (info.checks_inputs, list(info.create().safety())) == (False, [])
    assert get_registry().get("python.call").checks_inputs  # type: ignore[union-attr]


def test_a_tree_s_server_profile_tightens_a_local_process_and_never_loosens() -> None:
    assert trust_settings().profile is TrustProfile.LOCAL
    with tree_trust("server"):
        assert trust_settings() == TrustSettings(profile=TrustProfile.SERVER, python_call_allow=())
    assert trust_settings().profile is TrustProfile.LOCAL  # only while its task runs
    use_trust("server")
    with tree_trust("local"), tree_trust(None):
        assert trust_settings().profile is TrustProfile.SERVER
    with pytest.raises(ConfigurationError, match="'lax' is not a trust profile"), tree_trust("lax"):
        pass


async def test_a_task_whose_tree_came_from_others_runs_under_the_server_profile_here(
    manager: TaskManager, tmp_path: Path
) -> None:
    """The ``trust`` parameter the HTTP API gives every task: this process is ``local``, yet
    the name from a result is refused when the task runs (and its sibling without it runs)."""
    marker = tmp_path / "pwned.txt"
    call = {"executor": "python.call", "dependencies": ["source"]}
    definition = from_others(
        {
            "key": "root",
            "children": [
                {"key": "source", "executor": "noop", "inputs": {"function": "os:system"}},
                {**call, "key": "call", "params": {"trust": "local"},  # replaced: cannot loosen
                 "inputs": {"function": "${source.result.function}", "args": [f"touch {marker}"]}},
            ],
        }
    )  # fmt: skip
    tree = await manager.run_tree(definition)
    task = next(node.task for node in tree.walk() if node.task.key == "call")
    assert (task.status, task.error_type) == (S.FAILED, "InputValidationError")
    assert "'os:system' is not allowed" in (task.error or "")
    assert "trust profile server" in (task.error or "")
    assert task.params == {"trust": "server"}
    assert not marker.exists()
    local = {
        "key": "root",
        "children": [
            {"key": "source", "executor": "noop", "inputs": {"function": "os:getcwd"}},
            {**call, "key": "call", "inputs": {"function": "${source.result.function}"}},
        ],
    }
    tree = await manager.run_tree(local)
    task = next(node.task for node in tree.walk() if node.task.key == "call")
    assert task.status is S.COMPLETED, task.error


def test_from_others_marks_every_task_of_a_deep_or_flat_definition() -> None:
    deep: dict[str, Any] = {"key": "t0"}
    spec = deep
    for depth in range(1, 3000):  # deeper than Python's recursion limit
        child: dict[str, Any] = {"key": f"t{depth}", "executor": "noop"}
        spec["children"] = [child]
        spec = child
    marked, seen = from_others(deep), 0
    spec = marked
    while spec is not None:
        assert spec["params"] == {"trust": "server"}
        seen += 1
        spec = spec.get("children", [None])[0]
    assert seen == 3000 and "params" not in deep  # the given definition is left as it was
    flat = from_others([{"id": "a", "params": {"x": 1}}, {"id": "b", "parent_id": "a"}])
    assert [s["params"] for s in flat] == [{"x": 1, "trust": "server"}, {"trust": "server"}]


def test_a_replay_of_a_tree_stored_before_the_server_marked_its_tasks_is_the_same_tree() -> None:
    """An Idempotency-Key replay compares what the body defines, not the ``trust`` the server
    adds (a tree created before the server added it is not "another tree")."""
    definition = {"key": "root", "children": [{"key": "a", "executor": "noop", "params": {"x": 1}}]}
    stored = build_tree(definition, tree_id="t")
    given = build_tree(from_others(definition), tree_id="t")
    assert replay_difference(stored, given) is None
    other = {**definition, "children": [{"key": "a", "executor": "noop", "params": {"x": 2}}]}
    assert replay_difference(stored, build_tree(from_others(other), tree_id="t")) == (
        "task 'a' has another params"
    )
