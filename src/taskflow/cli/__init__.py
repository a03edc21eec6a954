"""The ``taskflow`` command line.

`main` is the one place where an error becomes a message on stderr and an exit code:
0 done, 1 the tree failed or was cancelled, 2 bad input (nothing ran), 130 interrupted.

Shell completion (bash, zsh, fish) comes from click: for bash add
``eval "$(_TASKFLOW_COMPLETE=bash_source taskflow)"`` to ~/.bashrc.
"""

from __future__ import annotations

import sys

import click

from taskflow import __version__
from taskflow.cli.common import configure_logging, report_error
from taskflow.cli.db import db
from taskflow.cli.executors import executor, executors
from taskflow.cli.run import COMMANDS
from taskflow.cli.tasks import tasks
from taskflow.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taskflow")
@click.option(
    "-v", "--verbose", count=True, help="More logging (-vv for debug); tracebacks on errors."
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Run trees of tasks through pluggable executors.

    \b
    taskflow run tree.yaml            create a tree from a file and run it
    taskflow validate tree.yaml       check a file, write nothing
    taskflow worker                   run queued and orphaned trees until stopped
    taskflow tasks list / watch ID    look at trees, here or running elsewhere
    taskflow executors list           what tasks can use
    """
    ctx.obj = -1 if quiet else verbose
    configure_logging(ctx.obj)


for command in (*COMMANDS, worker, tasks, executors, executor, db):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``taskflow`` script."""
    verbosity = 1 if any(arg in ("-v", "-vv", "--verbose") for arg in sys.argv[1:]) else 0
    try:
        cli.main(standalone_mode=False)
    except BaseException as exc:  # the one place errors become exit codes
        if isinstance(exc, SystemExit):
            raise
        sys.exit(report_error(exc, verbosity))
