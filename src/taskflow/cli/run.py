"""``taskflow run``, ``validate``, ``schema`` and ``resume``."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import click

from taskflow.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    check_executor_limits,
    db_option,
    executor_limit_options,
    import_modules,
    imports_option,
    json_option,
    open_manager,
    print_json,
    run_async,
    stderr,
    stdout,
)
from taskflow.cli.edges import show_edges
from taskflow.cli.follow import follow
from taskflow.exceptions import DefinitionError, DefinitionErrors, InputValidationError
from taskflow.identity import describe_owner
from taskflow.models import TaskTree, utcnow
from taskflow.runtime import MEMORY_URL, TaskManager, create_session
from taskflow.runtime.worker import alive_workers
from taskflow.treefile import (
    TreeFile,
    TreeFileError,
    load_tree_file,
    parse_assignments,
    tree_file_schema,
)

#: The worker `run --detach` starts when none is alive exits after this long without a tree.
DETACHED_WORKER_IDLE_SECONDS = 30


def load(file: str, assignments: tuple[str, ...]) -> TreeFile:
    return load_tree_file(file, parse_assignments(assignments))


def _each(exc: DefinitionError) -> list[DefinitionError]:
    return list(exc.errors) if isinstance(exc, DefinitionErrors) else [exc]


def located(tree_file: TreeFile, exc: DefinitionError) -> TreeFileError:
    """The same error (each of them), pointing at the file and the task's line."""
    found = []
    for one in _each(exc):
        error = TreeFileError(
            str(one), path=tree_file.path, line=tree_file.line_of(one.task) if one.task else None
        )
        error.task = one.task
        error.__cause__ = one.__cause__ or one
        found.append(error)
    if len(found) == 1:
        return found[0]
    every = TreeFileError(
        f"{len(found)} problems:\n" + "\n".join(f"  {one}" for one in found), path=tree_file.path
    )
    every.errors = found  # type: ignore[attr-defined]
    return every


def error_document(exc: DefinitionError, path: str) -> dict[str, Any]:
    """A bad file as JSON for scripts: every problem with its file, line, column, task and
    (for inputs) field."""
    errors = getattr(exc, "errors", None) or [exc]
    found = []
    for one in errors:
        message = str(one)
        if isinstance(one, TreeFileError):
            where = f"{one.path}:{one.line}" if one.line else one.path
            where += f":{one.column}" if one.line and one.column else ""
            message = message.removeprefix(f"{where}: ")
        cause = one.__cause__
        found.append(
            {
                "file": getattr(one, "path", path),
                "line": getattr(one, "line", None),
                "column": getattr(one, "column", None),
                "task": one.task or _task_of(message),
                "field": (
                    cause.path
                    if isinstance(cause, InputValidationError)
                    else getattr(cause, "field", None)
                ),
                "message": message,
            }
        )
    return {"valid": False, "errors": found}


def _task_of(message: str) -> str | None:
    if message.startswith("task '"):
        return message[len("task '") :].split("'", 1)[0]
    return None


@contextlib.contextmanager
def reported(path: str, *, as_json: bool) -> Iterator[None]:
    """With ``--json``, a bad file is a JSON document on stdout (exit 2), not a message."""
    try:
        yield
    except DefinitionError as exc:
        if not as_json:
            raise
        print_json(error_document(exc, path))
        raise click.exceptions.Exit(EXIT_BAD_INPUT) from exc


def _checked(tree_file: TreeFile) -> list[Any]:
    """Every check `run` makes, writing nothing; every problem located in the file."""
    try:
        return TaskManager(create_session(MEMORY_URL)).check(tree_file.definition)
    except DefinitionError as exc:
        raise located(tree_file, exc) from exc


def interactive() -> bool:
    """Whether stdout is a terminal that can show the live view."""
    return stdout.is_terminal and os.environ.get("TERM") != "dumb"


