"""``taskflow executors list|show|new`` (and ``taskflow executor new``, the older spelling)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from taskflow.cli.common import (
    import_modules,
    imports_option,
    json_option,
    print_json,
    stderr,
    stdout,
)
from taskflow.executors import ExecutorInfo, get_registry
from taskflow.treecheck import similar_ids


def describe(info: ExecutorInfo) -> dict[str, object]:
    """An executor for ``--json`` and `show`."""
    return {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "source": info.source,
        "class": f"{info.cls.__module__}.{info.cls.__qualname__}",
        "max_concurrency": info.max_concurrency,
        "rerun_safe": info.rerun_safe,
        "timeout": info.cls.timeout,
        "retry_policy": info.cls.retry_policy.to_dict() if info.cls.retry_policy else None,
        "input_schema": dict(info.input_schema),
        "output_schema": dict(info.output_schema) if info.output_schema is not None else None,
        "safety": safety_settings(info),
    }


def safety_settings(info: ExecutorInfo) -> list[dict[str, Any]]:
    """The executor's safety settings (`ExecutableTask.safety`), as JSON."""
    try:
        executor = info.create()
    except TypeError:  # a class that does not implement execute() yet: nothing to declare
        return []
    return [setting.to_dict() for setting in executor.safety()]


def _safety_table(settings: list[dict[str, Any]]) -> Table:
    """The safety settings: defaults under the CLI (local) and the server, and now."""
    table = Table(box=None, header_style="bold")
    for column in ("SETTING", "LOCAL (CLI)", "SERVER", "NOW", "ENVIRONMENT"):
        table.add_column(column, overflow="fold")
    for setting in settings:
        table.add_row(
            setting["name"],
            _shown(setting["local"]),
            _shown(setting["server"]),
            _shown(setting["current"]),
            setting["env"] or "",
        )
    return table


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


@click.group()
def executors() -> None:
    """The executors tasks can use (built-in, imported, or from installed packages)."""


@executors.command("list")
@imports_option
@json_option
def list_executors(imports: tuple[str, ...], as_json: bool) -> None:
    """Every registered executor and where it comes from."""
    import_modules(imports)
    registry = get_registry()
    found = list(registry)
    for package, error in registry.plugin_errors.items():
        stderr.print(f"warning: executor package {package} failed to load: {error}", markup=False)
    if as_json:
        print_json([describe(info) for info in found])
        return
    table = Table(box=None, header_style="bold")
    for column in ("ID", "SOURCE", "DESCRIPTION"):
        table.add_column(column)
    for info in found:
        table.add_row(info.id, info.source, info.description)
    stdout.print(table)


@executors.command()
@click.argument("executor_id")
@imports_option
@json_option
def show(executor_id: str, imports: tuple[str, ...], as_json: bool) -> None:
    """Description, origin, safety settings, input and output schemas of one executor."""
    import_modules(imports)
    registry = get_registry()
    info = registry.get(executor_id)
    if info is None:
        close = similar_ids(executor_id, registry.ids())
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise click.BadParameter(f"no executor {executor_id!r}{hint}", param_hint="EXECUTOR_ID")
    data = describe(info)
    if as_json:
        print_json(data)
        return
    for name in (
        "id",
        "name",
        "description",
        "source",
        "class",
        "max_concurrency",
        "rerun_safe",
        "timeout",
        "retry_policy",
    ):
        stdout.print(f"{name:>16}  {data[name]}", markup=False)
    safety: list[dict[str, Any]] = data["safety"]  # type: ignore[assignment]
    if safety:
        stdout.print(
            "safety settings (trust profiles: local for the CLI, server for taskflow serve):"
        )
        stdout.print(_safety_table(safety), markup=False)
        for setting in safety:
            stdout.print(f"  {setting['name']}: {setting['description']}", markup=False)
    for name in ("input_schema", "output_schema"):
        stdout.print(f"{name}:", markup=False)
        stdout.print(json.dumps(data[name], indent=2), markup=False)


@click.command()
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package folder.",
)
def new(name: str, directory: Path) -> None:
    """Create an executor package NAME that installs and passes its own tests.

    NAME is a distribution name such as taskflow-weather; acme_widget or Acme.Widget are
    taken as acme-widget.
    """
    from taskflow.scaffold import new_executor_package, normalise_package_name

    normalised = normalise_package_name(name)
    if normalised != name:
        stderr.print(f"package name {name!r} normalised to {normalised!r}", markup=False)
    try:
        created = new_executor_package(normalised, directory)
    except (ValueError, FileExistsError) as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    stdout.print(f"created {created}", markup=False)
    stdout.print(f"next: pip install -e {created} && pytest {created}", markup=False)


executors.add_command(new)


@click.group(hidden=True)
def executor() -> None:
    """Write executors (the old spelling: `taskflow executors new` is the command)."""


executor.add_command(new)
