"""The CLI as a daily tool (issue 16): what a new user tripped over, each through the command.

Ids by prefix and TREE/KEY, waiting made visible, every validation error at once (and as a
JSON document), global options anywhere, ``--import`` from the working directory, package
names, single-line logs and the live view on an 80-column terminal, what starting costs.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pyte
import pytest
from cli_support import EXAMPLES, ROOT, Cli

from taskflow import TaskManager, create_session


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def queue_trees(db_url: str, count: int) -> list[str]:
    """``count`` one-task trees, created (not run) through the Python API."""

    async def create() -> list[str]:
        db = create_session(db_url)
        manager = TaskManager(db)
        try:
            return [
                (await manager.create_tree({"key": f"t{i}", "executor": "noop"})).task.id
                for i in range(count)
            ]
        finally:
            await manager.close()

    return asyncio.run(create())


# -- ids --------------------------------------------------------------------------------------


def test_any_unique_prefix_names_a_tree_or_task_and_an_ambiguous_one_lists_matches(
    cli: Cli,
) -> None:
    ids = queue_trees(cli.db_url, 20)  # 20 ids over 16 hex digits: some share a first digit
    listed = cli.run("tasks", "list").stdout
    short = ids[0][:8]
    assert re.search(rf"t0 .* {short} ", listed)  # the TREE column shows 8 characters...
    tree = cli.run("tasks", "tree", short)  # ...and they are enough
    assert tree.returncode == 0, tree.stderr
    assert "t0" in tree.stdout
    shown = cli.json("tasks", "show", short)
    assert shown["id"] == ids[0]
    by_tree = cli.json("tasks", "list", "--tree", short)
    assert [t["id"] for t in by_tree] == [ids[0]]

    digit = next(d for d in "0123456789abcdef" if sum(i.startswith(d) for i in ids) >= 2)
    matching = sorted(i for i in ids if i.startswith(digit))
    ambiguous = cli.run("tasks", "show", digit)
    assert ambiguous.returncode == 2
    assert f"'{digit}' matches more than one" in ambiguous.stderr
    # up to five of the matches are listed (whichever the query finds first), "…" for more
    listed_ids = [i for i in matching if i[:8] in ambiguous.stderr]
    assert len(listed_ids) == min(5, len(matching)), (matching, ambiguous.stderr)
    assert ("…" in ambiguous.stderr) == (len(matching) > 5)
    assert cli.run("tasks", "show", "zz").returncode == 2  # no match: not found, exit 2


def test_notify_by_tree_and_key(cli: Cli) -> None:
    running = cli.start("run", str(EXAMPLES / "approval.yaml"), "--json")
    try:
        tree_id = cli.wait_for(_waiting_tree(cli), what="the approval step to wait")
        sent = cli.run(
            "tasks", "notify", f"{tree_id[:4]}/approve", "approval", "--data", '{"by": "ann"}'
        )
        assert sent.returncode == 0, sent.stderr
        out, err = running.communicate(timeout=30)
    finally:
        running.kill()
    assert running.returncode == 0, err
    publish = {t["key"]: t for t in json.loads(out)["tasks"]}["publish"]
    assert publish["result"]["approved_by"] == "ann"
    missing = cli.run("tasks", "show", f"{tree_id[:4]}/nope")
    assert missing.returncode == 2 and "nope" in missing.stderr


def _waiting_tree(cli: Cli) -> object:
    def find() -> str | None:
        if not Path(cli.db_url.removeprefix("sqlite:///")).exists():
            return None
        waiting = cli.json("tasks", "list", "--status", "waiting")
        return str(waiting[0]["tree_id"]) if waiting else None

    return find


# -- waiting ----------------------------------------------------------------------------------

ASKING = """
from taskflow import BaseTask, executor_register


@executor_register()
class Ask(BaseTask):
    id = "approvals.ask"
    input_schema = {"type": "object", "properties": {"who": {"type": "string"}}}

    async def execute(self, inputs):
        await self.context.report_progress(0.5, f"asked {inputs['who']} for approval")
        return await self.context.wait("approval", timeout=600)
