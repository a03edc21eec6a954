"""How trees and tasks look on a terminal (rich) and in a plain log or JSON (everything else)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from taskflow.cli.common import drawing, stdout
from taskflow.events import TaskEvent
from taskflow.identity import short_owner
from taskflow.models import Task, TaskStatus, TaskTree, TaskTreeNode, TreeStatus, utcnow

if TYPE_CHECKING:
    from taskflow.runtime import TaskManager

STYLE = {
    TaskStatus.PENDING: ("○", "dim"),
    TaskStatus.IN_PROGRESS: ("◐", "yellow"),
    TaskStatus.COMPLETED: ("✔", "green"),
    TaskStatus.FAILED: ("✖", "red"),
    TaskStatus.CANCELLED: ("⊘", "magenta"),
}
WAITING_STYLE = ("⏸", "cyan")
LIVE_LINES = 40  # a bigger tree shows a summary and the interesting tasks only
REFRESH_SECONDS = 0.25
LOG_VALUE_CHARS = 300  # a value in a log line is cut past this (marked with …)


def elapsed(task: Task, now: datetime) -> str:
    """How long the task ran (or has been running)."""
    if task.started_at is None:
        return ""
    seconds = ((task.completed_at or now) - task.started_at).total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def progress_bar(fraction: float, width: int = 10) -> str:
    """A small text progress bar."""
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


def waiting_text(task: Task, now: datetime) -> str:
    """``waiting for 'approval' 12s (timeout 60s)`` for a task parked in ``context.wait``."""
    waiting = task.waiting or {}
    text = f"waiting for {waiting.get('key')!r}"
    since = waiting.get("since")
    if since:
        with contextlib.suppress(ValueError):
            seconds = (now - datetime.fromisoformat(since)).total_seconds()
            text += f" {_duration(seconds)}"
    if waiting.get("timeout") is not None:
        text += f" (timeout {waiting['timeout']:g}s)"
    return text


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def one_line(text: str, limit: int = LOG_VALUE_CHARS) -> str:
    """``text`` on one line (line breaks shown as ⏎), cut past ``limit`` with …."""
    flat = " ⏎ ".join(part.strip() for part in text.splitlines()) if "\n" in text else text
    flat = flat.replace("\r", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def task_line(task: Task, now: datetime) -> RenderableType:
    """One task: icon, key, executor, status, progress, elapsed; on a line of its own,
    wrapped, what it waits for or why it failed."""
    waiting = task.status is TaskStatus.IN_PROGRESS and task.waiting is not None
    icon, style = WAITING_STYLE if waiting else STYLE[task.status]
    line = Text.assemble((f"{icon} ", style), (task.key, "bold"))
    if task.name not in (task.key, task.executor):
        line.append(f"  {task.name}")
    line.append(f"  {task.executor or 'group'}", style="dim")
    line.append(f"  {'waiting' if waiting else task.status.value}", style=style)
    if task.status is TaskStatus.IN_PROGRESS and not waiting:
        line.append(f"  {progress_bar(task.progress)} {task.progress:4.0%}")
    line.append(f"  {elapsed(task, now)}", style="dim")
    detail = None
    if waiting:
        detail = Text(waiting_text(task, now), style=style)
    elif task.error and task.status is not TaskStatus.COMPLETED:
        detail = Text(one_line(task.error, 500), style=style)
    elif task.status is TaskStatus.IN_PROGRESS and task.message:
        detail = Text(one_line(task.message, 200), style="dim")
    if detail is None:
        return line
    detail.pad_left(4)
    return Group(line, detail)


def tree_view(root: TaskTreeNode) -> RenderableType:
    """The tree as a rich renderable (summarised when large)."""
    now = utcnow()
    nodes = list(root.walk())
    if len(nodes) > LIVE_LINES:
        return _summary(nodes, now)
    view = Tree(task_line(root.task, now), guide_style="dim")
    branches = {root.task.id: view}
    for node in nodes[1:]:
        parent = branches[node.task.parent_id or root.task.id]
        branches[node.task.id] = parent.add(task_line(node.task, now))
    return view


def _summary(nodes: list[TaskTreeNode], now: datetime) -> RenderableType:
    counts = collections.Counter(node.task.status for node in nodes)
    head = Text.assemble(
        *((f"{STYLE[s][0]} {counts[s]} {s.value}   ", STYLE[s][1]) for s in STYLE if counts[s])
    )
    notable = [
        n.task for n in nodes if n.task.status in (TaskStatus.IN_PROGRESS, TaskStatus.FAILED)
    ]
    lines: list[RenderableType] = [task_line(nodes[0].task, now), head]
    lines.extend(task_line(task, now) for task in notable[: LIVE_LINES - 2])
    if len(notable) > LIVE_LINES - 2:
        lines.append(Text(f"… and {len(notable) - LIVE_LINES + 2} more", style="dim"))
    return Group(*lines)


@contextlib.contextmanager
def _no_control_echo() -> Iterator[None]:
    """Keep the terminal from echoing ``^C`` while the live view redraws: the two characters
    would shift the cursor under the view, which then leaves stale lines of an older frame."""
    try:
        import termios

        descriptor = sys.stdin.fileno()
        before = termios.tcgetattr(descriptor)
    except (ImportError, OSError, ValueError, AttributeError):
        yield
        return
    quiet = list(before)
    quiet[3] &= ~termios.ECHOCTL
    try:
        termios.tcsetattr(descriptor, termios.TCSANOW, quiet)
        yield
    finally:
        termios.tcsetattr(descriptor, termios.TCSANOW, before)


async def live_tree(manager: TaskManager, tree_id: str, done: asyncio.Future[Any]) -> None:
    """Redraw the tree from the repository until ``done`` resolves, then draw it once more."""
    repository = manager.task_repository
    live = Live(console=stdout.real, auto_refresh=False, transient=False)
    with _no_control_echo(), drawing(live), live:
        while True:
            tree = await repository.get_task_tree(tree_id)
            live.update(tree_view(tree), refresh=True)
            if done.done() or (await repository.require_tree(tree_id)).is_finished:
                break
            await asyncio.wait([done], timeout=REFRESH_SECONDS)
        live.update(tree_view(await repository.get_task_tree(tree_id)), refresh=True)


def event_line(event: TaskEvent) -> str:
    """One event as one log line: values on one line, long ones cut (marked with …); the
    whole error is in ``taskflow tasks show``."""
    data = dict(event.data)
    key = data.pop("key", event.task_id)
    data.pop("status", None)
    data.pop("error_type", None)  # the line keeps to what happened; `tasks show` has the type
    details = " ".join(
        f"{k}={one_line(v if isinstance(v, str) else json.dumps(v, default=str))}"
        for k, v in data.items()
    )
    return f"{event.time:%H:%M:%S} {key} {event.type.value} {details}".rstrip()


class PlainLog:
    """Prints every event of a tree as a line, remembering the last one printed."""

    def __init__(self, manager: TaskManager, tree_id: str) -> None:
        self.manager = manager
        self.tree_id = tree_id
        self.last = 0

    def _print(self, event: TaskEvent) -> None:
        stdout.print(event_line(event), markup=False)
        self.last = event.seq

    async def follow(self) -> None:
        """Until every task of the tree is terminal."""
        async for event in self.manager.subscribe(self.tree_id, after=self.last):
            self._print(event)

    async def rest(self) -> None:
        """What is stored and not printed yet (the tree stopped without finishing)."""
        while batch := await self.manager.task_repository.events.read(
            self.tree_id, after=self.last
        ):
            for event in batch:
                self._print(event)


async def plain_log(manager: TaskManager, tree_id: str) -> None:
    """Print every event of the tree as a line, until every task of it is terminal."""
    await PlainLog(manager, tree_id).follow()


def tasks_table(tasks: Iterable[Task]) -> Table:
    """Tasks as a table."""
    table = Table(box=None, header_style="bold")
    for column in ("ID", "KEY", "EXECUTOR", "STATUS", "ATTEMPT", "TREE", "UPDATED"):
        table.add_column(column, no_wrap=column in ("ID", "TREE"))
    now = utcnow()
    for task in tasks:
        if task.status is TaskStatus.IN_PROGRESS and task.waiting is not None:
            icon, style = WAITING_STYLE
            status = Text(f"{icon} {waiting_text(task, now)}", style=style)
        else:
            icon, style = STYLE[task.status]
            status = Text(f"{icon} {task.status.value}", style=style)
        table.add_row(
            task.id,
            task.key,
            task.executor or "group",
            status,
            str(task.attempt),
            task.tree_id[:8],
            f"{task.updated_at:%Y-%m-%d %H:%M:%S}",
        )
    return table


TREE_STYLE = {
    TreeStatus.PENDING: STYLE[TaskStatus.PENDING],
    TreeStatus.QUEUED: ("◌", "cyan"),
    TreeStatus.IN_PROGRESS: STYLE[TaskStatus.IN_PROGRESS],
    TreeStatus.COMPLETED: STYLE[TaskStatus.COMPLETED],
    TreeStatus.FAILED: STYLE[TaskStatus.FAILED],
    TreeStatus.CANCELLED: STYLE[TaskStatus.CANCELLED],
}


def trees_table(trees: Iterable[TaskTree]) -> Table:
    """Tree records as a table (status rolled up from every task; who runs it)."""
    table = Table(box=None, header_style="bold")
    for column in ("TREE", "NAME", "STATUS", "USER", "CREATED", "RUN BY"):
        table.add_column(column, no_wrap=column == "TREE")
    now = utcnow()
    for tree in trees:
        icon, style = TREE_STYLE[tree.status]
        owner = tree.held_by(now)
        table.add_row(
            tree.id,
            tree.name,
            Text(f"{icon} {tree.status.value}", style=style),
            tree.user_id or "",
            f"{tree.created_at:%Y-%m-%d %H:%M:%S}",
            short_owner(owner),
        )
    return table


def tree_record_json(tree: TaskTree) -> dict[str, Any]:
    """A tree record for ``--json``."""
    return tree.to_dict()


def task_json(task: Task) -> dict[str, Any]:
    """A task for ``--json``."""
    return task.to_dict()


def tree_json(tree: TaskTreeNode, record: TaskTree | None = None) -> dict[str, Any]:
    """A tree for ``--json``: its status (rolled up from every task), the root's result and
    every task's state."""
    status = record.status.value if record is not None else tree.calculate_status().value
    return {
        "tree_id": tree.task.id,
        "status": status,
        "result": tree.result,
        "tasks": [task_json(node.task) for node in tree.walk()],
    }
