"""What every command shares: options, the manager, output, and the exit codes.

Heavy imports (the engine, storage drivers, rich) happen inside the commands that need them,
so that ``taskflow --help`` and a listing start fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from taskflow.exceptions import TaskflowError

if TYPE_CHECKING:
    from rich.console import Console

    from taskflow.runtime import TaskManager

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1  # the tree ran and did not complete
EXIT_BAD_INPUT = 2  # nothing ran: a bad file, an unknown id, an unreachable database ...
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (twice): the tree is left resumable
EXIT_TERMINATED = 143  # stopped by SIGTERM: the tree is left resumable


class _LazyConsole:
    """A rich `Console` created the first time it is used (rich takes a while to import)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def real(self) -> Console:
        """The console itself (for rich objects that need one, like `rich.live.Live`)."""
        if self._console is None:
            from rich.console import Console

            options = dict(self._options)
            if options.pop("pipe_width", False) and not sys.stdout.isatty():
                options["width"] = 250
            self._console = Console(**options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


# In a pipe, tables are not squeezed to 80 columns: lines are for grep and scripts. No emoji
# codes: rich would print "tree.yaml:100:" with a 💯 for the line number.
stdout: Any = _LazyConsole(highlight=False, soft_wrap=True, emoji=False, pipe_width=True)
stderr: Any = _LazyConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)
_live_views: list[Any] = []  # the live view being drawn, if any


@contextlib.contextmanager
def drawing(live: Any) -> Iterator[None]:
    """While ``live`` (a rich `Live`) is drawn, `notice` prints above it, and its lines wrap
    at the terminal's width instead of being cut."""
    console = live.console
    soft_wrap, console.soft_wrap = console.soft_wrap, False
    _live_views.append(live)
    try:
        yield
    finally:
        _live_views.remove(live)
        console.soft_wrap = soft_wrap


def notice(message: str) -> None:
    """A message for the user, on stderr; above the live view while one is drawn (written
    beside it, the message would shift the view, whose next frame would leave stale lines)."""
    if _live_views:
        _live_views[-1].console.print(message, markup=False, highlight=False)
    else:
        stderr.print(message, markup=False)


@dataclasses.dataclass(slots=True)
class GlobalOptions:
    """What was given before (or after) the subcommand: ``--db``, ``--import``, ``-v``."""

    db_url: str | None = None
    imports: tuple[str, ...] = ()
    verbosity: int = 0


def global_options() -> GlobalOptions:
    """The root command's options (defaults outside a command)."""
    context = click.get_current_context(silent=True)
    root = context.find_root().obj if context is not None else None
    return root if isinstance(root, GlobalOptions) else GlobalOptions()


class Failed(click.ClickException):
    """A command that ran and reports failure (exit 1) with a message."""

    exit_code = EXIT_FAILED


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """The CLI's process edge into asyncio."""
    import asyncio

    return asyncio.run(coroutine)


def _or_global_db(context: click.Context, param: click.Parameter, value: str | None) -> Any:
    """The subcommand's ``--db`` if given there, else the one before it, else the variable."""
    given_here = context.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE
    return value if given_here else (global_options().db_url or value)


def db_option(function: F) -> F:
    """``--db URL`` (or ``TASKFLOW_DATABASE_URL``, or ``taskflow --db URL`` before the
    subcommand; default: the SQLite file)."""
    return click.option(
        "--db",
        "db_url",
        envvar="TASKFLOW_DATABASE_URL",
        metavar="URL",
        callback=_or_global_db,
        help="Database URL (default: $TASKFLOW_HOME/taskflow.db; env TASKFLOW_DATABASE_URL).",
    )(function)


def imports_option(function: F) -> F:
    """``--import MODULE``: import modules that register executors."""
    return click.option(
        "--import",
        "imports",
        multiple=True,
        metavar="MODULE",
        help="Import this module first (it registers executors). Repeatable.",
    )(function)


