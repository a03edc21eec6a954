"""``taskflow tasks ...``: list, show, tree, cancel, retry, notify, watch.

Wherever a task is named, any unique prefix of its id will do, or ``TREE/KEY`` (a tree by id
or unique prefix, and the key of one of its tasks): ``taskflow tasks notify 3f2a/approve
approval --data '{"by": "ann"}'``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import click

from taskflow.cli.common import (
    EXIT_INTERRUPTED,
    db_option,
    import_modules,
    imports_option,
    json_option,
    open_manager,
    print_json,
    run_async,
    stdout,
)
from taskflow.cli.remote import remote_list, remote_show, server_options
from taskflow.models import TaskStatus, TreeStatus

if TYPE_CHECKING:
    from taskflow.repository import TaskRepository
    from taskflow.runtime import TaskManager

WAITING = "waiting"  # in_progress, parked in context.wait
STATUSES = [*(status.value for status in TaskStatus), WAITING]
#: With --roots, trees are listed: they may also be queued.
LISTED_STATUSES = [*STATUSES, TreeStatus.QUEUED.value]
TASK_REF = "A task id, a unique prefix of one, or TREE/KEY."


@contextlib.asynccontextmanager
async def open_repository(db_url: str | None) -> AsyncIterator[TaskRepository]:
    """The repository alone, for reading (no engine, and on a SQLite file no SQLAlchemy: the
    command starts faster)."""
    from taskflow.runtime.session import create_reader

    repository = create_reader(db_url)
    try:
        yield repository
    finally:
        await repository.close()


@click.group()
def tasks() -> None:
    """Look at and control tasks and trees (ids: any unique prefix, or TREE/KEY)."""


@tasks.command("list")
@db_option
@click.option(
    "--status",
    type=click.Choice(LISTED_STATUSES),
    multiple=True,
    help="Only these statuses; waiting: in_progress and waiting for a signal; with --roots, "
    "queued too. Repeatable.",
)
@click.option("--tree", "tree_ref", metavar="TREE", help="Only the tasks of this tree (or prefix).")
@click.option("--user", help="Only this user's tasks.")
@click.option("--roots", is_flag=True, help="Trees instead of tasks (one line per tree).")
@click.option(
    "--results", is_flag=True, help="Include results, inputs and tracebacks (with --json)."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@server_options
@json_option
def list_tasks(
    *,
    server: str | None,
    api_key: str | None,
    db_url: str | None,
    status: tuple[str, ...],
    tree_ref: str | None,
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
    from taskflow.cli.render import task_json, tasks_table, tree_record_json, trees_table

    if server:
        remote_list(server, api_key, roots=roots, tree=tree_ref, status=status, limit=limit,
                    as_json=as_json)  # fmt: skip
        return
    if roots:
        trees = run_async(_trees(db_url, status, user, limit))
        if as_json:
            print_json([tree_record_json(tree) for tree in trees])
        else:
            stdout.print(trees_table(trees))
        return
    if TreeStatus.QUEUED.value in status:
        raise click.BadParameter(
            "tasks are never queued: trees are (use --roots)", param_hint="--status"
        )
    query = {"status": status, "tree_ref": tree_ref, "user": user, "results": results}
    found = run_async(_tasks(db_url, query, limit, offset))
    if as_json:
        print_json([task_json(task) for task in found])
    else:
        stdout.print(tasks_table(found))


async def _trees(db_url: str | None, status: tuple[str, ...], user: str | None, limit: int) -> Any:
    statuses = [TreeStatus.IN_PROGRESS.value if s == WAITING else s for s in status]
    async with open_repository(db_url) as repository:
        return await repository.list_trees(status=statuses or None, user_id=user, limit=limit)


async def _tasks(db_url: str | None, query: dict[str, Any], limit: int, offset: int) -> Any:
    status, tree_ref = query["status"], query["tree_ref"]
    waiting = WAITING in status
    if waiting and len(status) > 1:
        raise click.BadParameter(
            "waiting stands alone (it is in_progress, waiting)", param_hint="--status"
        )
    statuses = ["in_progress"] if waiting else (list(status) or None)
    async with open_repository(db_url) as repository:
        tree_id = (await repository.find_tree(tree_ref)).id if tree_ref else None
        return await repository.list_tasks(
            status=statuses,
            tree_id=tree_id,
            user_id=query["user"],
            waiting=waiting,
            with_results=query["results"],
            limit=limit,
            offset=offset,
        )


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@db_option
@server_options
@json_option
def show(
    task_ref: str, db_url: str | None, server: str | None, api_key: str | None, as_json: bool
) -> None:
    """Every field of a task (its whole error and traceback too). TASK: id, prefix, TREE/KEY
    (with --server: the whole id, or TREE_ID/KEY)."""
    from taskflow.cli.render import task_json

    if server:
        remote_show(server, api_key, task_ref, as_json=as_json)
        return

    async def go() -> dict[str, Any]:
        async with open_repository(db_url) as repository:
            return task_json(await repository.find_task(task_ref))

    data = run_async(go())
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        stdout.print(f"{name:>16}  {shown}", markup=False)


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@db_option
@json_option
def tree(task_ref: str, db_url: str | None, as_json: bool) -> None:
    """The tree containing a task, as `run` shows it (TASK may be a tree id or prefix)."""
    from taskflow.cli.render import tree_json, tree_view

    async def go() -> Any:
        async with open_repository(db_url) as repository:
            tree_id = await _tree_of(repository, task_ref)
            record = await repository.require_tree(tree_id)
            return await repository.get_task_tree(tree_id), record

    found, record = run_async(go())
    if as_json:
        print_json(tree_json(found, record))
    else:
        stdout.print(tree_view(found))


async def _tree_of(repository: TaskRepository, ref: str) -> str:
    """The tree a reference names: a task's (id, prefix, TREE/KEY), or a tree's prefix."""
    from taskflow.exceptions import TaskNotFound

    try:
        return (await repository.find_task(ref)).tree_id
    except TaskNotFound:
        return (await repository.find_tree(ref)).id


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@db_option
@click.option("--reason", default="cancelled from the command line", show_default=True)
def cancel(task_ref: str, db_url: str | None, reason: str) -> None:
    """Cancel a task, its subtree and what requires it (a root: its whole tree).

    Works wherever the tree runs: in another process it stops within about a second.
    """

    async def go() -> tuple[str, TaskStatus]:
        async with open_manager(db_url) as manager:
            task = await manager.task_repository.find_task(task_ref)
            await manager.cancel(task.id, reason)
            return task.id, (await manager.task_repository.require_task(task.id)).status

    task_id, status = run_async(go())
    message = (
        "cancelled"
        if status is TaskStatus.CANCELLED
        else f"cancel requested (the task is {status.value})"
    )
    stdout.print(f"{task_id}: {message}", markup=False)


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@db_option
@imports_option
@click.option(
    "--with-dependents", is_flag=True, help="Also run again what was cancelled because of it."
)
@json_option
def retry(
    task_ref: str,
    db_url: str | None,
    imports: tuple[str, ...],
    with_dependents: bool,
    as_json: bool,
) -> None:
    """Run a failed or cancelled task again, here, and follow its tree to the end."""
    from taskflow.cli.follow import follow
    from taskflow.cli.run import interactive

    import_modules(imports)

    async def go() -> int:
        async with open_manager(db_url) as manager:
            task = await manager.task_repository.find_task(task_ref)
            tree_id = await manager.retry_task(task.id, with_dependents=with_dependents)
            return await follow(manager, tree_id, as_json=as_json, interactive=interactive())

    sys.exit(run_async(go()))


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@click.argument("key")
@db_option
@click.option(
    "--data", default="null", metavar="JSON", help="The data to send (JSON).", show_default=True
)
def notify(task_ref: str, key: str, db_url: str | None, data: str) -> None:
    """Send data to a task waiting for KEY (now, or whenever it waits).

    TASK is an id, a unique prefix, or TREE/KEY: `taskflow tasks notify 3f2a/approve approval`.
    """
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON: {exc.msg} at column {exc.colno}", param_hint="--data"
        ) from exc

    async def go() -> str:
        async with open_manager(db_url) as manager:
            task = await manager.task_repository.find_task(task_ref)
            await manager.notify(task.id, key, value)
            return task.id

    task_id = run_async(go())
    stdout.print(f"{task_id}: sent {key!r}", markup=False)


@tasks.command()
@click.argument("task_ref", metavar="TASK")
@db_option
@json_option
def watch(task_ref: str, db_url: str | None, as_json: bool) -> None:
    """Follow a tree that runs elsewhere until it ends (Ctrl-C stops watching, not the tree)."""
    sys.exit(run_async(_watch(task_ref, db_url, as_json)))


async def _watch(task_ref: str, db_url: str | None, as_json: bool) -> int:
    import asyncio
    import signal

    from taskflow.cli.follow import exit_code, show_outcome

    async with open_manager(db_url) as manager:
        tree_id = await _tree_of(manager.task_repository, task_ref)
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
    import asyncio

    from taskflow.cli.render import live_tree, plain_log
    from taskflow.cli.run import interactive

    if as_json:
        async for _ in manager.subscribe(tree_id):
            pass
    elif interactive():
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await live_tree(manager, tree_id, never)
    else:
        await plain_log(manager, tree_id)


__all__ = ["tasks"]
