"""``taskflow run``, ``validate``, ``schema`` and ``resume``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from taskflow.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    db_option,
    import_modules,
    imports_option,
    json_option,
    open_manager,
    print_json,
    run_async,
    stdout,
)
from taskflow.cli.follow import follow
from taskflow.engine import TaskManager
from taskflow.exceptions import DefinitionError
from taskflow.runtime import MEMORY_URL, create_session
from taskflow.treefile import (
    TreeFile,
    TreeFileError,
    load_tree_file,
    parse_assignments,
    tree_file_schema,
)


def _load(file: str, assignments: tuple[str, ...]) -> TreeFile:
    return load_tree_file(file, parse_assignments(assignments))


def _located(tree_file: TreeFile, exc: DefinitionError) -> TreeFileError:
    """The same error, pointing at the file and the task's line."""
    line = tree_file.line_of(exc.task) if exc.task else None
    return TreeFileError(str(exc), path=tree_file.path, line=line)


def _interactive() -> bool:
    return stdout.is_terminal and os.environ.get("TERM") != "dumb"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@imports_option
@click.option(
    "--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a parameter. Repeatable."
)
@click.option("--concurrency", type=click.IntRange(min=1), help="At most this many tasks at once.")
@click.option("--user", help="Owner of the tree.")
@json_option
@click.option(
    "--detach", is_flag=True, help="Run in a background process; print the tree id and return."
)
def run(
    *,
    file: str,
    db_url: str | None,
    imports: tuple[str, ...],
    assignments: tuple[str, ...],
    concurrency: int | None,
    user: str | None,
    as_json: bool,
    detach: bool,
) -> None:
    """Create the tree in FILE (YAML or JSON) and run it to the end.

    Shows a live tree on a terminal, a log line per event otherwise, then the root's result.
    Exit status: 0 completed, 1 failed or cancelled, 2 bad input (nothing ran), 130 stopped.
    Ctrl-C once cancels the tree and waits; twice stops at once (finish with `taskflow resume`).
    """
    import_modules(imports)
    tree_file = _load(file, assignments)
    limit = concurrency or tree_file.concurrency
    code = run_async(
        _run(
            tree_file=tree_file,
            db_url=db_url,
            imports=imports,
            concurrency=limit,
            user=user,
            as_json=as_json,
            detach=detach,
        )
    )
    sys.exit(code)


async def _run(
    *,
    tree_file: TreeFile,
    db_url: str | None,
    imports: tuple[str, ...],
    concurrency: int | None,
    user: str | None,
    as_json: bool,
    detach: bool,
) -> int:
    async with open_manager(db_url, concurrency=concurrency) as manager:
        try:
            tree = await manager.create_tree(tree_file.definition, user_id=user or tree_file.user)
        except DefinitionError as exc:
            raise _located(tree_file, exc) from exc
        if detach:
            _detach(tree.task.id, db_url, imports, concurrency)
            print_json({"tree_id": tree.task.id}) if as_json else stdout.print(
                tree.task.id, markup=False
            )
            return EXIT_OK
        tree_id = await manager.start(tree.task.id)
        return await follow(manager, tree_id, as_json=as_json, interactive=_interactive())


def _detach(
    tree_id: str, db_url: str | None, imports: tuple[str, ...], concurrency: int | None
) -> None:
    command = [sys.executable, "-m", "taskflow.cli", "run-tree", tree_id]
    if db_url:
        command += ["--db", db_url]
    for module in imports:
        command += ["--import", module]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@click.command("run-tree", hidden=True)
@click.argument("tree_id")
@db_option
@imports_option
@click.option("--concurrency", type=click.IntRange(min=1))
def run_tree(
    tree_id: str, db_url: str | None, imports: tuple[str, ...], concurrency: int | None
) -> None:
    """Run an existing tree to the end (what `run --detach` starts in the background)."""
    import_modules(imports)

    async def go() -> int:
        async with open_manager(db_url, concurrency=concurrency) as manager:
            tree = await manager.wait(await manager.start(tree_id))
            return EXIT_OK if tree.task.status.value == "completed" else EXIT_FAILED

    sys.exit(run_async(go()))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@imports_option
@click.option(
    "--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a parameter. Repeatable."
)
@json_option
def validate(
    file: str, imports: tuple[str, ...], assignments: tuple[str, ...], as_json: bool
) -> None:
    """Check FILE as `run` would, and write nothing.

    The file's format, parameters, executors (known?), literal inputs (valid against their
    executors' schemas?), dependencies and references (upstream?), cycles.
    """
    import_modules(imports)
    tree_file = _load(file, assignments)
    try:
        tasks = TaskManager(create_session(MEMORY_URL)).check(tree_file.definition)
    except DefinitionError as exc:
        raise _located(tree_file, exc) from exc
    if as_json:
        print_json({"valid": True, "tasks": len(tasks)})
    else:
        stdout.print(f"{tree_file.path}: valid ({len(tasks)} tasks)", markup=False)


@click.command()
def schema() -> None:
    """Print the JSON Schema of tree files (for editors that validate YAML/JSON)."""
    click.echo(json.dumps(tree_file_schema(), indent=2))


@click.command()
@db_option
@imports_option
@json_option
def resume(db_url: str | None, imports: tuple[str, ...], as_json: bool) -> None:
    """Finish the trees whose process died (their lease ran out)."""
    import_modules(imports)

    async def go() -> list[tuple[str, str]]:
        async with open_manager(db_url) as manager:
            ids = await manager.resume()
            return [(tree_id, (await manager.wait(tree_id)).task.status.value) for tree_id in ids]

    outcomes = run_async(go())
    if as_json:
        print_json([{"tree_id": tree_id, "status": status} for tree_id, status in outcomes])
    elif not outcomes:
        stdout.print("nothing to resume")
    for tree_id, status in [] if as_json else outcomes:
        stdout.print(f"tree {tree_id} {status}", markup=False)
    sys.exit(EXIT_OK if all(status == "completed" for _, status in outcomes) else EXIT_FAILED)


COMMANDS = (run, run_tree, validate, schema, resume)
