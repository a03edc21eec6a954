"""``taskflow worker``: run queued and orphaned trees until stopped."""

from __future__ import annotations

import click

from taskflow.cli.common import (
    check_executor_limits,
    db_option,
    executor_limit_options,
    import_modules,
    imports_option,
    open_manager,
    run_async,
    stderr,
)


@click.command()
@db_option
@imports_option
@click.option(
    "--max-trees", type=click.IntRange(min=1), default=10, show_default=True,
    help="At most this many trees at once.",
)  # fmt: skip
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="At most this many tasks at once (all trees)."
)
@executor_limit_options
@click.option(
    "--poll", "poll_seconds", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
    help="Seconds between looks for trees that need a manager.",
)  # fmt: skip
@click.option(
    "--grace", "grace_seconds", type=click.FloatRange(min=0), default=10.0, show_default=True,
    help="On SIGTERM or Ctrl-C, seconds running trees get to finish before they are handed back.",
)  # fmt: skip
@click.option(
    "--idle-exit", "idle_exit", type=click.FloatRange(min=0),
    help="Exit after this many seconds without a tree (default: run until stopped).",
)  # fmt: skip
def worker(
    *,
    db_url: str | None,
    imports: tuple[str, ...],
    max_trees: int,
    concurrency: int | None,
    limits: dict[str, int],
    rates: dict[str, str],
    poll_seconds: float,
    grace_seconds: float,
    idle_exit: float | None,
) -> None:
    """Run trees for anyone: queued ones (`run --detach`), and ones whose process died or stopped.

    Any number of workers may share one database (PostgreSQL, or a SQLite file on one
    machine); each tree is run by one of them at a time. SIGTERM or Ctrl-C: no new trees are
    taken, running ones get --grace seconds to finish, then are handed back resumable.
    """
    import_modules(imports)
    check_executor_limits(limits, rates)
    from taskflow.runtime import Worker, WorkerSettings

    settings = WorkerSettings(
        max_trees=max_trees,
        poll_seconds=poll_seconds,
        stop_grace_seconds=grace_seconds,
        idle_exit_seconds=idle_exit,
    )

    async def go() -> None:
        async with open_manager(
            db_url, concurrency=concurrency, executor_limits=limits, rate_limits=rates
        ) as manager:
            service = Worker(manager, settings)
            service.handle_signals()
            stderr.print(f"worker {service.id} running (up to {max_trees} trees)", markup=False)
            await service.run()
            stderr.print(
                f"worker {service.id} stopped after {service.trees_run} trees", markup=False
            )

    run_async(go())
