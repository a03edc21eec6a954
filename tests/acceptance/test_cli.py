"""The taskflow CLI driven in subprocesses, as a user drives it (issue 4)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import EXAMPLES, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}")


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_version_help_and_schema(cli: Cli) -> None:
    assert cli.run("--version").stdout.strip() == "taskflow, version 0.1.0"
    help_text = cli.run("--help").stdout
    for command in ("run", "validate", "schema", "resume", "worker", "tasks", "executors", "db"):
        assert re.search(rf"^\s+{command}\s", help_text, re.M), command
    schema = json.loads(cli.run("schema").stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"treeFile", "task", "flatTask"} <= set(schema["$defs"])


def test_validate_checks_everything_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    done = cli.run("validate", str(EXAMPLES / "demo.yaml"))
    assert (done.returncode, done.stdout.strip()) == (
        0,
        f"{EXAMPLES / 'demo.yaml'}: valid (6 tasks)",
    )
    assert not (tmp_path / "cli.db").exists()


ERRORS = [
    (
        "bad.yaml",
        "tasks:\n  - key: a\n    executor: noop\n   inputs: {}\n",
        r"bad\.yaml:4:\d+: invalid YAML",
    ),
    (
        "bad.json",
        '{"tasks": [{"key": "a", "executor": "noop",}]}',
        r"bad\.json:1:\d+: invalid JSON",
    ),
    (
        "unknown.yaml",
        "tasks:\n  - key: get\n    executor: slep\n",
        r"unknown\.yaml:2: task 'get': unknown executor 'slep'; did you mean 'sleep'",
    ),
    (
        "inputs.yaml",
        "tasks:\n  - key: a\n    executor: noop\n  - key: nap\n    executor: sleep\n    inputs: {seconds: ten}\n",
        r"inputs\.yaml:4: task 'nap': inputs\.seconds: 'ten' is not of type 'number'",
    ),
    (
        "reference.yaml",
        "tasks:\n  - {key: a, executor: noop}\n  - {key: b, executor: noop, inputs: {x: '${a.result}'}}\n",
        r"reference\.yaml:3: task 'b': inputs refer to 'a', which is not upstream",
    ),
    (
        "cycle.yaml",
        "tasks:\n  - {key: a, executor: noop, dependencies: [c]}\n  - {key: b, executor: noop, dependencies: [a]}\n"
        "  - {key: c, executor: noop, dependencies: [b]}\n",
        r"cycle\.yaml:2: task 'a': dependency cycle: a -> b -> c -> a",
    ),
    (
        "field.yaml",
        "tasks:\n  - key: a\n    executor: noop\n    colour: red\n",
        r"field\.yaml:2: tasks\[0\]: Additional properties are not allowed \('colour' was unexpected\)",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_is_one_paragraph_exit_2_and_writes_nothing(
    cli: Cli, tmp_path: Path, command: str, name: str, text: str, message: str
) -> None:
    done = cli.run(command, write(tmp_path, name, text))
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(message, done.stderr), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    if (tmp_path / "cli.db").exists():
        assert cli.json("tasks", "list") == []


def test_unreachable_database_and_verbose_traceback(cli: Cli) -> None:
    dead = "postgresql://nobody@127.0.0.1:1/none"
    done = cli.run("run", str(EXAMPLES / "demo.yaml"), "--db", dead)
    assert done.returncode == 2
    assert "cannot reach the database postgresql+asyncpg://nobody@127.0.0.1:1/none" in done.stderr
    assert "Traceback" not in done.stderr
    verbose = cli.run("-v", "run", str(EXAMPLES / "demo.yaml"), "--db", dead)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_parameters_must_be_declared_and_set(cli: Cli) -> None:
    done = cli.run("run", str(EXAMPLES / "demo.yaml"), "--set", "txt=oops")
    assert done.returncode == 2 and "--set txt: no such parameter (declared: text)" in done.stderr


def test_run_demo_with_json_and_a_parameter(cli: Cli) -> None:
    done = cli.run("run", str(EXAMPLES / "demo.yaml"), "--json", "--set", "text=b a c")
    assert done.returncode == 0, done.stderr
    tree = json.loads(done.stdout)
    assert tree["status"] == "completed"
    assert tree["result"]["summary"] == {
        "count": {"value": 3},
        "sorted": {"value": ["a", "b", "c"]},
        "pause": {"slept": 0.5},
    }
    assert {t["status"] for t in tree["tasks"]} == {"completed"}


def test_a_failing_branch_exits_1_with_every_task_finished(cli: Cli) -> None:
    done = cli.run("run", str(EXAMPLES / "optional_failure.yaml"), "--json")
    assert done.returncode == 1
    tasks = {t["key"]: t for t in json.loads(done.stdout)["tasks"]}
    assert {k: t["status"] for k, t in tasks.items()} == {
        "optional_dependency_on_a_failure": "failed",
        "parse": "failed",
        "strict": "cancelled",
        "report": "completed",
    }
    assert tasks["strict"]["error"] == "required dependency 'parse' ended failed"
    assert tasks["report"]["result"]["parse_status"] == "failed"
    assert "invalid literal for int()" in tasks["report"]["result"]["parse_error"]


def test_priorities_under_a_concurrency_limit(cli: Cli) -> None:
    tasks = json.loads(cli.run("run", str(EXAMPLES / "priorities.yaml"), "--json").stdout)["tasks"]
    started = sorted((t["started_at"], t["key"]) for t in tasks if t["executor"])
    assert [key for _, key in started] == [
        "urgent",
        "high",
        "normal_1",
        "normal_2",
        "low",
        "after_low",
    ]


def test_plain_log_when_not_a_terminal(cli: Cli) -> None:
    done = cli.run("run", str(EXAMPLES / "demo.yaml"))
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert any(re.match(r"\d\d:\d\d:\d\d words started attempt=1$", line) for line in lines)
    assert any(re.match(r"\d\d:\d\d:\d\d summary completed", line) for line in lines)
    assert "\x1b[" not in done.stdout  # no colour or cursor codes in a pipe


def test_tasks_list_show_tree_and_filters(cli: Cli) -> None:
    tree_id = json.loads(
        cli.run("run", str(EXAMPLES / "demo.yaml"), "--json", "--user", "ann").stdout
    )["tree_id"]
    cli.run("run", str(EXAMPLES / "optional_failure.yaml"))
    roots = cli.json("tasks", "list", "--roots")
    assert [r["status"] for r in roots] == ["failed", "completed"]  # newest first
    assert {t["user_id"] for t in cli.json("tasks", "list", "--user", "ann")} == {"ann"}
    failed = cli.json("tasks", "list", "--status", "failed")
    assert {t["key"] for t in failed} == {"optional_dependency_on_a_failure", "parse"}
    by_key = cli.tasks_by_key(tree_id)
    shown = cli.json("tasks", "show", by_key["count"]["id"])
    assert (shown["result"], shown["attempt"]) == ({"value": 11}, 1)
    tree = cli.json("tasks", "tree", by_key["count"]["id"])
    assert tree["tree_id"] == tree_id and len(tree["tasks"]) == 6
    table = cli.run("tasks", "list", "--tree", tree_id).stdout
    assert "summary" in table and "completed" in table
    text_tree = cli.run("tasks", "tree", tree_id).stdout
    assert "word statistics" in text_tree and "summary" in text_tree
    missing = cli.run("tasks", "show", "no-such-id")
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "error: task 'no-such-id' does not exist",
    )


def test_retry_a_failed_task_after_fixing_its_cause(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "input.txt"
    tree_file = write(
        tmp_path,
        "size.yaml",
        f"tasks:\n  - key: size\n    executor: python.call\n"
        f"    inputs: {{function: 'os.path:getsize', args: ['{target}']}}\n"
        "  - {key: report, executor: noop, dependencies: [size], inputs: {bytes: '${size.result.value}'}}\n",
    )
    first = cli.run("run", tree_file, "--json")
    assert first.returncode == 1
    tasks = {t["key"]: t for t in json.loads(first.stdout)["tasks"]}
    assert (
        tasks["size"]["error_type"] == "FileNotFoundError"
        and tasks["report"]["status"] == "cancelled"
    )
    target.write_text("12345")
    again = cli.run("tasks", "retry", tasks["size"]["id"], "--with-dependents", "--json")
    assert again.returncode == 0, again.stderr
    final = {t["key"]: t for t in json.loads(again.stdout)["tasks"]}
    assert final["report"]["result"] == {"bytes": 5}
    assert (final["size"]["attempt"], [a["status"] for a in final["size"]["attempts"]]) == (
        2,
        ["failed", "completed"],
    )


def test_detach_then_watch_then_cancel(cli: Cli, tmp_path: Path) -> None:
    tree_file = write(
        tmp_path,
        "slow.yaml",
        "tasks:\n  - {key: nap, executor: sleep, inputs: {seconds: 0.5}}\n"
        "  - {key: long, executor: sleep, inputs: {seconds: 60}}\n",
    )
    detached = cli.run("run", tree_file, "--detach")
    assert detached.returncode == 0
    tree_id = detached.stdout.strip()
    long_id = cli.wait_for(
        lambda: (
            cli.tasks_by_key(tree_id).get("long", {}).get("status") == "in_progress"
            and cli.tasks_by_key(tree_id)["long"]["id"]
        ),
        what="the detached run to start",
    )
    watcher = cli.start("tasks", "watch", tree_id)
    time.sleep(1.0)
    cancelled = cli.run("tasks", "cancel", long_id, "--reason", "enough")
    assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 1, err
    assert re.search(r"nap completed", out) and re.search(r"long cancelled .*error=enough", out)
    assert f"tree {tree_id} cancelled" in out


def test_approval_released_by_tasks_notify(cli: Cli) -> None:
    running = cli.start("run", str(EXAMPLES / "approval.yaml"), "--json")

    def approve_id() -> str | None:
        roots = (
            cli.json("tasks", "list", "--roots")
            if Path(cli.db_url.removeprefix("sqlite:///")).exists()
            else []
        )
        if not roots:
            return None
        task = cli.tasks_by_key(roots[0]["id"]).get("approve")
        return task["id"] if task and task["status"] == "in_progress" else None

    task_id = cli.wait_for(approve_id, what="the approval step to wait")
    bad = cli.run("tasks", "notify", task_id, "approval", "--data", "{oops")
    assert bad.returncode == 2 and "not JSON" in bad.stderr
    sent = cli.run("tasks", "notify", task_id, "approval", "--data", '{"by": "alice"}')
    assert sent.returncode == 0
    out, err = running.communicate(timeout=30)
    assert running.returncode == 0, err
    publish = {t["key"]: t for t in json.loads(out)["tasks"]}["publish"]
    assert publish["result"] == {"version": "1.0", "approved_by": "alice"}


def _start_long_run(cli: Cli, tmp_path: Path, executor: str = "sleep") -> subprocess.Popen[str]:
    """A run whose first tasks are running (its log said so) and will be for a while."""
    stops_when_asked = "{executor: sleep, inputs: {seconds: 10}}"
    ignores_the_flag = "{executor: python.call, inputs: {function: 'asyncio:sleep', args: [30]}}"
    task = stops_when_asked if executor == "sleep" else ignores_the_flag
    tree_file = write(
        tmp_path,
        "long.yaml",
        "concurrency: 2\ntasks:\n" + "".join(f"  - {{key: t{i}, {task[1:]}\n" for i in range(4)),
    )
    process = cli.start("run", tree_file)
    _read_until(process, b"t0 started")
    return process


def _read_until(process: subprocess.Popen[str], needle: bytes, timeout: float = 20) -> None:
    """Read the child's stdout from the raw descriptor until ``needle`` appears.

    Not select() plus a buffered readline(): the line we wait for can sit in the reader's
    buffer while select() waits for bytes the child only writes much later.
    """
    assert process.stdout is not None
    fd, seen, deadline = process.stdout.fileno(), b"", time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"never saw {needle!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 65536)


def _only_tree(cli: Cli) -> str:
    roots = cli.json("tasks", "list", "--roots")
    assert len(roots) == 1
    return str(roots[0]["id"])


def test_ctrl_c_once_cancels_the_tree_and_waits(cli: Cli, tmp_path: Path) -> None:
    process = _start_long_run(cli, tmp_path)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, err
    assert time.monotonic() - started < 8  # it did not sleep out its 10 s tasks
    tree_id = _only_tree(cli)
    assert "cancelling the tree" in err and f"tree {tree_id} cancelled" in out
    tasks = cli.tasks_by_key(tree_id)
    assert {t["status"] for t in tasks.values()} == {"cancelled"}
    assert tasks["t0"]["error"].endswith("was cancelled: interrupted (Ctrl-C)")  # via the root
    assert tasks["t0"]["result"] is not None  # it stopped when asked and returned


def test_ctrl_c_twice_stops_at_once_with_nothing_half_recorded(cli: Cli, tmp_path: Path) -> None:
    process = _start_long_run(cli, tmp_path, executor="python.call")
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # the first Ctrl-C asked the tasks to stop; they do not listen
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    assert time.monotonic() - started < 4  # not the 5 s grace period, nor the 30 s sleep
    assert "taskflow resume" in err
    left = cli.tasks_by_key(_only_tree(cli))
    assert "in_progress" not in {t["status"] for t in left.values()}  # every change was recorded
    assert left["t0"]["status"] == "cancelled"
    assert left["t0"]["error"].endswith("(stopped by force)")
    resumed = cli.run("resume")  # the first Ctrl-C cancelled the tree: nothing is left to do
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "nothing to resume")


def test_executors_list_and_show(cli: Cli) -> None:
    listed = {e["id"]: e for e in cli.json("executors", "list")}
    assert {"noop", "sleep", "aggregate", "python.call", "signal.wait"} <= set(listed)
    assert listed["sleep"]["source"] == "built-in"
    shown = cli.json("executors", "show", "sleep")
    assert shown["input_schema"]["properties"]["seconds"]["default"] == 1
    text = cli.run("executors", "show", "python.call").stdout
    assert "input_schema:" in text and '"function"' in text
    unknown = cli.run("executors", "show", "slep")
    assert unknown.returncode == 2 and "did you mean 'sleep'" in unknown.stderr


def test_db_upgrade_and_current(cli: Cli) -> None:
    assert cli.run("db", "current").stdout.strip() == "none (empty database)"
    assert cli.run("db", "upgrade").stdout.strip() == "database at revision 0006_task_cursor"
    assert cli.run("db", "current").stdout.strip() == "0006_task_cursor"


def test_live_view_on_a_terminal(cli: Cli) -> None:
    main, secondary = pty.openpty()
    env = {**cli.env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR")
    process = subprocess.Popen(
        cli.command("run", str(EXAMPLES / "demo.yaml")),
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 10)
        try:
            chunk = os.read(main, 65536) if ready else b""
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=30)
    os.close(main)
    screen = b"".join(chunks).decode()
    assert process.returncode == 0
    assert "\x1b[" in screen  # drawn with terminal codes (colour, cursor moves)
    assert screen.count("word statistics") >= 3  # redrawn while it ran
    assert re.search(r"◐.*pause.*in_progress", screen)  # seen running, with its progress bar...
    final = screen[screen.rindex("word statistics") :]
    assert all(
        re.search(rf"✔.*{key}.*completed", final)
        for key in ("words", "count", "sorted", "pause", "summary")
    )
