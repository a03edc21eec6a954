"""Every files executor stays inside its sandbox root: no '..', absolute path or symlink escape.

Symbolic links are never followed, wherever they point: a path through one is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from taskflow_files import (
    EXECUTORS,
    ROOT_VARIABLE,
    DeletePath,
    FilesTask,
    MoveFile,
    ReadFile,
    SandboxError,
    WriteFile,
    register_sandbox,
)

from taskflow import DefinitionError, ExecutorRegistry, Task, TaskStatus
from taskflow.testing import run_executor

pytestmark = pytest.mark.usefixtures("resolver")

ESCAPES = [
    "../outside/secret.txt",
    "notes/../../outside/secret.txt",
    "link_to_outside/secret.txt",  # a symlinked directory
    "secret_link",  # a symlinked file
]
THROUGH_A_LINK = "leads through a symbolic link (files tasks never follow links)"


@pytest.fixture
def attacked(sandbox: Path, outside: Path) -> Path:
    """The sandbox, with symbolic links that lead outside it."""
    (sandbox / "notes").mkdir()
    (sandbox / "notes" / "mine.txt").write_text("mine")
    (sandbox / "link_to_outside").symlink_to(outside, target_is_directory=True)
    (sandbox / "secret_link").symlink_to(outside / "secret.txt")
    return sandbox


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): p.read_text() if p.is_file() else "<dir>"
        for p in directory.rglob("*")
    }


def assert_refused(task: Task, path: str) -> None:
    assert (task.status, task.error_type) == (TaskStatus.FAILED, "SandboxError"), task.error
    assert repr(path) in (task.error or "")
    reason = "leads outside the sandbox root" if ".." in path else THROUGH_A_LINK
    assert reason in (task.error or "")


PATH_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("files.read", "path", {}),
    ("files.write", "path", {"content": "pwned"}),
    ("files.append", "path", {"content": "pwned"}),
    ("files.list", "path", {}),
    ("files.copy", "source", {"destination": "copied.txt"}),
    ("files.copy", "destination", {"source": "notes/mine.txt", "overwrite": True}),
    ("files.move", "destination", {"source": "notes/mine.txt", "overwrite": True}),
]
# Not escapes: files.list needs a directory; files.move replaces a link, wherever it points.
NOT_ESCAPES = {("files.list", "path", "secret_link"), ("files.move", "destination", "secret_link")}
CASES = [
    (executor, field, extra, escape)
    for executor, field, extra in PATH_FIELDS
    for escape in ESCAPES
    if (executor, field, escape) not in NOT_ESCAPES
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
async def test_paths_that_lead_outside_are_refused(
    attacked: Path, outside: Path, case: tuple[str, str, dict[str, Any], str]
) -> None:
    executor, field, extra, escape = case
    before_inside, before_outside = snapshot(attacked), snapshot(outside)
    task = await run_executor(_class(executor), {field: escape, **extra})
    assert_refused(task, escape)
    assert (snapshot(attacked), snapshot(outside)) == (before_inside, before_outside)


def _class(executor_id: str) -> type[FilesTask]:
    return next(cls for cls in EXECUTORS if cls.id == executor_id)


@pytest.mark.parametrize("executor", ["files.move", "files.delete"])
@pytest.mark.parametrize("escape", ESCAPES[:3])
async def test_move_and_delete_refuse_sources_outside(
    attacked: Path, outside: Path, executor: str, escape: str
) -> None:
    field = "source" if executor == "files.move" else "path"
    extra = {"destination": "moved"} if executor == "files.move" else {"recursive": True}
    task = await run_executor(_class(executor), {field: escape, **extra})
    assert_refused(task, escape)
    assert snapshot(outside) == {"secret.txt": "secret"}


async def test_a_symlink_escape_is_named_as_such(attacked: Path) -> None:
    task = await run_executor(WriteFile, {"path": "secret_link", "content": "pwned"})
    assert task.error == f"inputs.path: 'secret_link' {THROUGH_A_LINK}"
    task = await run_executor(ReadFile, {"path": "link_to_outside/secret.txt"})
    assert task.error == f"inputs.path: 'link_to_outside/secret.txt' {THROUGH_A_LINK}"


async def test_deleting_a_link_that_points_outside_deletes_only_the_link(
    attacked: Path, outside: Path
) -> None:
    task = await run_executor(DeletePath, {"path": "secret_link"})
    assert task.result == {"path": "secret_link", "deleted": True, "type": "symlink"}
    assert not (attacked / "secret_link").is_symlink()
    assert (outside / "secret.txt").read_text() == "secret"


async def test_moving_a_link_moves_the_link(attacked: Path, outside: Path) -> None:
    task = await run_executor(MoveFile, {"source": "link_to_outside", "destination": "notes/l"})
    assert task.status is TaskStatus.COMPLETED
    assert (attacked / "notes" / "l").is_symlink()
    assert snapshot(outside) == {"secret.txt": "secret"}


async def test_moving_onto_a_link_replaces_the_link(attacked: Path, outside: Path) -> None:
    inputs = {"source": "notes/mine.txt", "destination": "secret_link", "overwrite": True}
    task = await run_executor(MoveFile, inputs)
    assert task.status is TaskStatus.COMPLETED
    assert (attacked / "secret_link").read_text() == "mine"
    assert not (attacked / "secret_link").is_symlink()
    assert snapshot(outside) == {"secret.txt": "secret"}


@pytest.mark.parametrize(
    ("executor", "inputs"),
    [
        ("files.read", {"path": "shortcut"}),
        ("files.read", {"path": "notes_link/mine.txt"}),
        ("files.write", {"path": "notes_link/new.txt", "content": "x"}),
        ("files.list", {"path": "notes_link"}),
        ("files.copy", {"source": "shortcut", "destination": "copy.txt"}),
    ],
)
async def test_links_inside_the_sandbox_are_refused_too(
    attacked: Path, executor: str, inputs: dict[str, Any]
) -> None:
    # A link that points inside today may point outside tomorrow: none is followed.
    (attacked / "shortcut").symlink_to(attacked / "notes" / "mine.txt")
    (attacked / "notes_link").symlink_to("notes", target_is_directory=True)
    task = await run_executor(_class(executor), inputs)
    assert (task.error_type, THROUGH_A_LINK in (task.error or "")) == ("SandboxError", True)
    assert sorted(p.name for p in (attacked / "notes").iterdir()) == ["mine.txt"]


async def test_dot_dot_inside_the_root_is_normalised(attacked: Path) -> None:
    task = await run_executor(ReadFile, {"path": "notes/../notes/./mine.txt"})
    assert task.result == {"path": "notes/mine.txt", "size_bytes": 4, "text": "mine"}


async def test_absolute_paths_are_refused(sandbox: Path) -> None:
    task = await run_executor(ReadFile, {"path": "/etc/passwd"})
    message = "inputs.path: '/etc/passwd' must be relative to the sandbox root"
    assert (task.error_type, task.error) == ("SandboxError", message)


async def test_nul_bytes_are_refused_before_anything_runs(sandbox: Path) -> None:
    with pytest.raises(DefinitionError, match=r"inputs\.path: contains a NUL character"):
        await run_executor(ReadFile, {"path": "a\x00b"})


@pytest.mark.parametrize("executor", [DeletePath, MoveFile])
async def test_the_root_itself_cannot_be_deleted_or_moved(
    sandbox: Path, executor: type[FilesTask]
) -> None:
    if executor is DeletePath:
        inputs = {"path": ".", "recursive": True}
    else:
        inputs = {"source": ".", "destination": "x"}
    task = await run_executor(executor, inputs)
    assert task.error_type == "FilesError"
    assert "the sandbox root cannot be" in (task.error or "")
    assert snapshot(sandbox.parent) == {"sandbox": "<dir>"}


async def test_without_a_root_nothing_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ROOT_VARIABLE, raising=False)
    task = await run_executor(ReadFile, {"path": "x"})
    assert task.error_type == "SandboxError"
    assert (task.error or "").startswith(f"no sandbox root: set {ROOT_VARIABLE}")
    monkeypatch.setenv(ROOT_VARIABLE, str(tmp_path / "missing"))
    task = await run_executor(ReadFile, {"path": "x"})
    assert task.error == f"the sandbox root {str(tmp_path / 'missing')!r} is not a directory"


async def test_a_configured_instance_uses_its_own_root(sandbox: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "here.txt").write_text("other root")
    task = await run_executor(ReadFile(root=other), {"path": "here.txt"})
    assert task.result is not None
    assert task.result["text"] == "other root"


def test_register_sandbox_registers_configured_instances(tmp_path: Path) -> None:
    registry = ExecutorRegistry(discover_plugins=False)
    infos = register_sandbox(tmp_path, registry=registry)
    assert sorted(info.id for info in infos) == [
        "files.append",
        "files.copy",
        "files.delete",
        "files.list",
        "files.move",
        "files.read",
        "files.write",
    ]
    assert all(info.instance is not None for info in infos)
    with pytest.raises(SandboxError, match="is not a directory"):
        register_sandbox(tmp_path / "missing", registry=registry)
