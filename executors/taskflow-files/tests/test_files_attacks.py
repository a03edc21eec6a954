"""Issue 10's attacks on the sandbox: hard links, FIFOs and devices, and a directory swapped for
a symbolic link while tasks run. Each is run with openat2 and with the O_NOFOLLOW walk."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from taskflow_files import (
    EXECUTORS,
    AppendFile,
    CopyFile,
    DeletePath,
    FilesError,
    FilesTask,
    ListDirectory,
    MoveFile,
    ReadFile,
    WriteFile,
    register_sandbox,
)

from taskflow import ExecutorRegistry, Task, TaskStatus
from taskflow.testing import run_executor
from taskflow.validation import InputValidator

pytestmark = pytest.mark.usefixtures("resolver")
S = TaskStatus
BLOCKED_SECONDS = 5.0  # an operation that takes longer than this is blocked


def _class(executor_id: str) -> type[FilesTask]:
    return next(cls for cls in EXECUTORS if cls.id == executor_id)


async def bounded(executor: type[FilesTask] | FilesTask, inputs: dict[str, Any]) -> Task:
    """Run one task; fail the test (instead of hanging) if it blocks."""
    return await asyncio.wait_for(run_executor(executor, inputs), BLOCKED_SECONDS)


# -- hard links ------------------------------------------------------------------------------


@pytest.fixture
def hard_link(sandbox: Path, outside: Path) -> Path:
    """sandbox/hard.txt: a hard link to outside/secret.txt."""
    link = sandbox / "hard.txt"
    os.link(outside / "secret.txt", link)
    return link


@pytest.mark.parametrize(
    ("executor", "inputs"),
    [
        ("files.read", {"path": "hard.txt"}),
        ("files.append", {"path": "hard.txt", "content": "pwned"}),
        ("files.copy", {"source": "hard.txt", "destination": "copy.txt"}),
    ],
)
async def test_a_hard_link_to_a_file_outside_is_refused(
    hard_link: Path, outside: Path, executor: str, inputs: dict[str, Any]
) -> None:
    task = await bounded(_class(executor), inputs)
    assert (task.status, task.error_type) == (S.FAILED, "SandboxError")
    field = "source" if executor == "files.copy" else "path"
    assert (task.error or "").startswith(f"inputs.{field}: 'hard.txt' has 2 hard links")
    assert "TASKFLOW_FILES_ALLOW_HARD_LINKS=1" in (task.error or "")
    assert (outside / "secret.txt").read_text() == "secret"
    assert not (hard_link.parent / "copy.txt").exists()


async def test_writing_over_a_hard_link_replaces_the_name_not_the_outside_file(
    hard_link: Path, sandbox: Path, outside: Path
) -> None:
    task = await bounded(WriteFile, {"path": "hard.txt", "content": "mine"})
    assert task.status is S.COMPLETED
    assert (sandbox / "hard.txt").read_text() == "mine"
    assert (outside / "secret.txt").read_text() == "secret"
    assert (outside / "secret.txt").stat().st_nlink == 1
    task = await bounded(DeletePath, {"path": "hard.txt"})
    assert (task.status, (outside / "secret.txt").exists()) == (S.COMPLETED, True)


async def test_hard_links_can_be_allowed(
    hard_link: Path, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_FILES_ALLOW_HARD_LINKS", "1")
    task = await bounded(ReadFile, {"path": "hard.txt"})
    assert task.result is not None
    assert task.result["text"] == "secret"
    monkeypatch.delenv("TASKFLOW_FILES_ALLOW_HARD_LINKS")
    registry = ExecutorRegistry(discover_plugins=False)
    (read, *_) = register_sandbox(sandbox, allow_hard_links=True, registry=registry)
    assert read.instance is not None
    task = await bounded(read.instance, {"path": "hard.txt"})
    assert task.status is S.COMPLETED
    task = await bounded(ReadFile(root=sandbox), {"path": "hard.txt"})
    assert task.error_type == "SandboxError"


# -- FIFOs, sockets and devices --------------------------------------------------------------


@pytest.fixture
async def fifo(sandbox: Path) -> AsyncIterator[Path]:
    """sandbox/fifo, a named pipe. At the end, a reader releases any writer that blocked on it
    (so that a failing run ends instead of hanging), until the worker threads are free."""
    path = sandbox / "fifo"
    os.mkfifo(path)
    yield path
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a blocked open() for writing returns
    try:
        idle = (asyncio.to_thread(lambda: None) for _ in range(64))
        await asyncio.wait_for(asyncio.gather(*idle), BLOCKED_SECONDS)
    finally:
        os.close(reader)


FIFO_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("files.append", {"path": "fifo", "content": "x"}, "inputs.path: 'fifo'"),
    ("files.read", {"path": "fifo"}, "inputs.path: 'fifo'"),
    ("files.write", {"path": "fifo", "content": "x"}, "inputs.path: 'fifo'"),
    ("files.copy", {"source": "fifo", "destination": "c.txt"}, "inputs.source: 'fifo'"),
    (
        "files.copy",
        {"source": "data.txt", "destination": "fifo", "overwrite": True},
        "inputs.destination: 'fifo'",
    ),
    ("files.list", {"path": "fifo"}, "inputs.path: 'fifo'"),
    ("files.move", {"source": "fifo", "destination": "moved"}, "inputs.source: 'fifo'"),
    (
        "files.move",
        {"source": "data.txt", "destination": "fifo", "overwrite": True},
        "inputs.destination: 'fifo'",
    ),
    ("files.delete", {"path": "fifo"}, "inputs.path: 'fifo'"),
]


@pytest.mark.parametrize(
    ("executor", "inputs", "named"), FIFO_CASES, ids=[f"{c[0]}-{c[2]}" for c in FIFO_CASES]
)
async def test_a_fifo_is_refused_at_once_by_every_operation(
    sandbox: Path, fifo: Path, executor: str, inputs: dict[str, Any], named: str
) -> None:
    (sandbox / "data.txt").write_text("data")
    task = await bounded(_class(executor), inputs)
    assert (task.status, task.error_type) == (S.FAILED, "FilesError")
    assert (task.error or "").startswith(named)
    assert "not a" in (task.error or "")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert (sandbox / "data.txt").read_text() == "data"


async def test_many_appends_to_a_fifo_leave_the_workers_free(sandbox: Path, fifo: Path) -> None:
    # The issue: eight appends blocked eight worker threads; then a plain read timed out.
    started = time.monotonic()
    tasks = await asyncio.gather(
        *(bounded(AppendFile, {"path": "fifo", "content": "x"}) for _ in range(12))
    )
    assert {task.status for task in tasks} == {S.FAILED}
    (sandbox / "ok.txt").write_text("ok")
    task = await bounded(ReadFile, {"path": "ok.txt"})
    assert task.result is not None
    assert task.result["text"] == "ok"
    assert time.monotonic() - started < BLOCKED_SECONDS


async def test_a_socket_is_not_a_regular_file(sandbox: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(sandbox / "sock"))
        for executor in (ReadFile, AppendFile):
            task = await bounded(
                executor,
                {"path": "sock", "content": "x"} if executor is AppendFile else {"path": "sock"},
            )
            assert task.error == "inputs.path: 'sock' is not a regular file"


async def test_a_device_is_refused(sandbox: Path) -> None:
    try:
        os.mknod(sandbox / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    for executor, inputs in [
        (ReadFile, {"path": "null"}),
        (AppendFile, {"path": "null", "content": "x"}),
        (WriteFile, {"path": "null", "content": "x"}),
    ]:
        task = await bounded(executor, inputs)
        assert task.error == "inputs.path: 'null' is not a regular file"
    assert stat.S_ISCHR((sandbox / "null").lstat().st_mode)


# -- a directory swapped for a symbolic link while tasks run ---------------------------------

SWAPPER = textwrap.dedent(
    """
    import os, sys
    root = sys.argv[1]
    d, real, link = (os.path.join(root, name) for name in ("d", "d_real", "d_link"))
    print("swapping", flush=True)
    while True:
        os.rename(d, real)  # now d is missing
        os.rename(link, d)  # now d is a link to the outside
        os.rename(d, link)
        os.rename(real, d)  # now d is the real directory again
    """
)
RACE_SECONDS = 1.5


@pytest.fixture
def swapping(sandbox: Path, outside: Path) -> Iterator[Path]:
    """sandbox/d swapped for a symbolic link to outside/, and back, by another process."""
    (sandbox / "d").mkdir()
    for directory, content in ((sandbox / "d", "inside"), (outside, "secret")):
        (directory / "f.txt").write_text(content)
        (directory / "victim.txt").write_text(content)
        (directory / "victim2.txt").write_text(content)
    (outside / "only_outside.txt").write_text("secret")
    (sandbox / "d_link").symlink_to(outside, target_is_directory=True)
    process = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(sandbox)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "swapping"
        yield outside
        assert process.poll() is None, "the swapper stopped"
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


RACING: list[tuple[type[FilesTask], dict[str, Any]]] = [
    (ReadFile, {"path": "d/f.txt"}),
    (WriteFile, {"path": "d/written.txt", "content": "pwned", "make_parents": False}),
    (AppendFile, {"path": "d/f.txt", "content": "pwned", "make_parents": False}),
    (CopyFile, {"source": "d/f.txt", "destination": "copy.txt", "overwrite": True}),
    (ListDirectory, {"path": "d"}),
    (DeletePath, {"path": "d/victim.txt", "missing_ok": True}),
    (MoveFile, {"source": "d/victim2.txt", "destination": "moved.txt", "overwrite": True}),
]


def _escaped(executor: type[FilesTask], result: dict[str, Any], sandbox: Path) -> bool:
    """Whether a completed run read from, or wrote to, the outside directory."""
    if executor is ReadFile:
        return bool(result["text"] == "secret")
    if executor is CopyFile:
        return (sandbox / "copy.txt").read_text() == "secret"
    if executor is ListDirectory:
        return any("only_outside" in entry["path"] for entry in result["entries"])
    return False


@pytest.mark.slow
async def test_swapping_a_directory_for_a_link_never_escapes(sandbox: Path, swapping: Path) -> None:
    outside = swapping
    runners = [(cls, cls(root=sandbox), InputValidator(cls.input_schema)) for cls, _ in RACING]
    outcomes: Counter[str] = Counter()
    escapes: list[str] = []
    deadline = time.monotonic() + RACE_SECONDS
    while time.monotonic() < deadline:
        for (cls, executor, validator), (_, inputs) in zip(runners, RACING, strict=True):
            try:
                result = await executor.execute(validator.validate(inputs))
            except (FilesError, OSError) as exc:  # OSError: not translated, also a failure
                outcomes[type(exc).__name__] += 1
                continue
            outcomes["completed"] += 1
            if _escaped(cls, result, sandbox):
                escapes.append(f"{cls.id} {inputs}")
    assert not escapes, Counter(escape.split()[0] for escape in escapes)
    assert not (outside / "written.txt").exists()
    assert (outside / "f.txt").read_text() == "secret"
    assert {p.name for p in outside.iterdir()} == {
        "f.txt",
        "victim.txt",
        "victim2.txt",
        "only_outside.txt",
        "secret.txt",
    }
    # The race was run: some operations found the directory, some found the link.
    assert outcomes["completed"] > 50, outcomes
    assert outcomes["SandboxError"] > 50, outcomes
    assert set(outcomes) <= {"completed", "SandboxError", "FilesError"}, outcomes
