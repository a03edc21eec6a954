"""The ``taskflow`` command line.

`main` is the one place where an error becomes a message on stderr and an exit code:
0 done, 1 the tree failed or was cancelled, 2 bad input (nothing ran), 130 interrupted,
143 stopped by SIGTERM.

Subcommands are imported when they run (``taskflow --help`` imports none of them), and the
global options (``--db``, ``--import``, ``-v``, ``-q``) may come before or after the
subcommand.

Shell completion (bash, zsh, fish) comes from click: for bash add
``eval "$(_TASKFLOW_COMPLETE=bash_source taskflow)"`` to ~/.bashrc.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from taskflow import __version__
from taskflow.cli.common import GlobalOptions, configure_logging, import_modules, report_error

#: Every subcommand: name -> (module, attribute, one-line help shown by ``taskflow --help``).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("taskflow.cli.run", "run", "Create the tree in FILE (YAML or JSON) and run it."),
    "validate": ("taskflow.cli.run", "validate", "Check FILE as `run` would, write nothing."),
    "schema": ("taskflow.cli.run", "schema", "Print the JSON Schema of tree files."),
    "resume": ("taskflow.cli.run", "resume", "Finish the trees nobody runs."),
    "worker": ("taskflow.cli.worker", "worker", "Run queued and orphaned trees until stopped."),
    "serve": ("taskflow.cli.serve", "serve", "Serve the HTTP API (and run a worker)."),
    "keys": ("taskflow.cli.keys", "keys", "The HTTP API's keys: create, list, revoke."),
    "tasks": ("taskflow.cli.tasks", "tasks", "Look at and control tasks and trees."),
    "schedules": ("taskflow.cli.schedules", "schedules", "Periodic trees, fired by workers."),
    "executors": ("taskflow.cli.executors", "executors", "The executors tasks can use."),
    "executor": ("taskflow.cli.executors", "executor", "(old spelling of `executors new`)"),
    "db": ("taskflow.cli.db", "db", "Manage the database: schema, retention."),
    "celery": ("taskflow.cli.celery", "celery", "Run tasks on Celery workers (celery extra)."),
}
HIDDEN = frozenset({"executor"})
#: Flags of the root command that may also be written after the subcommand.
HOISTED_FLAGS = frozenset({"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"})


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *(n for n in COMMANDS if n not in HIDDEN)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx) if name in COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taskflow")
@click.option(
    "-v", "--verbose", count=True, help="More logging (-vv for debug); tracebacks on errors."
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--db",
    "db_url",
    envvar="TASKFLOW_DATABASE_URL",
    metavar="URL",
    help="Database URL for every subcommand (default: $TASKFLOW_HOME/taskflow.db).",
)
@click.option(
    "--import",
    "imports",
    multiple=True,
    metavar="MODULE",
    help="Import this module first (it registers executors). Repeatable.",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, db_url: str | None, imports: tuple[str, ...]
) -> None:
    """Run trees of tasks through pluggable executors.

    \b
    taskflow run tree.yaml            create a tree from a file and run it
    taskflow validate tree.yaml       check a file, write nothing
    taskflow worker                   run queued and orphaned trees until stopped
    taskflow tasks list / watch ID    look at trees, here or running elsewhere
    taskflow executors list           what tasks can use
    """
    ctx.obj = GlobalOptions(db_url=db_url, imports=imports, verbosity=-1 if quiet else verbose)
    configure_logging(ctx.obj.verbosity)
    if imports:
        import_modules(())


def hoisted(args: Sequence[str]) -> list[str]:
    """``args`` with the root's flags (``-v``, ``-q``) moved before the subcommand, wherever
    they were written (up to a ``--``)."""
    if "--" in args:
        cut = list(args).index("--")
        head, tail = list(args[:cut]), list(args[cut:])
    else:
        head, tail = list(args), []
    flags = [arg for arg in head if arg in HOISTED_FLAGS]
    return [*flags, *(arg for arg in head if arg not in HOISTED_FLAGS), *tail]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``taskflow`` script."""
    args = hoisted(sys.argv[1:] if argv is None else argv)
    verbosity = 1 if any(arg in ("-v", "-vv", "-vvv", "--verbose") for arg in args) else 0
    try:
        code = cli.main(args=args, standalone_mode=False)
    except BaseException as exc:  # the one place errors become exit codes
        if isinstance(exc, SystemExit):
            raise
        sys.exit(report_error(exc, verbosity))
    if isinstance(code, int) and code:  # a command that ended with click's Exit(code)
        sys.exit(code)


def _command(name: str) -> Any:
    """A subcommand object (for tests and documentation tools)."""
    return cli.get_command(click.Context(cli), name)
