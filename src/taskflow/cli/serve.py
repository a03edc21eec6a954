"""``taskflow serve``: the HTTP API, with a worker loop in the same process by default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from taskflow.cli.common import (
    check_executor_limits,
    db_option,
    executor_limit_options,
    import_modules,
    imports_option,
    open_manager,
    run_async,
)

if TYPE_CHECKING:
    from taskflow.api import ApiSettings
    from taskflow.runtime import WorkerSettings


@click.command()
@db_option
@imports_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True,
    help="Port to listen on (0: any free port; the URL is printed).",
)  # fmt: skip
@click.option(
    "--worker/--no-worker", default=True, show_default=True,
    help="Run queued trees in this process too (--no-worker: `taskflow worker` processes do).",
)  # fmt: skip
@click.option(
    "--max-trees", type=click.IntRange(min=1), default=10, show_default=True,
    help="With the worker: at most this many trees at once.",
)  # fmt: skip
@click.option(
    "--concurrency", type=click.IntRange(min=1),
    help="With the worker: at most this many tasks at once (all trees).",
)  # fmt: skip
@executor_limit_options
@click.option(
    "--grace", "grace_seconds", type=click.FloatRange(min=0), default=10.0, show_default=True,
    help="On SIGTERM, seconds running trees get to finish before they are handed back.",
)  # fmt: skip
@click.option(
    "--no-auth", is_flag=True,
    help="Accept requests without an API key (only for a server nobody else can reach).",
)  # fmt: skip
@click.option(
    "--read-rate", type=click.FloatRange(min=0.001), default=50.0, show_default=True,
    help="Reads per second per key (token bucket; bursts of twice that).",
)  # fmt: skip
@click.option(
    "--write-rate", type=click.FloatRange(min=0.001), default=5.0, show_default=True,
    help="Writes per second per key (bursts of four times that).",
)  # fmt: skip
@click.option(
    "--max-streams", type=click.IntRange(min=1), default=10, show_default=True,
    help="Event streams a key may hold open at once.",
)  # fmt: skip
@click.option(
    "--jwt-key", envvar="TASKFLOW_JWT_KEY", metavar="KEY",
    help="Also accept JWT bearer tokens verified with KEY (a secret, or @FILE with a PEM public "
    "key; env TASKFLOW_JWT_KEY); the user is the token's sub.",
)  # fmt: skip
@click.option(
    "--jwt-algorithm", "jwt_algorithms", multiple=True, default=("HS256",), show_default=True,
    help="An algorithm tokens may be signed with (repeatable).",
)  # fmt: skip
@click.option("--jwt-audience", help="The aud tokens must carry.")
@click.option("--jwt-issuer", help="The iss tokens must carry.")
def serve(
    *,
    jwt_key: str | None,
    jwt_algorithms: tuple[str, ...],
    jwt_audience: str | None,
    jwt_issuer: str | None,
    db_url: str | None,
    imports: tuple[str, ...],
    host: str,
    port: int,
    worker: bool,
    max_trees: int,
    concurrency: int | None,
    limits: dict[str, int],
    rates: dict[str, str],
    grace_seconds: float,
    no_auth: bool,
    read_rate: float,
    write_rate: float,
    max_streams: int,
) -> None:
    """Serve the HTTP API (/v1, /openapi.json, /docs) until SIGTERM or Ctrl-C.

    Trees submitted over HTTP come from others: they run under the server trust profile.
    On first start with no API keys, an admin key is made and printed once.
    """
    import_modules(imports)
    check_executor_limits(limits, rates)
    from taskflow.api import ApiSettings
    from taskflow.runtime import WorkerSettings

    settings = ApiSettings(
        auth=not no_auth,
        read_rate=read_rate,
        read_burst=max(1, round(read_rate * 2)),
        write_rate=write_rate,
        write_burst=max(1, round(write_rate * 4)),
        max_streams=max_streams,
        jwt_key=_key_text(jwt_key),
        jwt_algorithms=jwt_algorithms,
        jwt_audience=jwt_audience,
        jwt_issuer=jwt_issuer,
    )
    worker_settings = (
        WorkerSettings(max_trees=max_trees, stop_grace_seconds=grace_seconds) if worker else None
    )

    engine = {"concurrency": concurrency, "executor_limits": limits, "rate_limits": rates}
    run_async(_serve(db_url, settings, engine, host=host, port=port, worker=worker_settings))


def _key_text(value: str | None) -> str | None:
    """``--jwt-key``: the text itself, or ``@FILE``'s content."""
    if value is None or not value.startswith("@"):
        return value
    from pathlib import Path

    try:
        return Path(value[1:]).read_text()
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {value[1:]}: {exc.strerror}", param_hint="--jwt-key"
        ) from exc


async def _serve(
    db_url: str | None, settings: ApiSettings, engine: dict[str, Any], *, host: str, port: int,
    worker: WorkerSettings | None,
) -> None:  # fmt: skip
    from taskflow.api.server import first_admin_key
    from taskflow.api.server import serve as serve_api

    def ready(url: str) -> None:
        mode = "with a worker" if worker else "without a worker"
        click.echo(f"taskflow API on {url} ({mode}); reference: {url}/docs", err=True)
        if not worker:
            click.echo(
                "trees are run by `taskflow worker` processes (under the server trust "
                "profile, wherever they run: they come from others)",
                err=True,
            )

    async with open_manager(db_url, **engine) as manager:
        if settings.auth:
            key = await first_admin_key(manager)
            if key is not None:
                click.echo(
                    f"no API keys yet: made an admin key, shown once — store it now:\n{key}",
                    err=True,
                )
        await serve_api(manager, settings, host=host, port=port, worker=worker, on_ready=ready)
