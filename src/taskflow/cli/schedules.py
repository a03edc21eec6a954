"""``taskflow schedules add|list|show|pause|unpause|trigger|backfill|delete``.

Schedules live in the database; every ``taskflow worker`` fires the due ones (no separate
beat process). A schedule is named by its name, its id, or a unique prefix of its id.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from taskflow.cli.common import (
    db_option,
    import_modules,
    imports_option,
    json_option,
    open_manager,
    print_json,
    run_async,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from taskflow.models.schedule import FireRecord, ScheduleRecord
    from taskflow.runtime import TaskManager
    from taskflow.runtime.scheduler import Scheduler

#: `add` options that set a field of the schedule (over the file's ``schedule:`` section).
SPEC_OPTIONS = {
    "cron": "cron",
    "every": "every",
    "timezone": "timezone",
    "start": "start",
    "end": "end",
    "jitter": "jitter",
    "grace": "grace",
    "misfire": "misfire",
    "catch_up": "catch_up",
    "overlap": "overlap",
}


@click.group()
def schedules() -> None:
    """Periodic trees: cron or intervals, fired by every `taskflow worker`, once per time."""


@contextlib.asynccontextmanager
async def _scheduler(db_url: str | None) -> AsyncIterator[tuple[TaskManager, Scheduler]]:
    async with open_manager(db_url) as manager:
        yield manager, manager.schedules


@schedules.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@imports_option
@click.option("--name", help="The schedule's name (default: the tree's name).")
@click.option("--cron", metavar="EXPR", help="A cron expression: 5 fields, or 6 with seconds.")
@click.option("--every", metavar="DURATION", help="A fixed interval: 90, 30s, 5m, 1h30m, 1d.")
@click.option("--tz", "timezone", metavar="ZONE", help="An IANA time zone (default: UTC).")
@click.option("--start", metavar="TIME", help="The first instant it may fire (ISO 8601).")
@click.option("--end", metavar="TIME", help="The last instant it may fire (ISO 8601).")
@click.option("--jitter", metavar="DURATION", help="Start each run up to this much late.")
@click.option("--grace", metavar="DURATION", help="How late a fire is still on time (60s).")
@click.option("--misfire", type=click.Choice(["skip", "latest", "all"]), help="Missed times.")
@click.option("--catch-up", "catch_up", metavar="DURATION", help="With --misfire all: how far.")
@click.option(
    "--overlap",
    type=click.Choice(["allow", "skip", "buffer_one", "cancel_previous"]),
    help="A fire while the previous run is unfinished.",
)
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="A parameter.")
@click.option("--concurrency", type=click.IntRange(min=1), help="At most this many tasks at once.")
@click.option("--user", help="The owner of the schedule and its trees.")
@json_option
def add(
    *,
    file: str,
    db_url: str | None,
    imports: tuple[str, ...],
    name: str | None,
    assignments: tuple[str, ...],
    concurrency: int | None,
    user: str | None,
    as_json: bool,
    **spec_options: str | None,
) -> None:
    """Schedule the tree in FILE: on its `schedule:` section, or on --cron/--every.

    Options override the section's fields. Parameters (--set) are fixed now: every run
    starts the same tree.
    """
    from taskflow.cli.run import definition_of, load, located
    from taskflow.exceptions import DefinitionError, ScheduleError

    import_modules(imports)
    if spec_options.get("cron") and spec_options.get("every"):
        raise click.UsageError("give --cron or --every, not both")
    tree_file = load(file, assignments)
    section = _section(tree_file.schedule, spec_options)
    if "cron" not in section and "every" not in section:
        raise click.UsageError(f"{file} has no `schedule:` section: give --cron or --every")
    definition = definition_of(tree_file, concurrency or tree_file.concurrency)
    default_name = definition.get("name") if isinstance(definition, dict) else None

    async def go() -> tuple[ScheduleRecord, list[Any], int]:
        async with _scheduler(db_url) as (manager, scheduler):
            try:
                record = await scheduler.add(
                    definition,
                    section,
                    name=name or str(default_name or tree_file.path),
                    user_id=user or tree_file.user,
                    source=tree_file.path,
                )
            except ScheduleError:
                raise
            except DefinitionError as exc:
                raise located(tree_file, exc) from exc
            return record, list(scheduler.next_fire_times(record, 3)), await _workers(manager)

    record, coming, workers = run_async(go())
    if as_json:
        print_json(schedule_json(record, coming))
        return
    stdout.print(f"schedule {record.name!r} ({record.id[:8]}) added", markup=False)
    for fire in coming:
        stdout.print(f"  next: {_when(fire.run_at)}", markup=False)
    if not workers:
        stderr.print("no worker is running: schedules fire in `taskflow worker`", markup=False)


def _section(written: Any, options: dict[str, str | None]) -> dict[str, Any]:
    """The file's ``schedule:`` section with the command line's fields over it."""
    section = dict(written or {})
    for option, field in SPEC_OPTIONS.items():
        value = options.get(option)
        if value is not None:
            section[field] = value
    if options.get("cron"):
        section.pop("every", None)
    if options.get("every"):
        section.pop("cron", None)
    return section


@schedules.command("list")
@db_option
@click.option("--user", help="Only this user's schedules.")
@json_option
def list_schedules(db_url: str | None, user: str | None, as_json: bool) -> None:
    """Every schedule: when it fires, when next, what its last fire did."""

    async def go() -> list[tuple[ScheduleRecord, FireRecord | None]]:
        async with _scheduler(db_url) as (_, scheduler):
            found = await scheduler.all(user_id=user)
            return [
                (s, next(iter(await scheduler.store.fires(s.id, limit=1)), None)) for s in found
            ]

    rows = run_async(go())
    if as_json:
        print_json(
            [{**schedule_json(s), "last_fire": fire_json(f) if f else None} for s, f in rows]
        )
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("NAME", "ID", "WHEN", "STATE", "NEXT", "LAST FIRE", "MISSED"):
        table.add_column(column)
    from taskflow.schedules import ScheduleSpec

    for schedule, last in rows:
        spec = ScheduleSpec.from_mapping(schedule.spec)
        table.add_row(
            schedule.name,
            schedule.id[:8],
            spec.describe(),
            "paused" if schedule.is_paused else "active",
            _when(schedule.next_fire_at) if not schedule.is_paused else "-",
            f"{_when(last.nominal)} {last.status.value}" if last else "-",
            str(schedule.missed),
        )
    stdout.print(table)


@schedules.command()
@click.argument("ref", metavar="SCHEDULE")
@db_option
@click.option("--count", type=click.IntRange(min=0, max=100), default=5, show_default=True)
@click.option("--fires", "fire_count", type=click.IntRange(min=0), default=10, show_default=True)
@json_option
def show(ref: str, db_url: str | None, count: int, fire_count: int, as_json: bool) -> None:
    """A schedule: its fields, its next fire times, and its recent fires with their trees."""

    async def go() -> tuple[ScheduleRecord, list[Any], list[FireRecord]]:
        async with _scheduler(db_url) as (_, scheduler):
            schedule = await scheduler.get(ref)
            coming = list(scheduler.next_fire_times(schedule, count))
            return schedule, coming, await scheduler.store.fires(schedule.id, limit=fire_count)

    schedule, coming, fires = run_async(go())
    if as_json:
        print_json({**schedule_json(schedule, coming), "fires": [fire_json(f) for f in fires]})
        return
    data = schedule_json(schedule)
    for field in ("name", "id", "user_id", "source", "state", "watermark", "missed", "created_at"):
        stdout.print(f"{field:>12}  {data[field]}", markup=False)
    for field, value in schedule.spec.items():
        stdout.print(f"{field:>12}  {value}", markup=False)
    stdout.print("next fires:" if coming else "no more fires", markup=False)
    for fire in coming:
        stdout.print(f"  {_when(fire.run_at)}", markup=False)
    if fires:
        stdout.print("recent fires:", markup=False)
    for fire in fires:
        tree = f" tree {fire.tree_id}" if fire.tree_id else ""
        reason = f" ({fire.reason})" if fire.reason else ""
        stdout.print(
            f"  {_when(fire.nominal)} {fire.kind.value} {fire.status.value}{tree}{reason}",
            markup=False,
        )


@schedules.command()
@click.argument("ref", metavar="SCHEDULE")
@db_option
def pause(ref: str, db_url: str | None) -> None:
    """Stop firing (until `unpause`)."""

    async def go() -> ScheduleRecord:
        async with _scheduler(db_url) as (_, scheduler):
            return await scheduler.pause(ref)

    schedule = run_async(go())
    stdout.print(f"schedule {schedule.name!r} paused", markup=False)


@schedules.command()
@click.argument("ref", metavar="SCHEDULE")
@db_option
@imports_option
@click.option(
    "--replay", is_flag=True, help="Treat the paused period's times as missed ones (misfire)."
)
def unpause(ref: str, db_url: str | None, imports: tuple[str, ...], replay: bool) -> None:
    """Fire again; the paused period is passed over unless --replay."""
    import_modules(imports)

    async def go() -> Any:
        async with _scheduler(db_url) as (_, scheduler):
            return await scheduler.unpause(ref, replay=replay)

    evaluation = run_async(go())
    started = [f for f in evaluation.fires if f.tree_id]
    passed = f", {evaluation.missed} fire times passed over" if evaluation.missed else ""
    stdout.print(
        f"schedule {evaluation.schedule.name!r} active; {len(started)} trees queued{passed}",
        markup=False,
    )


@schedules.command()
@click.argument("ref", metavar="SCHEDULE")
@db_option
@imports_option
@json_option
def trigger(ref: str, db_url: str | None, imports: tuple[str, ...], as_json: bool) -> None:
    """Queue a run of the schedule's tree now (whatever its times and overlap policy)."""
    import_modules(imports)

    async def go() -> tuple[FireRecord, int]:
        async with _scheduler(db_url) as (manager, scheduler):
            return await scheduler.trigger(ref), await _workers(manager)

    fire, workers = run_async(go())
    if as_json:
        print_json(fire_json(fire))
        return
    if fire.tree_id is None:
        raise click.ClickException(f"the tree could not be created: {fire.reason}")
    stdout.print(fire.tree_id, markup=False)
    _hint(workers)


