"""Issue 10's holes in shell.run: background children at exit, the environment, secrets in
output, one event per line, and the programs allowlist of the server trust profile."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shell_support import assert_gone
from taskflow_shell import ShellRun, ShellSettings, use_settings

from taskflow import DefinitionError, Task, TaskManager, TaskStatus
from taskflow.events import EventType, TaskEvent
from taskflow.executors import use_trust
from taskflow.testing import run_executor

S = TaskStatus
SECRET = "s3cr3t-value-from-the-worker"


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("TASKFLOW_TRUST", "TASKFLOW_SHELL_ALLOW"):
        monkeypatch.delenv(variable, raising=False)
    use_trust(None)
    use_settings(None)
    yield
    use_trust(None)
    use_settings(None)


async def events_of(manager: TaskManager, task: Task) -> list[TaskEvent]:
    last = await manager.task_repository.events.last_seq(task.tree_id)
    return await manager.task_repository.events.read(task.tree_id, limit=last + 1)


def stored(task: Task, events: list[TaskEvent]) -> str:
    """Everything kept of a run but its inputs: result, error and events, as text."""
    kept = [task.result, task.error, [event.data for event in events]]
    return json.dumps(kept)


# -- background children at exit ------------------------------------------------------------


async def test_a_command_that_leaves_a_child_in_the_background_ends_with_its_status() -> None:
    # sh exits at once; the sleep it left behind holds the output pipes open.
    started = asyncio.get_running_loop().time()
    task = await run_executor(
        ShellRun, {"command": "sleep 100 & echo $!", "shell": True, "timeout": 30}
    )
    elapsed = asyncio.get_running_loop().time() - started
    assert (task.status, task.error_type) == (S.COMPLETED, None), task.error
    assert elapsed < 5  # well under the timeout: not CommandTimeout 30 s later
    assert task.result is not None
    assert task.result["exit_code"] == 0
    await assert_gone(int(task.result["stdout"]))  # and what it left behind is killed


async def test_its_exit_status_counts_even_with_a_child_left_behind() -> None:
    task = await run_executor(
        ShellRun, {"command": "sleep 100 & echo started; exit 4", "shell": True, "timeout": 30}
    )
    assert (task.status, task.error_type) == (S.FAILED, "CommandFailed")
    assert task.result is not None
    assert (task.result["exit_code"], task.result["stdout"]) == (4, "started\n")


# -- the environment -------------------------------------------------------------------------


async def test_the_worker_environment_is_not_passed_on_by_default(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SECRET_TOKEN", SECRET)
    monkeypatch.setenv("UNRELATED_SETTING", "worker-only")
    task = await run_executor(
        ShellRun, {"argv": ["env"], "env": {"GREETING": "hi"}}, manager=task_manager
    )
    assert task.status is S.COMPLETED
    assert task.result is not None
    names = {line.split("=", 1)[0] for line in task.result["stdout"].splitlines()}
    assert names <= {"PATH", "HOME", "LANG", "GREETING"}
    assert {"PATH", "GREETING"} <= names
    kept = stored(task, await events_of(task_manager, task))
    assert SECRET not in kept
    assert "worker-only" not in kept


async def test_inherit_env_opts_in_and_secret_values_are_redacted(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SECRET_TOKEN", SECRET)
    script = 'echo "token=$MY_SECRET_TOKEN key=$API_KEY"; echo "$API_KEY" >&2; exit 3'
    inputs = {
        "argv": ["sh", "-c", script],
        "env": {"API_KEY": "named-in-the-task", "COLOR": "blue"},
        "inherit_env": True,
    }
    task = await run_executor(ShellRun, inputs, manager=task_manager)
    assert (task.status, task.error_type) == (S.FAILED, "CommandFailed")
    assert task.result is not None
    assert task.result["stdout"] == "token=[redacted] key=[redacted]\n"
    assert (task.error or "").endswith("stderr: [redacted]")
    events = await events_of(task_manager, task)
    logs = [event.data["message"] for event in events if event.type is EventType.LOG]
    assert "token=[redacted] key=[redacted]" in logs
    kept = stored(task, events)
    assert SECRET not in kept
    assert "named-in-the-task" not in kept


async def test_pass_env_hands_on_a_worker_variable_by_name(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SECRET_TOKEN", SECRET)
    script = 'echo "$MY_SECRET_TOKEN:$NOT_SET"'
    inputs = {"argv": ["sh", "-c", script], "pass_env": ["MY_SECRET_TOKEN", "NOT_SET"]}
    task = await run_executor(ShellRun, inputs, manager=task_manager)
    assert task.result is not None
    assert task.result["stdout"] == "[redacted]:\n"  # the whole value was there, then redacted
    assert SECRET not in stored(task, await events_of(task_manager, task))


# -- output as a few log events --------------------------------------------------------------


async def test_a_megabyte_of_newlines_makes_a_handful_of_log_events(
    task_manager: TaskManager,
) -> None:
    lines = 1024 * 1024
    script = f"import sys; sys.stdout.write('\\n' * {lines})"
    task = await asyncio.wait_for(
        run_executor(ShellRun, {"argv": [sys.executable, "-c", script]}, manager=task_manager),
        60,
    )
    assert task.status is S.COMPLETED
    logs = [e for e in await events_of(task_manager, task) if e.type is EventType.LOG]
    assert 1 <= len(logs) <= 20, len(logs)
    assert sum(event.data["lines"] for event in logs) == lines  # nothing lost
    assert {event.data["stream"] for event in logs} == {"stdout"}


# -- the programs allowlist ------------------------------------------------------------------


def shell_task(inputs: dict[str, Any], key: str = "cmd") -> dict[str, Any]:
    return {"key": key, "executor": "shell.run", "inputs": inputs}


async def test_under_the_server_profile_no_program_runs_by_default(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    marker = tmp_path / "pwned"
    with pytest.raises(DefinitionError) as caught:
        await task_manager.create_tree(shell_task({"argv": ["touch", str(marker)]}, key="pwn"))
    assert "task 'pwn'" in str(caught.value)
    assert (
        "inputs.argv[0]: program 'touch' is not allowed by the shell.run allowlist "
        "($TASKFLOW_SHELL_ALLOW: nothing)"
    ) in str(caught.value)
    with pytest.raises(DefinitionError, match=r"inputs\.shell: program '/bin/sh' is not allowed"):
        task_manager.check(shell_task({"command": f"touch {marker}", "shell": True}))
    assert not marker.exists()


async def test_the_allowlist_names_programs_by_name_or_path(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_SHELL_ALLOW", "echo, /bin/*")
    tree = await task_manager.run_tree(shell_task({"argv": ["echo", "allowed"]}))
    assert tree.task.result is not None
    assert tree.task.result["stdout"] == "allowed\n"
    tree = await task_manager.run_tree(shell_task({"command": "echo $((2 + 2))", "shell": True}))
    assert tree.task.result is not None
    assert tree.task.result["stdout"] == "4\n"
    with pytest.raises(DefinitionError, match=r"inputs\.env\.PATH: a shell\.run allowlist is set"):
        task_manager.check(shell_task({"argv": ["echo"], "env": {"PATH": "/tmp/evil"}}))
    with pytest.raises(DefinitionError, match=r"inputs\.env\.LD_PRELOAD"):
        task_manager.check(shell_task({"argv": ["echo"], "env": {"LD_PRELOAD": "/tmp/x.so"}}))
    with pytest.raises(DefinitionError, match=r"inputs\.pass_env: a shell\.run allowlist is set"):
        task_manager.check(shell_task({"argv": ["echo"], "pass_env": ["AWS_SECRET_ACCESS_KEY"]}))
    with pytest.raises(DefinitionError, match=r"program '\./echo' is not allowed"):
        task_manager.check(shell_task({"argv": ["./echo"]}))


async def test_a_program_that_came_through_a_reference_is_refused_when_it_runs(
    task_manager: TaskManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_settings(ShellSettings(allow_programs=("echo",)))  # Python settings, local profile
    marker = tmp_path / "pwned"
    definition = {
        "key": "root",
        "children": [
            {"key": "source", "executor": "noop", "inputs": {"program": "touch"}},
            {
                "key": "cmd",
                "executor": "shell.run",
                "dependencies": ["source"],
                "inputs": {"argv": ["${source.result.program}", str(marker)]},
            },
        ],
    }
    tree = await task_manager.run_tree(definition)
    task = next(node.task for node in tree.walk() if node.task.key == "cmd")
    assert (task.status, task.error_type) == (S.FAILED, "InputValidationError")
    assert "program 'touch' is not allowed" in (task.error or "")
    assert not marker.exists()


async def test_under_the_local_profile_any_program_runs(task_manager: TaskManager) -> None:
    tree = await task_manager.run_tree(shell_task({"argv": ["true"]}))
    assert tree.task.status is S.COMPLETED


def test_safety_settings_per_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = {setting.name: setting.to_dict() for setting in ShellRun().safety()}
    allow = declared["allow_programs"]
    assert (allow["local"], allow["server"], allow["current"], allow["env"]) == (
        None,
        [],
        None,
        "TASKFLOW_SHELL_ALLOW",
    )
    assert declared["inherit_env"]["local"] is False
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    assert ShellRun().safety()[0].current == []
    monkeypatch.setenv("TASKFLOW_SHELL_ALLOW", "git,make")
    assert ShellRun().safety()[0].current == ["git", "make"]