def definition_of(tree_file: TreeFile, concurrency: int | None) -> object:
    """The file's definition, with ``--concurrency`` set on its root (nested or flat)."""
    definition = tree_file.definition
    if concurrency is None:
        return definition
    if isinstance(definition, Mapping):
        return {**definition, "concurrency": concurrency}
    return [
        {**task, "concurrency": concurrency}
        if isinstance(task, Mapping) and task.get("parent_id") is None
        else task
        for task in definition
    ]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@imports_option
@click.option(
    "--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a parameter. Repeatable."
)
@click.option("--concurrency", type=click.IntRange(min=1), help="At most this many tasks at once.")
@executor_limit_options
@click.option("--user", help="Owner of the tree.")
@json_option
@click.option(
    "--detach",
    is_flag=True,
    help="Queue the tree for a worker (starting one in the background if none runs); print "
    "the tree id and return.",
)
def run(
    *,
    file: str,
    db_url: str | None,
    imports: tuple[str, ...],
    assignments: tuple[str, ...],
    concurrency: int | None,
    limits: dict[str, int],
    rates: dict[str, str],
    user: str | None,
    as_json: bool,
    detach: bool,
) -> None:
    """Create the tree in FILE (YAML or JSON) and run it to the end.

    Shows a live tree on a terminal, a log line per event otherwise, then the root's result.
    Exit status: 0 completed, 1 failed or cancelled, 2 bad input (nothing ran), 130 stopped,
    143 stopped by SIGTERM (the tree is left resumable). Ctrl-C once cancels the tree and
    waits; twice stops at once (finish with `taskflow resume`).
    """
    import_modules(imports)
    if detach and (limits or rates):
        option = "--limit" if limits else "--rate"
        raise click.UsageError(
            f"{option} caps this process, and with --detach the tree runs on a worker: "
            f"give {option} to `taskflow worker` instead"
        )
    check_executor_limits(limits, rates)
    with reported(file, as_json=as_json):  # checked once, by creating the tree
        tree_file = load(file, assignments)
        definition = definition_of(tree_file, concurrency or tree_file.concurrency)
        user_id = user or tree_file.user
        if detach:
            run_async(
                _detach(
                    tree_file,
                    definition=definition,
                    db_url=db_url,
                    imports=imports,
                    user=user_id,
                    as_json=as_json,
                )
            )
            return
        engine = {"executor_limits": limits, "rate_limits": rates}
        code = run_async(
            _run(tree_file, definition, db_url, user_id, as_json=as_json, engine=engine)
        )
    sys.exit(code)


async def _run(
    tree_file: TreeFile,
    definition: object,
    db_url: str | None,
    user: str | None,
    *,
    as_json: bool,
    engine: dict[str, Any],
) -> int:
    async with open_manager(db_url, **engine) as manager:
        try:
            tree_id = await manager.launch(definition, user_id=user)  # type: ignore[arg-type]
        except DefinitionError as exc:
            raise located(tree_file, exc) from exc
        return await follow(manager, tree_id, as_json=as_json, interactive=interactive())


async def _detach(
    tree_file: TreeFile,
    *,
    definition: object,
    db_url: str | None,
    imports: tuple[str, ...],
    user: str | None,
    as_json: bool,
) -> None:
    async with open_manager(db_url) as manager:
        try:
            tree = await manager.create_tree(definition, user_id=user, queued=True)  # type: ignore[arg-type]
        except DefinitionError as exc:
            raise located(tree_file, exc) from exc
        workers = await alive_workers(manager)
    started = not workers
    if started:
        _start_worker(db_url, imports)
    if as_json:
        print_json({"tree_id": tree.task.id, "status": "queued", "worker_started": started})
        return
    stdout.print(tree.task.id, markup=False)
    who = "started a worker in the background" if started else f"{len(workers)} worker(s) alive"
    stderr.print(f"queued ({who}); follow it with `taskflow tasks watch {tree.task.id}`")