def _pairs(convert: Callable[[str], Any], what: str) -> Callable[..., dict[str, Any]]:
    """A callback turning repeated ``EXECUTOR=VALUE`` options into a dict."""

    def parse(_context: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
        found: dict[str, Any] = {}
        for given in values:
            executor_id, sep, value = given.partition("=")
            executor_id, value = executor_id.strip(), value.strip()
            if not sep or not executor_id or not value:
                raise click.BadParameter(f"{given!r} is not EXECUTOR={what}")
            if executor_id in found:
                raise click.BadParameter(f"{executor_id!r} is given twice")
            try:
                found[executor_id] = convert(value)
            except ValueError as exc:
                raise click.BadParameter(f"{given!r}: {exc}") from None
        return found

    return parse


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if count < 1:
        raise ValueError("it must be at least 1")
    return count


def _rate(value: str) -> str:
    from taskflow.models.rate import RateLimit

    RateLimit.parse(value)
    return value


def executor_limit_options(function: F) -> F:
    """``--limit EXECUTOR=N`` and ``--rate EXECUTOR=RATE``: per-executor caps in this process
    (``EngineSettings.executor_limits`` and ``rate_limits``)."""
    function = click.option(
        "--rate",
        "rates",
        multiple=True,
        metavar="EXECUTOR=RATE",
        callback=_pairs(_rate, "RATE"),
        help="At most RATE attempts of this executor start (10/s, 100/m, 1000/h). Repeatable.",
    )(function)
    return click.option(
        "--limit",
        "limits",
        multiple=True,
        metavar="EXECUTOR=N",
        callback=_pairs(_count, "N"),
        help="At most N tasks of this executor run at once here. Repeatable.",
    )(function)


def check_executor_limits(limits: Mapping[str, Any], rates: Mapping[str, Any]) -> None:
    """Every id given to ``--limit`` and ``--rate`` names an executor installed here (after
    the imports): a misspelt one is refused, with the ids it resembles."""
    from taskflow.executors import get_registry
    from taskflow.treecheck import similar_ids

    registry = get_registry()
    for option, ids in (("--limit", limits), ("--rate", rates)):
        for executor_id in ids:
            if executor_id not in registry:
                close = similar_ids(executor_id, registry.ids())
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise click.BadParameter(
                    f"no executor {executor_id!r} is installed here{hint}", param_hint=option
                )


def json_option(function: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def import_modules(names: tuple[str, ...]) -> None:
    """Import executor modules named on the command line (``--import`` before or after the
    subcommand) and in ``$TASKFLOW_IMPORT`` (comma-separated, as the Celery workers read it:
    one setting registers the executors on both sides), from the working directory too, as
    ``python -m`` does."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    from_env = [n.strip() for n in os.environ.get("TASKFLOW_IMPORT", "").split(",") if n.strip()]
    given = [*global_options().imports, *names]
    for name, hint in [
        *((n, "TASKFLOW_IMPORT") for n in from_env),
        *((n, "--import") for n in given),
    ]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise click.BadParameter(f"cannot import {name!r}: {exc}", param_hint=hint) from exc


@contextlib.asynccontextmanager
async def open_manager(db_url: str | None, **settings: Any) -> AsyncIterator[TaskManager]:
    """A TaskManager on the database, closed (trees left resumable) on the way out."""
    from taskflow.engine import EngineSettings
    from taskflow.runtime import TaskManager, create_session

    options = {k: v for k, v in settings.items() if v is not None}
    manager = TaskManager(create_session(db_url), settings=EngineSettings(**options))
    try:
        yield manager
    finally:
        await manager.close()


def print_json(data: Any) -> None:
    """JSON on stdout, one document."""
    click.echo(json.dumps(data, indent=2, default=str))


def configure_logging(verbosity: int) -> None:
    """-q: errors only; default: warnings; -v: info; -vv: debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def report_error(exc: BaseException, verbosity: int) -> int:
    """The one place where an error becomes a paragraph on stderr and an exit code."""
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        stderr.print("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, TaskflowError):
        from rich.markup import escape

        if verbosity > 0:
            stderr.print_exception()
        stderr.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        return EXIT_BAD_INPUT
    raise exc