@schedules.command("backfill")
@click.argument("ref", metavar="SCHEDULE")
@click.option("--from", "start", required=True, metavar="TIME", help="ISO 8601 (schedule's zone).")
@click.option("--to", "end", required=True, metavar="TIME", help="ISO 8601, included.")
@db_option
@imports_option
@json_option
def backfill_command(
    *, ref: str, start: str, end: str, db_url: str | None, imports: tuple[str, ...], as_json: bool
) -> None:
    """Queue a run for every fire time of a range that has not fired (at most 1000)."""
    import_modules(imports)
    first, last = _time(start, "--from"), _time(end, "--to")

    async def go() -> tuple[list[FireRecord], int]:
        async with _scheduler(db_url) as (manager, scheduler):
            return await scheduler.backfill(ref, first, last), await _workers(manager)

    fires, workers = run_async(go())
    if as_json:
        print_json([fire_json(f) for f in fires])
        return
    for fire in fires:
        stdout.print(
            f"{_when(fire.nominal)} {fire.status.value} {fire.tree_id or ''}", markup=False
        )
    stdout.print(f"{len(fires)} fire times backfilled", markup=False)
    _hint(workers)


@schedules.command()
@click.argument("ref", metavar="SCHEDULE")
@db_option
def delete(ref: str, db_url: str | None) -> None:
    """Delete a schedule and its fire records (the trees it started stay)."""

    async def go() -> ScheduleRecord:
        async with _scheduler(db_url) as (_, scheduler):
            return await scheduler.delete(ref)

    stdout.print(f"schedule {run_async(go()).name!r} deleted", markup=False)


# -- rendering --------------------------------------------------------------------------------


def schedule_json(schedule: ScheduleRecord, coming: list[Any] | None = None) -> dict[str, Any]:
    """A schedule as JSON (with its next fire times when given)."""
    data = schedule.to_dict()
    if coming is not None:
        data["next_fires"] = [
            {"nominal": _iso(f.nominal), "run_at": _iso(f.run_at)} for f in coming
        ]
    return data


def fire_json(fire: FireRecord) -> dict[str, Any]:
    """A fire record as JSON."""
    return fire.to_dict()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S %Z}"


def _time(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from exc


async def _workers(manager: TaskManager) -> int:
    from taskflow.runtime.worker import alive_workers

    return len(await alive_workers(manager))


def _hint(workers: int) -> None:
    if not workers:
        stderr.print("queued; no worker is running: start one with `taskflow worker`", markup=False)
