"""The files executors at work inside a sandbox: contract, content, limits, atomic writes."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import taskflow_files.content
from taskflow_files import (
    EXECUTORS,
    AppendFile,
    CopyFile,
    DeletePath,
    FilesTask,
    ListDirectory,
    MoveFile,
    ReadFile,
    WriteFile,
)

from taskflow import Task, TaskStatus
from taskflow.testing import check_executor, run_executor

S = TaskStatus


@pytest.fixture
def files(sandbox: Path) -> Path:
    """The sandbox with what the schemas' examples expect."""
    for path, text in {
        "notes/hello.txt": "Hello!\n",
        "notes/draft.txt": "draft\n",
        "notes/old.txt": "old\n",
        "data/config.json": '{"debug": false}',
        "tmp/scratch/x.txt": "x",
    }.items():
        (sandbox / path).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / path).write_text(text)
    return sandbox


def leftovers(directory: Path) -> list[str]:
    """Temporary files an atomic write left behind."""
    return sorted(p.name for p in directory.rglob("*.tmp"))


async def ok(executor: type[FilesTask], inputs: dict[str, Any]) -> dict[str, Any]:
    task = await run_executor(executor, inputs)
    assert task.status is S.COMPLETED, f"{task.error_type}: {task.error}"
    assert task.result is not None
    return dict(task.result)


async def failed(executor: type[FilesTask], inputs: dict[str, Any]) -> Task:
    task = await run_executor(executor, inputs)
    assert task.status is S.FAILED
    return task


@pytest.mark.parametrize("executor", EXECUTORS, ids=[cls.id for cls in EXECUTORS])
async def test_contract(files: Path, executor: type[FilesTask]) -> None:
    await check_executor(executor)


# -- files.read ------------------------------------------------------------------------------


async def test_read_text_json_and_base64(files: Path) -> None:
    assert await ok(ReadFile, {"path": "notes/hello.txt"}) == {
        "path": "notes/hello.txt",
        "size_bytes": 7,
        "text": "Hello!\n",
    }
    result = await ok(ReadFile, {"path": "data/config.json", "format": "json"})
    assert result["json"] == {"debug": False}
    (files / "blob.bin").write_bytes(b"\x00\xff")
    result = await ok(ReadFile, {"path": "blob.bin", "format": "base64"})
    assert base64.b64decode(result["base64"]) == b"\x00\xff"


async def test_read_with_an_encoding(files: Path) -> None:
    (files / "latin.txt").write_bytes("café".encode("latin-1"))
    assert (await ok(ReadFile, {"path": "latin.txt", "encoding": "latin-1"}))["text"] == "café"
    task = await failed(ReadFile, {"path": "latin.txt"})
    assert task.error == (
        "inputs.path: 'latin.txt' is not valid utf-8 (unexpected end of data at byte 3)"
    )
    task = await failed(ReadFile, {"path": "latin.txt", "encoding": "nope"})
    assert task.error == "inputs.encoding: unknown encoding 'nope'"


async def test_read_refuses_files_over_the_limit(files: Path) -> None:
    task = await failed(ReadFile, {"path": "notes/hello.txt", "max_bytes": 6})
    assert (task.error_type, task.error) == (
        "FileTooLarge",
        "inputs.path: 'notes/hello.txt' is 7 bytes, over max_bytes (6)",
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"path": "missing.txt"}, "inputs.path: 'missing.txt' does not exist"),
        ({"path": "notes"}, "inputs.path: 'notes' is a directory"),
        ({"path": "fifo"}, "inputs.path: 'fifo' is not a regular file"),
        ({"path": "notes/hello.txt", "format": "json"}, "'notes/hello.txt' is not valid JSON"),
    ],
)
async def test_read_errors_name_the_field(
    files: Path, inputs: dict[str, Any], message: str
) -> None:
    os.mkfifo(files / "fifo")
    task = await failed(ReadFile, inputs)
    assert task.error_type == "FilesError"
    assert message in (task.error or "")


# -- files.write and files.append ------------------------------------------------------------


async def test_write_creates_parents_and_reports_it(files: Path) -> None:
    result = await ok(WriteFile, {"path": "new/deep/file.txt", "content": "hi"})
    assert result == {"path": "new/deep/file.txt", "size_bytes": 2, "created": True}
    result = await ok(WriteFile, {"path": "new/deep/file.txt", "content": "hello"})
    assert (result["created"], (files / "new/deep/file.txt").read_text()) == (False, "hello")
    assert leftovers(files) == []


