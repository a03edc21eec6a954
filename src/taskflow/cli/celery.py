"""``taskflow celery worker``: a real Celery worker running taskflow's attempts."""

from __future__ import annotations

import os

import click

from taskflow.cli.common import global_options, import_modules, imports_option


@click.group()
def celery() -> None:
    """Run taskflow's tasks on Celery workers (the `celery` extra)."""


@celery.command()
@imports_option
@click.option(
    "-Q", "--queues", default=None, metavar="QUEUES",
    help="Comma-separated queues to consume (default: $TASKFLOW_CELERY_QUEUE, else 'taskflow').",
)  # fmt: skip
@click.option(
    "-c", "--concurrency", type=click.IntRange(min=1), default=None,
    help="Worker processes (default: one per CPU).",
)  # fmt: skip
@click.option("-n", "--hostname", default=None, help="The worker's node name (name@host).")
@click.option(
    "-P", "--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork",
    show_default=True, help="Celery's execution pool.",
)  # fmt: skip
@click.option("-l", "--loglevel", default="INFO", show_default=True, help="Log level.")
def worker(
    *,
    imports: tuple[str, ...],
    queues: str | None,
    concurrency: int | None,
    hostname: str | None,
    pool: str,
    loglevel: str,
) -> None:
    """Start a Celery worker that runs the attempts a Celery-backed orchestrator sends.

    Executors come from installed packages (entry points) and from --import MODULE (or
    $TASKFLOW_IMPORT, comma-separated). Broker, Redis and key prefix come from the environment:
    TASKFLOW_CELERY_BROKER_URL, TASKFLOW_REDIS_URL, TASKFLOW_CELERY_KEY_PREFIX (see the
    distributed page of the documentation). The same worker runs with
    `celery -A taskflow.celery worker`.
    """
    names = [*global_options().imports, *imports]
    if names:  # pool processes are forked from this one, and read the variable too
        known = os.environ.get("TASKFLOW_IMPORT", "")
        os.environ["TASKFLOW_IMPORT"] = ",".join(filter(None, [known, *names]))
    import_modules(imports)
    from taskflow.celery import app, settings

    argv = ["worker", "-Q", queues or settings.default_queue, "-P", pool, "-l", loglevel]
    argv += ["--without-mingle", "--without-gossip"]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    if hostname:
        argv += ["-n", hostname]
    app.worker_main(argv=argv)
