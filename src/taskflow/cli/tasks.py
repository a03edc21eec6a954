"""``taskflow tasks ...``: list, show, tree, cancel, retry, notify, watch."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import click

from taskflow.cli.common import (
    EXIT_INTERRUPTED,
    Failed,
    db_option,
    import_modules,
    imports_option,
    json_option,
    open_manager,
    print_json,
    run_async,
    stdout,
)
from taskflow.cli.follow import exit_code, follow, show_outcome
from taskflow.cli.render import (
    live_tree,
    plain_log,
    task_json,
    tasks_table,
    tree_json,
    tree_record_json,
    tree_view,
    trees_table,
)
from taskflow.cli.run import interactive
from taskflow.models import TaskStatus, TreeStatus
from taskflow.runtime import TaskManager

STATUSES = [status.value for status in TaskStatus]
#: With --roots, trees are listed: they may also be queued.
LISTED_STATUSES = [*STATUSES, *(s.value for s in TreeStatus if s.value not in STATUSES)]


@click.group()
def tasks() -> None:
    """Look at and control tasks and trees."""


@tasks.command("list")
@db_option
@click.option(
    "--status",
    type=click.Choice(LISTED_STATUSES),
    multiple=True,
    help="Only these statuses (with --roots, also queued). Repeatable.",
)
@click.option("--tree", "tree_id", help="Only the tasks of this tree.")
@click.option("--user", help="Only this user's tasks.")
@click.option("--roots", is_flag=True, help="Trees instead of tasks (one line per tree).")
@click.option(
    "--results", is_flag=True, help="Include results, inputs and tracebacks (with --json)."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@json_option
def list_tasks(
    *,
    db_url: str | None,
    status: tuple[str, ...],
    tree_id: str | None,
    user: str | None,
    roots: bool,
    results: bool,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List tasks, newest first (a tree's in creation order); --roots lists trees.

    A tree's status is rolled up from all its tasks: it is finished only when every task is.
    """
    if roots:
        _list_trees(db_url, status, user, limit, as_json)
        return
    if TreeStatus.QUEUED.value in status:
        raise click.BadParameter(
            "tasks are never queued: trees are (use --roots)", param_hint="--status"
        )

    async def go() -> list[Any]:
        async with open_manager(db_url) as manager:
            return await manager.task_repository.list_tasks(
                status=list(status) or None,
                tree_id=tree_id,
                user_id=user,
                with_results=results,
                limit=limit,
                offset=offset,
            )

    found = run_async(go())
    if as_json:
        print_json([task_json(task) for task in found])
    else:
        stdout.print(tasks_table(found))


def _list_trees(
    db_url: str | None, status: tuple[str, ...], user: str | None, limit: int, as_json: bool
) -> None:
    async def go() -> list[Any]:
        async with open_manager(db_url) as manager:
            return await manager.task_repository.list_trees(
                status=list(status) or None, user_id=user, limit=limit
            )

    found = run_async(go())
    if as_json:
        print_json([tree_record_json(tree) for tree in found])
    else:
        stdout.print(trees_table(found))


@tasks.command()
@click.argument("task_id")
@db_option
@json_option
def show(task_id: str, db_url: str | None, as_json: bool) -> None:
    """Every field of a task."""

    async def go() -> dict[str, Any]:
        async with open_manager(db_url) as manager:
            return task_json(await manager.task_repository.require_task(task_id))

    data = run_async(go())
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        stdout.print(f"{name:>16}  {shown}", markup=False)


@tasks.command()
@click.argument("task_id")
@db_option
@json_option
def tree(task_id: str, db_url: str | None, as_json: bool) -> None:
    """The tree containing a task, as `run` shows it."""

    async def go() -> Any:
        async with open_manager(db_url) as manager:
            task = await manager.task_repository.require_task(task_id)
            record = await manager.task_repository.require_tree(task.tree_id)
            return await manager.task_repository.get_task_tree(task.tree_id), record

    found, record = run_async(go())
    if as_json:
        print_json(tree_json(found, record))
    else:
        stdout.print(tree_view(found))


@tasks.command()
@click.argument("task_id")
@db_option
@click.option("--reason", default="cancelled from the command line", show_default=True)
def cancel(task_id: str, db_url: str | None, reason: str) -> None:
    """Cancel a task, its subtree and what requires it (a root: its whole tree).

    Works wherever the tree runs: in another process it stops within about a second.
    """

    async def go() -> TaskStatus:
        async with open_manager(db_url) as manager:
            await manager.cancel(task_id, reason)
            return (await manager.task_repository.require_task(task_id)).status

    status = run_async(go())
    message = (
        "cancelled"
        if status is TaskStatus.CANCELLED
        else f"cancel requested (the task is {status.value})"
    )
    stdout.print(f"{task_id}: {message}", markup=False)


@tasks.command()
@click.argument("task_id")
@db_option
@imports_option
@click.option(
    "--with-dependents", is_flag=True, help="Also run again what was cancelled because of it."
)
@json_option
def retry(
    task_id: str, db_url: str | None, imports: tuple[str, ...], with_dependents: bool, as_json: bool
) -> None:
    """Run a failed or cancelled task again, here, and follow its tree to the end."""
    import_modules(imports)

    async def go() -> int:
        async with open_manager(db_url) as manager:
            tree_id = await manager.retry_task(task_id, with_dependents=with_dependents)
            return await follow(manager, tree_id, as_json=as_json, interactive=interactive())

    sys.exit(run_async(go()))


@tasks.command()
@click.argument("task_id")
@click.argument("key")
@db_option
@click.option(
    "--data", default="null", metavar="JSON", help="The data to send (JSON).", show_default=True
)
def notify(task_id: str, key: str, db_url: str | None, data: str) -> None:
    """Send data to a task waiting for KEY (now, or whenever it waits)."""
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON: {exc.msg} at column {exc.colno}", param_hint="--data"
        ) from exc

    async def go() -> None:
        async with open_manager(db_url) as manager:
            await manager.task_repository.require_task(task_id)
            await manager.notify(task_id, key, value)

    run_async(go())
    stdout.print(f"{task_id}: sent {key!r}", markup=False)


@tasks.command()
@click.argument("task_id")
@db_option
@json_option
def watch(task_id: str, db_url: str | None, as_json: bool) -> None:
    """Follow a tree that runs elsewhere until it ends (Ctrl-C stops watching, not the tree)."""
    sys.exit(run_async(_watch(task_id, db_url, as_json)))


async def _watch(task_id: str, db_url: str | None, as_json: bool) -> int:
    async with open_manager(db_url) as manager:
        tree_id = (await manager.task_repository.require_task(task_id)).tree_id
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def on_sigint() -> None:
            if not stop.done():
                stop.set_result(None)

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            finished = asyncio.ensure_future(_until_finished(manager, tree_id, as_json))
            await asyncio.wait([finished, stop], return_when=asyncio.FIRST_COMPLETED)
            if not finished.done():
                finished.cancel()
                return EXIT_INTERRUPTED
        finally:
            loop.remove_signal_handler(signal.SIGINT)
        final = await manager.task_repository.get_task_tree(tree_id)
        record = await manager.task_repository.require_tree(tree_id)
        show_outcome(final, record, as_json=as_json)
        return exit_code(record)


async def _until_finished(manager: TaskManager, tree_id: str, as_json: bool) -> None:
    if as_json:
        async for _ in manager.subscribe(tree_id):
            pass
    elif interactive():
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await live_tree(manager, tree_id, never)
    else:
        await plain_log(manager, tree_id)


__all__ = ["Failed", "tasks"]