def _start_worker(db_url: str | None, imports: tuple[str, ...]) -> None:
    command = [sys.executable, "-m", "taskflow.cli", "worker"]
    command += ["--idle-exit", str(DETACHED_WORKER_IDLE_SECONDS)]
    if db_url:
        command += ["--db", db_url]
    for module in imports:
        command += ["--import", module]
    subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=os.getcwd(),
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@imports_option
@click.option(
    "--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a parameter. Repeatable."
)
@json_option
@click.option("--explain", is_flag=True, help="Print each edge: the types that flow along it.")
@click.option("--strict", is_flag=True, help="List the edges whose types could not be checked.")
def validate(
    *,
    file: str,
    imports: tuple[str, ...],
    assignments: tuple[str, ...],
    as_json: bool,
    explain: bool,
    strict: bool,
) -> None:
    """Check FILE as `run` would, and write nothing.

    The file's format, parameters, executors (known?), literal inputs (valid against their
    executors' schemas?), dependencies and references (upstream?), cycles, and what each
    reference carries against what its field accepts (the output and input schemas).
    """
    import_modules(imports)
    with reported(file, as_json=as_json):
        tree_file = load(file, assignments)
        tasks = _checked(tree_file)
    if explain or strict:
        registry = TaskManager(create_session(MEMORY_URL)).registry
        show_edges(tree_file, tasks, registry, explain=explain, strict=strict, as_json=as_json)
        return
    if as_json:
        print_json({"valid": True, "tasks": len(tasks)})
    else:
        stdout.print(f"{tree_file.path}: valid ({len(tasks)} tasks)", markup=False)


@click.command()
def schema() -> None:
    """Print the JSON Schema of tree files (for editors that validate YAML/JSON)."""
    click.echo(json.dumps(tree_file_schema(), indent=2))


def _held_line(tree: TaskTree) -> str:
    until = tree.lease.expires_at
    seconds = (until - utcnow()).total_seconds() if until else 0
    return (
        f"tree {tree.id} ({tree.name}) is held by {describe_owner(tree.lease.owner)} "
        f"until {until.isoformat(timespec='seconds') if until else '?'} "
        f"(in {max(seconds, 0):.0f} s); it is resumable once that process stops renewing"
    )


@click.command()
@db_option
@imports_option
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="At most this many tasks at once (all trees)."
)
@executor_limit_options
@json_option
def resume(
    *,
    db_url: str | None,
    imports: tuple[str, ...],
    concurrency: int | None,
    limits: dict[str, int],
    rates: dict[str, str],
    as_json: bool,
) -> None:
    """Finish the trees nobody runs: their process died, stopped, or they wait in the queue.

    A dead process on this machine is noticed at once; one elsewhere once its lease runs out.
    Trees held by a live process are listed, with until when.
    """
    import_modules(imports)
    check_executor_limits(limits, rates)
    engine = {"concurrency": concurrency, "executor_limits": limits, "rate_limits": rates}

    async def go() -> tuple[list[tuple[str, str]], dict[str, str], list[TaskTree]]:
        async with open_manager(db_url, **engine) as manager:
            started = await manager.resume()
            for tree_id in started:
                stderr.print(f"resuming tree {tree_id}", markup=False)
            outcomes = []
            for tree_id in started:
                await manager.wait(tree_id)
                outcomes.append((tree_id, (await manager.get_tree(tree_id)).status.value))
            return outcomes, started.failed, started.held

    outcomes, failed, held = run_async(go())
    if as_json:
        print_json(
            {
                "resumed": [{"tree_id": t, "status": s} for t, s in outcomes],
                "failed": [{"tree_id": t, "error": e} for t, e in failed.items()],
                "held": [{"tree_id": t.id, "owner": t.lease.owner} for t in held],
            }
        )
    else:
        for tree_id, status in outcomes:
            stdout.print(f"tree {tree_id} {status}", markup=False)
        for tree_id, error in failed.items():
            stderr.print(f"tree {tree_id} cannot run here: {error}", markup=False)
        for tree in held:
            stderr.print(_held_line(tree), markup=False)
        if not (outcomes or failed or held):
            stdout.print("nothing to resume")
    ok = all(status == "completed" for _, status in outcomes) and not failed
    sys.exit(EXIT_OK if ok else EXIT_FAILED)