"""


def test_waiting_is_shown_filtered_and_recorded(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path, "approvals.py", ASKING)
    tree_file = write(
        tmp_path,
        "ask.yaml",
        "tasks:\n  - {key: ask, executor: approvals.ask, inputs: {who: ann}}\n"
        "  - {key: busy, executor: sleep, inputs: {seconds: 30}}\n",
    )
    env = {**cli.env}
    running = subprocess.Popen(
        [sys.executable, "-m", "taskflow.cli", "--import", "approvals", "run", str(tree_file)],
        env=env,
        cwd=tmp_path,  # --import finds approvals.py here, as python -m would
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tree_id = cli.wait_for(_waiting_tree(cli), what="the task to wait")
        waiting = cli.json("tasks", "list", "--status", "waiting")
        assert [t["key"] for t in waiting] == ["ask"]  # busy is in_progress, not waiting
        record = waiting[0]
        assert record["status"] == "in_progress"
        assert record["waiting"]["key"] == "approval" and record["waiting"]["timeout"] == 600
        assert record["waiting"]["since"]
        assert record["message"] == "asked ann for approval"  # on the record, not only events
        table = cli.run("tasks", "list", "--tree", tree_id).stdout
        assert re.search(r"ask .*waiting for 'approval' \d+(\.\d)?s \(timeout 600s\)", table)
        assert not re.search(r"ask .*in_progress", table)
        shown_tree = cli.run("tasks", "tree", tree_id).stdout
        assert re.search(r"⏸ ask .*waiting", shown_tree)
        assert "waiting for 'approval'" in shown_tree
        assert re.search(r"busy .*in_progress", shown_tree)
        in_progress = {t["key"] for t in cli.json("tasks", "list", "--status", "in_progress")}
        assert {"ask", "busy"} <= in_progress  # waiting is a kind of in_progress
        mixed = cli.run("tasks", "list", "--status", "waiting", "--status", "failed")
        assert mixed.returncode == 2 and "waiting" in mixed.stderr
        trees = cli.json("tasks", "list", "--roots", "--status", "waiting")
        assert [t["id"] for t in trees] == [tree_id]
    finally:
        running.kill()
        running.communicate(timeout=30)


# -- validation -------------------------------------------------------------------------------

THREE_PROBLEMS = """\
tasks:
  - key: nap
    executor: sleep
    inputs: {seconds: ten}
  - key: fetch
    executor: slep
  - key: a
    executor: noop
    dependencies: [b]
  - key: b
    executor: noop
    dependencies: [a]
"""


def test_validation_reports_every_problem_with_its_line(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "three.yaml", THREE_PROBLEMS)
    done = cli.run("validate", str(path))
    assert done.returncode == 2
    assert f"{path}: 3 problems" in done.stderr
    assert re.search(rf"{path}:2: task 'nap': inputs\.seconds: 'ten' is not of type", done.stderr)
    assert re.search(rf"{path}:5: task 'fetch': unknown executor 'slep'", done.stderr)
    assert "did you mean 'sleep'" in done.stderr
    assert re.search(rf"{path}:7: task 'a': dependency cycle: a -> b -> a", done.stderr)
    ran = cli.run("run", str(path))
    assert ran.returncode == 2 and ran.stderr == done.stderr
    assert not (tmp_path / "cli.db").exists()  # nothing was written


@pytest.mark.parametrize("command", ["validate", "run"])
def test_json_error_document_on_stdout(cli: Cli, tmp_path: Path, command: str) -> None:
    path = write(tmp_path, "three.yaml", THREE_PROBLEMS)
    done = cli.run(command, str(path), "--json")
    assert done.returncode == 2
    document = json.loads(done.stdout)
    assert document["valid"] is False
    errors = document["errors"]
    assert [(e["line"], e["task"]) for e in errors] == [(2, "nap"), (5, "fetch"), (7, "a")]
    assert all(e["file"] == str(path) for e in errors)
    assert "not of type" in errors[0]["message"] and errors[0]["field"] == "inputs.seconds"
    assert "unknown executor 'slep'" in errors[1]["message"]
    broken = write(tmp_path, "broken.yaml", "tasks:\n  - key: a\n   executor: noop\n")
    syntax = cli.run(command, str(broken), "--json")
    assert syntax.returncode == 2
    (error,) = json.loads(syntax.stdout)["errors"]
    assert error["line"] == 3 and "invalid YAML" in error["message"]
    valid = cli.run("validate", str(EXAMPLES / "demo.yaml"), "--json")
    assert valid.returncode == 0 and json.loads(valid.stdout)["valid"] is True


# -- options and imports ----------------------------------------------------------------------


def test_global_options_before_or_after_the_subcommand(cli: Cli, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    queue_trees(other, 1)
    env_db = cli.json("tasks", "list")
    assert env_db == []  # the environment's database is empty
    before = cli.run("--db", other, "tasks", "list", "--json")
    after = cli.run("tasks", "list", "--db", other, "--json")
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert len(json.loads(before.stdout)) == len(json.loads(after.stdout)) == 1
    for args in (("-v", "tasks", "show", "nope"), ("tasks", "show", "nope", "-v")):
        verbose = cli.run(*args)
        assert verbose.returncode == 2 and "Traceback" in verbose.stderr, args
    quiet = cli.run("tasks", "show", "nope")
    assert "Traceback" not in quiet.stderr


def test_import_finds_modules_in_the_working_directory(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path, "greetings.py", GREETING)
    tree_file = write(tmp_path, "hi.yaml", "tasks:\n  - {key: hi, executor: greet}\n")
    for args in (
        ("--import", "greetings", "run", str(tree_file), "--json"),
        ("run", str(tree_file), "--import", "greetings", "--json"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "taskflow.cli", *args],
            env=cli.env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        hi = next(t for t in json.loads(done.stdout)["tasks"] if t["key"] == "hi")
        assert hi["result"] == {"hello": "world"}


def test_taskflow_import_registers_executors_as_the_workers_read_it(
    cli: Cli, tmp_path: Path
) -> None:
    write(tmp_path, "greetings.py", GREETING)
    tree_file = write(tmp_path, "hi.yaml", "tasks:\n  - {key: hi, executor: greet}\n")
    command = [sys.executable, "-m", "taskflow.cli", "run", str(tree_file), "--json"]
    done = subprocess.run(
        command, env={**cli.env, "TASKFLOW_IMPORT": " greetings, "}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    hi = next(t for t in json.loads(done.stdout)["tasks"] if t["key"] == "hi")
    assert hi["result"] == {"hello": "world"}
    wrong = subprocess.run(
        command, env={**cli.env, "TASKFLOW_IMPORT": "greetingz"}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "TASKFLOW_IMPORT" in wrong.stderr and "greetingz" in wrong.stderr


GREETING = """
from taskflow import BaseTask, executor_register


