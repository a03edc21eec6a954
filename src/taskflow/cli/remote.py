"""``--server URL``: `tasks list` and `tasks show` against a `taskflow serve`, through
`taskflow.client.Client` (with ``--api-key`` or ``$TASKFLOW_API_KEY``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from taskflow.cli.common import print_json, run_async, stdout

F = TypeVar("F", bound=Callable[..., Any])


def server_options(function: F) -> F:
    """``--server URL`` and ``--api-key KEY``."""
    function = click.option(
        "--api-key", envvar="TASKFLOW_API_KEY", metavar="KEY",
        help="The API key for --server (env TASKFLOW_API_KEY).",
    )(function)  # fmt: skip
    return click.option(
        "--server", envvar="TASKFLOW_SERVER", metavar="URL",
        help="Ask a taskflow serve at URL instead of the database (env TASKFLOW_SERVER).",
    )(function)  # fmt: skip


def remote_list(
    server: str, api_key: str | None, *, roots: bool, tree: str | None, status: tuple[str, ...],
    limit: int, as_json: bool,
) -> None:  # fmt: skip
    """`tasks list --roots` (trees) or `tasks list --tree ID` (its tasks), from the server."""
    from taskflow.client import Client

    if not roots and tree is None:
        raise click.UsageError(
            "with --server, list trees (--roots) or one tree's tasks (--tree ID)"
        )

    async def go() -> list[dict[str, Any]]:
        async with Client(server, api_key) as client:
            if tree is not None:
                found = (await client.get(tree))["tasks"]
                return [t for t in found if not status or t["status"] in status]
            page = await client.list(status=list(status) or None, limit=limit)
            return list(page["items"])

    items = run_async(go())
    if as_json:
        print_json(items)
    elif tree is not None:
        _table(items, ("id", "key", "executor", "status", "progress", "waiting_for", "updated_at"))
    else:
        _table(items, ("id", "name", "status", "user_id", "created_at", "owner"))


def remote_show(server: str, api_key: str | None, task_ref: str, *, as_json: bool) -> None:
    """`tasks show TASK` from the server (TASK: a task id, or TREE/KEY with the tree's id)."""
    from taskflow.client import Client
    from taskflow.exceptions import TaskNotFound

    async def go() -> dict[str, Any]:
        async with Client(server, api_key) as client:
            if "/" not in task_ref:
                return await client.task(task_ref)
            tree_id, _, key = task_ref.partition("/")
            found = [t for t in (await client.get(tree_id))["tasks"] if t["key"] == key]
            if not found:
                raise TaskNotFound(task_ref)
            return dict(found[0])

    data = run_async(go())
    if as_json:
        print_json(data)
        return
    for name, value in data.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        stdout.print(f"{name:>16}  {shown}", markup=False)


def _table(items: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in columns:
        table.add_column(column.upper().replace("_", " "), overflow="fold")
    for item in items:
        row = []
        for column in columns:
            value = item.get(column)
            if column == "id":
                value = str(value)[:8]
            elif column.endswith("_at") and value:
                value = str(value)[:19].replace("T", " ")
            elif column == "progress" and value is not None:
                value = f"{float(value) * 100:.0f}%"
            row.append("" if value is None else str(value))
        table.add_row(*row)
    stdout.print(table)