async def test_write_json(files: Path) -> None:
    await ok(WriteFile, {"path": "out.json", "json": {"é": [1, None]}})
    assert json.loads((files / "out.json").read_text()) == {"é": [1, None]}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"path": "notes/hello.txt", "content": "x", "overwrite": False},
            "inputs.path: 'notes/hello.txt' already exists (set overwrite: true)",
        ),
        (
            {"path": "a/b.txt", "content": "x", "make_parents": False},
            "inputs.path: the directory of 'a/b.txt' does not exist (set make_parents: true)",
        ),
        (
            {"path": "x.txt", "content": "x", "json": 1},
            "inputs: give content or json (one of them)",
        ),
        ({"path": "x.txt"}, "inputs: give content or json (one of them)"),
        ({"path": "notes", "content": "x"}, "inputs.path: 'notes' is a directory, not a file"),
        ({"path": ".", "content": "x"}, "inputs.path: '.' is a directory, not a file"),
    ],
)
async def test_write_errors_name_the_field(
    files: Path, inputs: dict[str, Any], message: str
) -> None:
    task = await failed(WriteFile, inputs)
    assert (task.error_type, task.error) == ("FilesError", message)
    assert (files / "notes/hello.txt").read_text() == "Hello!\n"


async def test_write_refuses_content_over_the_limit(files: Path) -> None:
    task = await failed(
        WriteFile, {"path": "notes/hello.txt", "content": "x" * 11, "max_bytes": 10}
    )
    assert (task.error_type, task.error) == (
        "FileTooLarge",
        "the content is 11 bytes, over max_bytes (10)",
    )
    assert (files / "notes/hello.txt").read_text() == "Hello!\n"
    assert leftovers(files) == []