@executor_register()
class Greet(BaseTask):
    id = "greet"

    async def execute(self, inputs):
        return {"hello": "world"}
"""


def test_package_names_are_normalised_and_executors_new_is_the_command(
    cli: Cli, tmp_path: Path
) -> None:
    made = cli.run("executors", "new", "acme_widget", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "'acme_widget' normalised to 'acme-widget'" in made.stderr
    assert (tmp_path / "acme-widget" / "pyproject.toml").exists()
    old = cli.run("executor", "new", "Acme.Gadget", "--dir", str(tmp_path))
    assert old.returncode == 0, old.stderr
    assert (tmp_path / "acme-gadget" / "pyproject.toml").exists()
    assert "executor " not in cli.run("--help").stdout.replace("executors", "")  # hidden alias
    bad = cli.run("executors", "new", "9 lives!", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "NAME" in bad.stderr


# -- output -----------------------------------------------------------------------------------

MULTILINE_FAILURE = """\
tasks:
  - key: build
    executor: shell.run
    inputs:
      shell: true
      command: |
        echo compiling
        echo linking
        exit 3
"""


def test_log_lines_stay_single_and_tasks_show_has_the_whole_error(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "multi.yaml", MULTILINE_FAILURE)
    done = cli.run("run", str(path))
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if " build failed " in line]
    assert len(failed) == 1
    assert re.match(r"\d\d:\d\d:\d\d build failed attempt=1 error=command /bin/sh", failed[0])
    assert "echo compiling ⏎ echo linking ⏎ exit 3" in failed[0]
    for line in done.stdout.splitlines():  # every event line starts with its time
        assert re.match(r"\d\d:\d\d:\d\d |tree |\{|\}|\s", line), line
    task = next(t for t in cli.json("tasks", "list") if t["key"] == "build")
    shown = cli.run("tasks", "show", task["id"]).stdout
    assert "echo compiling\necho linking\nexit 3" in shown  # the whole error, as it was

    long_message = "/nowhere" + "/x" * 1000  # the error names the whole path
    long_file = write(
        tmp_path,
        "long.yaml",
        "tasks:\n  - key: boom\n    executor: python.call\n"
        f"    inputs: {{function: 'builtins:open', args: ['{long_message}']}}\n",
    )
    cut = cli.run("run", str(long_file)).stdout
    line = next(line for line in cut.splitlines() if " boom failed " in line)
    assert line.endswith("…") and len(line) < 400
    task = next(t for t in cli.json("tasks", "list") if t["key"] == "boom")
    assert long_message in cli.json("tasks", "show", task["id"])["error"]


class Terminal:
    """A child process on a pseudo-terminal of a given size, its output fed to a screen."""

    def __init__(self, cli: Cli, args: list[str], columns: int = 80, rows: int = 40) -> None:
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.main, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**cli.env, "TERM": "xterm-256color", "COLUMNS": str(columns)}
        env.pop("NO_COLOR", None)
        self.process = subprocess.Popen(
            [sys.executable, "-c", TAKE_TERMINAL, *cli.command(*args)],
            env=env,
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            close_fds=True,
            start_new_session=True,
            cwd=ROOT,
        )
        os.close(secondary)
        self.raw = b""

    def read(self, timeout: float) -> bool:
        """Feed what arrives within ``timeout``; ``False`` once the child closed the terminal."""
        ready, _, _ = select.select([self.main], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.main, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        self.raw += chunk
        self.stream.feed(chunk)
        return True

    def read_until(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in "\n".join(self.screen.display):
            assert time.monotonic() < deadline, f"never saw {text!r}:\n{self.text()}"
            assert self.read(0.2), f"the child ended before {text!r}:\n{self.text()}"

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.read(0.5):
            assert time.monotonic() < deadline, self.text()
        os.close(self.main)
        return self.process.wait(timeout=10)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip()

    def lines(self) -> Iterator[str]:
        return (line.rstrip() for line in self.screen.display)


#: Make the pty the new session's terminal (so that ^C typed into it is SIGINT), then exec.
TAKE_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


LONG_ERROR = "a long reason " * 12


def test_live_view_wraps_the_detail_line_at_80_columns(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "wrap.yaml",
        "tasks:\n  - key: boom\n    executor: python.call\n"
        f"    inputs: {{function: 'builtins:int', args: ['{LONG_ERROR}']}}\n"
        "  - {key: nap, executor: sleep, inputs: {seconds: 1}}\n",
    )
    terminal = Terminal(cli, ["run", str(path)])
    assert terminal.finish() == 1
    lines = list(terminal.lines())
    assert all(len(line) <= 80 for line in lines)
    start = next(i for i, line in enumerate(lines) if re.search(r"✖ boom .*failed", line))
    detail = " ".join(line.strip(" │├└─") for line in lines[start + 1 : start + 6])
    words = " ".join(detail.split())
    assert " ".join(LONG_ERROR.split()) in words  # the whole error, wrapped, nothing cut


def test_no_stale_lines_after_ctrl_c(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "slow.yaml",
        "name: slow tree\ntasks:\n"
        + "".join(
            f"  - {{key: nap{i}, executor: sleep, inputs: {{seconds: 20}}}}\n" for i in range(4)
        ),
    )
    terminal = Terminal(cli, ["run", str(path)])
    terminal.read_until("nap3")
    terminal.read(1.2)  # a few redraws
    os.write(terminal.main, b"\x03")  # Ctrl-C, through the terminal
    assert terminal.finish() == 1
    screen = terminal.text()
    assert "^C" not in screen
    assert "cancelling the tree" in screen  # printed above the view, not into it
    tree = screen.split("\ntree ", 1)[0]  # the view, without what follows it
    assert tree.count("slow tree") == 1, screen  # one tree on the screen, no older frame
    for key in ("nap0", "nap1", "nap2", "nap3"):
        assert len(re.findall(rf"[├└]── \S+ {key} ", tree)) == 1, screen
        assert re.search(rf"{key} .*cancelled", tree), screen


# -- start-up ---------------------------------------------------------------------------------

IMPORTED = """
import sys
sys.argv = ["taskflow", *sys.argv[1:]]
from taskflow.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"sqlalchemy", "jsonschema", "alembic", "aiosqlite"})
engine = sorted(name for name in sys.modules if name.startswith(("taskflow.engine", "taskflow.backends", "taskflow.executors")))
print(json.dumps({"heavy": heavy, "engine": engine}), file=sys.stderr)
"""


def _modules_loaded(cli: Cli, *args: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + IMPORTED, *args],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_help_and_listing_import_only_what_they_use(cli: Cli) -> None:
    assert _modules_loaded(cli, "--help") == {"heavy": [], "engine": []}
    cli.run("db", "upgrade")  # an empty database at the current schema
    assert _modules_loaded(cli, "tasks", "list") == {"heavy": [], "engine": []}
    queue_trees(cli.db_url, 1)
    assert _modules_loaded(cli, "tasks", "list", "--roots") == {"heavy": [], "engine": []}
    started = time.monotonic()
    listed = cli.run("tasks", "list")
    assert listed.returncode == 0 and "t0" in listed.stdout
    print(f"taskflow tasks list: {time.monotonic() - started:.2f} s")  # a figure, not a test
