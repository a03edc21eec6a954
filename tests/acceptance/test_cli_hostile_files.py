"""Hostile and careless tree files on the command line: exit 2, one paragraph, no traceback.

Issue 9: a "billion laughs" YAML file took gigabytes, deep nesting and non-UTF-8 files gave
tracebacks, and duplicate keys were silently last-wins (so `validate` passed a file whose
second `argv` ran instead of the first).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, Cli

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
"""
CPU_SECONDS = 20  # caps for a child that misbehaves: it must not take the machine with it
ADDRESS_SPACE_BYTES = 2 << 30


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}")


def group_chain(groups: int) -> dict[str, Any]:
    task: dict[str, Any] = {"key": "leaf", "executor": "noop", "inputs": {}}
    for level in range(groups):
        task = {"key": f"g{level}", "children": [task]}
    return {"tasks": [task]}


def deep_groups_yaml(groups: int) -> str:
    """Groups within groups, written in block style as a user would (3 lines a group)."""
    lines = ["tasks:"]
    for level in range(groups):
        pad = "    " * level
        lines += [f"{pad}  - key: g{level}", f"{pad}    children:"]
    lines.append(f"{'    ' * groups}  - {{key: leaf, executor: noop}}")
    return "\n".join(lines) + "\n"


def deep_inputs_json(levels: int) -> str:
    return (
        '{"tasks": [{"key": "a", "executor": "noop",\n "inputs": '
        + '{"v": [' * levels
        + "1"
        + "]}" * levels
        + "}]}"
    )


ARGV = "tasks:\n  - key: clean\n    executor: shell.run\n    inputs:\n      argv: [echo, safe]\n      argv: [touch, {marker}]\n"
ARGV_JSON = (
    '{"tasks": [{"key": "clean", "executor": "shell.run",\n'
    '  "inputs": {"argv": ["echo", "safe"],\n'
    '             "argv": ["touch", "{marker}"]}}]}\n'
)

CASES: list[tuple[str, str | bytes, str]] = [
    ("lol.yaml", LOL, r"lol\.yaml:6:8: YAML aliases that stand for more than 100000 values"),
    (
        "groups.yaml",
        deep_groups_yaml(300),
        # level 101 is group g49, on line 100 (which rich used to print as an emoji)
        r"groups\.yaml:100:201: mappings and lists nested more than 100 levels deep \(at most 100\)",
    ),
    ("inputs.json", deep_inputs_json(300), r"inputs\.json:2:\d+: mappings and lists nested more"),
    ("abyss.json", deep_inputs_json(50_000), r"abyss\.json:2:\d+: mappings and lists nested more"),
    (
        "latin1.yaml",
        "tasks:\n  - key: café\n    executor: noop\n".encode("latin-1"),
        r"latin1\.yaml:2:13: not UTF-8 text: byte 0xe9 at offset 19 cannot be decoded",
    ),
    ("argv.yaml", ARGV, r"argv\.yaml:6:7: duplicate key 'argv' \(lines 5 and 6\)"),
    ("argv.json", ARGV_JSON, r"argv\.json:3:14: duplicate key 'argv' \(lines 2 and 3\)"),
    (
        "loop.yaml",
        "tasks:\n  - &t {key: a, executor: noop, inputs: {me: *t}}\n",
        r"loop\.yaml:2:46: alias \*t refers to a mapping or list that contains it",
    ),
]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content.replace("{marker}", str(tmp_path / "second-argv-ran")))
    return path


def assert_one_paragraph_exit_2(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "\n\n" not in done.stderr.strip()
    assert re.search(message, " ".join(done.stderr.split())), done.stderr  # rich wraps at 120


@pytest.mark.parametrize(("name", "content", "message"), CASES, ids=[c[0] for c in CASES])
def test_validate_refuses_hostile_files_with_file_and_line(
    cli: Cli, tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    done = cli.run("validate", str(write(tmp_path, name, content)), timeout=30)
    assert_one_paragraph_exit_2(done, message)


@pytest.mark.parametrize("name", ["argv.yaml", "argv.json"])
def test_run_refuses_a_duplicate_key_and_runs_nothing(cli: Cli, tmp_path: Path, name: str) -> None:
    content, message = next((c, m) for n, c, m in CASES if n == name)
    done = cli.run("run", str(write(tmp_path, name, content)), timeout=30)
    assert_one_paragraph_exit_2(done, message)
    assert not (tmp_path / "second-argv-ran").exists()
    if (tmp_path / "cli.db").exists():
        assert cli.json("tasks", "list") == []


def measured(cli: Cli, tmp_path: Path, *args: str) -> tuple[int, str, float, int]:
    """Run ``taskflow ARGS`` under caps; its exit code, stderr, CPU seconds and peak RSS bytes."""

    def caps() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))

    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            cli.command(*args),
            env=cli.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=caps,  # noqa: PLW1509 -- rlimits must be set in the child before exec
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return (
        process.returncode,
        errors.read_text(),
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
    )


def test_a_billion_laughs_costs_what_a_small_valid_file_costs(cli: Cli, tmp_path: Path) -> None:
    small = write(tmp_path, "small.yaml", "tasks:\n  - {key: a, executor: noop}\n")
    code, _, base_cpu, base_rss = measured(cli, tmp_path, "validate", str(small))
    assert code == 0
    bomb = write(tmp_path, "lol.yaml", LOL)
    assert len(LOL.encode()) < 400
    code, stderr, cpu, rss = measured(cli, tmp_path, "validate", str(bomb))
    assert (code, "Traceback" in stderr) == (2, False), stderr
    assert "lol.yaml:6:8: YAML aliases" in " ".join(stderr.split())
    assert cpu < base_cpu + 1.0, (cpu, base_cpu)
    assert rss < base_rss + 16 * 2**20, (rss, base_rss)


def test_a_tree_at_the_depth_limit_validates_and_runs(cli: Cli, tmp_path: Path) -> None:
    # levels: the root, tasks, then two per group (the group, its children), the leaf, inputs
    path = write(tmp_path, "limit.json", json.dumps(group_chain(48)))
    done = cli.run("validate", str(path))
    assert (done.returncode, done.stdout.strip()) == (0, f"{path}: valid (50 tasks)"), done.stderr
    done = cli.run("run", str(path), "--json")
    assert done.returncode == 0, done.stderr
    tree = json.loads(done.stdout)
    assert tree["status"] == "completed" and len(tree["tasks"]) == 50