async def test_a_write_that_fails_midway_leaves_the_old_file_whole(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_crash(out: int, content: bytes, limit: int, label: str) -> int:
        os.write(out, content[: len(content) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(taskflow_files.content, "_fill", half_then_crash)
    task = await failed(WriteFile, {"path": "notes/hello.txt", "content": "a new text"})
    assert task.error == "inputs.path: 'notes/hello.txt': No space left on device"
    assert (files / "notes/hello.txt").read_text() == "Hello!\n"
    assert leftovers(files) == []


async def test_write_keeps_the_permissions_of_the_file_it_replaces(files: Path) -> None:
    os.chmod(files / "notes/hello.txt", 0o600)
    await ok(WriteFile, {"path": "notes/hello.txt", "content": "new"})
    await ok(WriteFile, {"path": "fresh.txt", "content": "new"})
    assert (files / "notes/hello.txt").stat().st_mode & 0o777 == 0o600
    assert (files / "fresh.txt").stat().st_mode & 0o777 == 0o644


async def test_append(files: Path) -> None:
    result = await ok(AppendFile, {"path": "notes/hello.txt", "content": "again\n"})
    assert result == {"path": "notes/hello.txt", "size_bytes": 13, "appended_bytes": 6}
    assert (files / "notes/hello.txt").read_text() == "Hello!\nagain\n"
    assert (await ok(AppendFile, {"path": "logs/new.log", "content": "1"}))["size_bytes"] == 1


async def test_append_refuses_to_grow_a_file_past_the_limit(files: Path) -> None:
    task = await failed(AppendFile, {"path": "notes/hello.txt", "content": "1234", "max_bytes": 10})
    assert (task.error_type, task.error) == (
        "FileTooLarge",
        "inputs.path: 'notes/hello.txt' would grow to 11 bytes, over max_bytes (10)",
    )
    assert (files / "notes/hello.txt").read_text() == "Hello!\n"


def test_append_is_not_rerun_safe_and_the_others_are() -> None:
    assert {cls.id for cls in EXECUTORS if not cls.rerun_safe} == {"files.append"}


# -- files.list ------------------------------------------------------------------------------


async def test_list(files: Path) -> None:
    (files / ".hidden").write_text("")
    result = await ok(ListDirectory, {})
    assert result == {
        "path": ".",
        "entries": [
            {"path": "data", "type": "directory", "size_bytes": None},
            {"path": "notes", "type": "directory", "size_bytes": None},
            {"path": "tmp", "type": "directory", "size_bytes": None},
        ],
        "truncated": False,
    }
    result = await ok(ListDirectory, {"pattern": "*.t*", "recursive": True, "include_hidden": True})
    assert [e["path"] for e in result["entries"]] == [
        "notes/draft.txt",
        "notes/hello.txt",
        "notes/old.txt",
        "tmp/scratch/x.txt",
    ]


async def test_list_wants_a_directory(files: Path) -> None:
    task = await failed(ListDirectory, {"path": "notes/hello.txt"})
    assert task.error == "inputs.path: 'notes/hello.txt' is a file, not a directory"


async def test_list_stops_at_max_entries(files: Path) -> None:
    result = await ok(ListDirectory, {"path": "notes", "max_entries": 2})
    assert (len(result["entries"]), result["truncated"]) == (2, True)


async def test_list_does_not_follow_links_out(files: Path, outside: Path) -> None:
    (files / "notes" / "out").symlink_to(outside, target_is_directory=True)
    result = await ok(ListDirectory, {"path": "notes", "recursive": True})
    assert {"path": "notes/out", "type": "symlink", "size_bytes": None} in result["entries"]
    assert not any("secret" in e["path"] for e in result["entries"])


# -- files.copy, files.move, files.delete ----------------------------------------------------


async def test_copy(files: Path) -> None:
    result = await ok(CopyFile, {"source": "notes/hello.txt", "destination": "b/copy.txt"})
    assert result == {"source": "notes/hello.txt", "destination": "b/copy.txt", "size_bytes": 7}
    assert (files / "b/copy.txt").read_text() == "Hello!\n"
    task = await failed(CopyFile, {"source": "notes/old.txt", "destination": "b/copy.txt"})
    assert task.error == "inputs.destination: 'b/copy.txt' already exists (set overwrite: true)"
    inputs = {"source": "notes/old.txt", "destination": "b/copy.txt", "overwrite": True}
    await ok(CopyFile, inputs)
    assert (files / "b/copy.txt").read_text() == "old\n"
    assert leftovers(files) == []


async def test_copy_limits(files: Path) -> None:
    task = await failed(CopyFile, {"source": "notes", "destination": "n2"})
    assert task.error == "inputs.source: 'notes' is not a file"
    task = await failed(CopyFile, {"source": "notes/hello.txt", "destination": "c", "max_bytes": 3})
    assert (task.error_type, task.error) == (
        "FileTooLarge",
        "inputs.source: 'notes/hello.txt' is 7 bytes, over max_bytes (3)",
    )
    assert not (files / "c").exists()


async def test_move_files_and_directories(files: Path) -> None:
    await ok(MoveFile, {"source": "notes/draft.txt", "destination": "archive/draft.txt"})
    await ok(MoveFile, {"source": "tmp", "destination": "archive/tmp"})
    assert (files / "archive/draft.txt").read_text() == "draft\n"
    assert (files / "archive/tmp/scratch/x.txt").read_text() == "x"
    assert not (files / "tmp").exists()
    task = await failed(MoveFile, {"source": "notes/old.txt", "destination": "notes/hello.txt"})
    assert (
        task.error == "inputs.destination: 'notes/hello.txt' already exists (set overwrite: true)"
    )
    task = await failed(MoveFile, {"source": "nothing", "destination": "x"})
    assert task.error == "inputs.source: 'nothing' does not exist"


async def test_delete(files: Path) -> None:
    result = await ok(DeletePath, {"path": "notes/old.txt"})
    assert result == {"path": "notes/old.txt", "deleted": True, "type": "file"}
    task = await failed(DeletePath, {"path": "tmp"})
    assert task.error == "inputs.path: 'tmp' is a directory that is not empty (set recursive: true)"
    assert (await ok(DeletePath, {"path": "tmp", "recursive": True}))["type"] == "directory"
    assert not (files / "tmp").exists()
    task = await failed(DeletePath, {"path": "tmp"})
    assert task.error == "inputs.path: 'tmp' does not exist (set missing_ok: true)"
    result = await ok(DeletePath, {"path": "tmp", "missing_ok": True})
    assert result == {"path": "tmp", "deleted": False, "type": None}
    (files / "empty").mkdir()
    assert (await ok(DeletePath, {"path": "empty"}))["deleted"] is True


def test_safety_settings(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    declared = {s.name: s.to_dict() for s in ReadFile().safety()}
    assert declared["root"]["current"] == str(sandbox)
    assert (declared["allow_hard_links"]["local"], declared["allow_hard_links"]["server"]) == (
        False,
        False,
    )
    assert declared["follow_symlinks"]["current"] is False
    monkeypatch.setenv("TASKFLOW_FILES_ALLOW_HARD_LINKS", "yes")
    assert {s.name: s.current for s in ReadFile().safety()}["allow_hard_links"] is True
    configured = {s.name: s.current for s in ReadFile(root="/srv", allow_hard_links=False).safety()}
    assert (configured["root"], configured["allow_hard_links"]) == ("/srv", False)
