"""shell.run: argv without a shell, exit codes, limits, logs, and killing the process group."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from shell_support import assert_gone, is_gone
from taskflow_shell import ShellRun

from taskflow import Task, TaskManager, TaskStatus
from taskflow.events import EventType
from taskflow.testing import check_executor, run_executor

S = TaskStatus
PYTHON = sys.executable
# A child that starts a grandchild, prints the grandchild's pid, then waits.
SPAWNER = textwrap.dedent(
    """
    import subprocess, time
    grandchild = subprocess.Popen(["sleep", "60"])
    print(grandchild.pid, flush=True)
    time.sleep(60)
    """
)


async def run(inputs: dict[str, Any], **options: Any) -> Task:
    return await run_executor(ShellRun, inputs, **options)


async def test_contract() -> None:
    await check_executor(ShellRun, cancel_inputs={"argv": ["sleep", "30"]})


async def test_runs_an_argv_and_captures_its_output() -> None:
    task = await run({"argv": ["echo", "hello", "world"]})
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert task.result["stdout"] == "hello world\n"
    assert (task.result["exit_code"], task.result["argv"]) == (0, ["echo", "hello", "world"])


async def test_argv_elements_reach_the_program_verbatim_never_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    hostile = f"x; touch {marker}; echo $(id) `id` | cat > {marker}"
    task = await run({"argv": ["printf", "%s", hostile]})
    assert task.result is not None
    assert task.result["stdout"] == hostile
    assert not marker.exists()


async def test_a_command_string_needs_shell_true() -> None:
    task = await run({"command": "echo hi; echo there"})
    assert (task.status, task.error_type) == (S.FAILED, "ShellError")
    assert task.error == (
        "inputs.command: a command string runs only with shell: true; without a shell, give "
        "argv, e.g. ['echo', 'hi;', 'echo', 'there']"
    )


async def test_shell_true_runs_a_string_through_sh() -> None:
    task = await run({"command": "echo $((1 + 2)) | tr 3 x", "shell": True})
    assert task.result is not None
    assert task.result["stdout"] == "x\n"
    assert task.result["argv"][:2] == ["/bin/sh", "-c"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"argv": ["echo", "hi"], "shell": True}, "inputs.shell: shell: true runs command"),
        ({"argv": ["echo"], "command": "echo"}, "inputs: give argv (a list, run without a shell)"),
        ({}, "inputs: give argv (a list, run without a shell) or command"),
    ],
)
async def test_argv_or_command_with_shell(inputs: dict[str, Any], message: str) -> None:
    task = await run(inputs)
    assert (task.status, task.error_type) == (S.FAILED, "ShellError")
    assert (task.error or "").startswith(message)


async def test_a_non_zero_exit_fails_and_keeps_the_output() -> None:
    task = await run({"argv": ["sh", "-c", "echo partial; echo oops >&2; exit 3"]})
    assert (task.status, task.error_type) == (S.FAILED, "CommandFailed")
    assert task.error == (
        "command sh -c 'echo partial; echo oops >&2; exit 3' ended with exit code 3; stderr: oops"
    )
    assert task.result is not None
    assert task.result["stdout"] == "partial\n"


async def test_allowed_exit_codes() -> None:
    task = await run({"argv": ["sh", "-c", "exit 3"], "allowed_exit_codes": [0, 3]})
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert task.result["exit_code"] == 3


async def test_output_beyond_the_limit_is_dropped_and_flagged() -> None:
    script = "import sys; sys.stdout.write('x' * 5000); sys.stderr.write('e' * 10)"
    task = await run({"argv": [PYTHON, "-c", script], "max_output_bytes": 100})
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert (task.result["stdout"], task.result["stdout_truncated"]) == ("x" * 100, True)
    assert (task.result["stderr"], task.result["stderr_truncated"]) == ("e" * 10, False)


async def test_output_lines_are_streamed_as_task_logs(task_manager: TaskManager) -> None:
    script = "echo one; echo two >&2; printf 'three'"
    task = await run_executor(ShellRun, {"argv": ["sh", "-c", script]}, manager=task_manager)
    events = await task_manager.task_repository.events.read(task.tree_id)
    logs = sorted(
        (e.data["stream"], line)
        for e in events
        if e.type is EventType.LOG
        for line in e.data["message"].split("\n")
    )
    assert logs == [("stderr", "two"), ("stdout", "one"), ("stdout", "three")]


async def test_truncation_is_logged_once_and_the_rest_is_not(task_manager: TaskManager) -> None:
    script = "for i in $(seq 1 1000); do echo line$i; done"
    task = await run_executor(
        ShellRun,
        {"argv": ["sh", "-c", script], "max_output_bytes": 14},
        manager=task_manager,
    )
    events = await task_manager.task_repository.events.read(task.tree_id)
    lines = [
        line for e in events if e.type is EventType.LOG for line in e.data["message"].split("\n")
    ]
    assert lines == ["line1", "line2", "li", "[stdout truncated: only its first 14 bytes are kept]"]


async def test_a_timeout_kills_the_whole_process_group() -> None:
    started = asyncio.get_running_loop().time()
    task = await run({"argv": [PYTHON, "-c", SPAWNER], "timeout": 1})
    assert asyncio.get_running_loop().time() - started < 5
    assert (task.status, task.error_type) == (S.FAILED, "CommandTimeout")
    assert "did not finish within 1 s; its process group was killed" in (task.error or "")
    assert task.result is not None
    await assert_gone(int(task.result["stdout"]))


async def test_cancel_kills_the_whole_process_group(task_manager: TaskManager) -> None:
    tree = await task_manager.create_tree(
        {"key": "spawn", "executor": "shell.run", "inputs": {"argv": [PYTHON, "-c", SPAWNER]}}
    )
    tree_id = await task_manager.start(tree)
    grandchild = await asyncio.wait_for(_first_log_line(task_manager, tree_id), 10)
    assert not is_gone(grandchild)
    await task_manager.cancel(tree_id, "enough")
    final = (await asyncio.wait_for(task_manager.wait(tree_id), 10)).task
    assert (final.status, final.error) == (S.CANCELLED, "enough")
    assert final.result is not None
    assert final.result["exit_code"] == -15  # SIGTERM
    await assert_gone(grandchild)


async def _first_log_line(manager: TaskManager, tree_id: str) -> int:
    async for event in manager.subscribe(tree_id):
        if event.type is EventType.LOG:
            return int(event.data["message"])
    raise AssertionError("the tree ended without a log line")


async def test_stdin_is_written_or_closed() -> None:
    task = await run({"argv": ["cat"], "stdin": "hello"})
    assert task.result is not None
    assert task.result["stdout"] == "hello"
    task = await run({"argv": ["cat"], "timeout": 5})
    assert task.status is S.COMPLETED  # stdin is /dev/null: cat does not wait for input


async def test_env_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/worker")
    inputs = {
        "argv": ["sh", "-c", 'echo "$GREETING-$HOME"; pwd'],
        "env": {"GREETING": "hi"},
        "cwd": str(tmp_path),
    }
    task = await run(inputs)
    assert task.result is not None
    assert task.result["stdout"] == f"hi-/home/worker\n{tmp_path}\n"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"argv": ["no-such-program-xyz"]},
            "inputs.argv[0]: program 'no-such-program-xyz' not found",
        ),
        (
            {"argv": ["true"], "cwd": "/no/such/dir"},
            "inputs.cwd: '/no/such/dir' is not a directory",
        ),
        (
            {"argv": ["true"], "encoding": "klingon"},
            "inputs.encoding: unknown encoding 'klingon'",
        ),
    ],
)
async def test_setup_errors_name_the_field(inputs: dict[str, Any], message: str) -> None:
    task = await run(inputs)
    assert (task.status, task.error_type, task.error) == (S.FAILED, "ShellError", message)
