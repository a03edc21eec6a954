"""``/v1/schedules``: periodic trees, scoped per user like trees (`TaskManager.schedules`).

A schedule is created from a tree file's document with a ``schedule:`` section (its ``name``
names the schedule); every worker fires it, once per fire time. Pause, unpause, trigger now,
delete; reading one shows its next fire times and its latest fires.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from taskflow.api.auth import principal_of
from taskflow.api.context import MANAGER, WAKE
from taskflow.api.problems import definition_problem, not_found
from taskflow.api.tasks import json_body
from taskflow.api.trees import BODY_NAME, from_others, read_document, tree_owner
from taskflow.api.views import API
from taskflow.exceptions import DefinitionError, ScheduleError
from taskflow.models.schedule import FireRecord, ScheduleRecord
from taskflow.storage.schedule_store import ScheduleQuery
from taskflow.treefile import TreeFileError

routes = web.RouteTableDef()
UNPAUSE_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"replay": {"type": "boolean", "default": False}},
}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def schedule_view(schedule: ScheduleRecord, coming: Any = ()) -> dict[str, Any]:
    """A schedule, with its next fire times when given (not the server's file it came from)."""
    data = schedule.to_dict()
    del data["source"]
    data["next_fires"] = [{"nominal": _iso(f.nominal), "run_at": _iso(f.run_at)} for f in coming]
    data["url"] = f"{API}/schedules/{schedule.id}"
    return data


def fire_view(fire: FireRecord) -> dict[str, Any]:
    """One fire of a schedule."""
    data = fire.to_dict()
    del data["schedule_id"]
    return data


async def visible_schedule(request: web.Request) -> ScheduleRecord:
    """The schedule in the path, if the caller may see it (404 otherwise)."""
    schedule_id = request.match_info["schedule_id"]
    store = request.app[MANAGER].storage.schedules
    found = await store.select(ScheduleQuery(ids=[schedule_id]))
    if not found or not principal_of(request).sees(found[0].user_id):
        raise not_found("schedule", schedule_id)
    return found[0]


@routes.get(f"{API}/schedules")
async def list_schedules(request: web.Request) -> web.Response:
    """The caller's schedules (an admin's: everyone's), by name."""
    principal = principal_of(request)
    scheduler = request.app[MANAGER].schedules
    found = await scheduler.all(user_id=None if principal.is_admin else principal.user_id)
    return web.json_response({"items": [schedule_view(s) for s in found]})


@routes.post(f"{API}/schedules")
async def create_schedule(request: web.Request) -> web.Response:
    """A schedule from a tree file's document with a ``schedule:`` section."""
    tree_file = await read_document(request, scheduled=True)
    owner = tree_owner(tree_file, principal_of(request))
    definition = from_others(tree_file.definition)
    name = definition.get("name") if isinstance(definition, dict) else None
    if not name:
        raise TreeFileError("name: a schedule needs a name", path=BODY_NAME)
    scheduler = request.app[MANAGER].schedules
    try:
        record = await scheduler.add(
            definition, dict(tree_file.schedule or {}), name=name, user_id=owner, source=None
        )
    except ScheduleError:
        raise
    except DefinitionError as exc:
        raise definition_problem(exc, tree_file.line_of) from exc
    body = schedule_view(record, scheduler.next_fire_times(record, 3))
    return web.json_response(body, status=201, headers={"Location": body["url"]})


@routes.get(f"{API}/schedules/{{schedule_id}}")
async def get_schedule(request: web.Request) -> web.Response:
    """A schedule with its next five fire times and its latest twenty fires."""
    schedule = await visible_schedule(request)
    scheduler = request.app[MANAGER].schedules
    body = schedule_view(schedule, scheduler.next_fire_times(schedule, 5))
    body["fires"] = [fire_view(f) for f in await scheduler.store.fires(schedule.id, limit=20)]
    return web.json_response(body)


@routes.post(f"{API}/schedules/{{schedule_id}}/pause")
async def pause_schedule(request: web.Request) -> web.Response:
    """Stop firing until unpaused."""
    schedule = await visible_schedule(request)
    paused = await request.app[MANAGER].schedules.pause(schedule.id)
    return web.json_response(schedule_view(paused))


@routes.post(f"{API}/schedules/{{schedule_id}}/unpause")
async def unpause_schedule(request: web.Request) -> web.Response:
    """Fire again (``replay``: the paused period's fire times too, by the misfire policy)."""
    schedule = await visible_schedule(request)
    body = await json_body(request, "unpause", optional=True)
    scheduler = request.app[MANAGER].schedules
    await scheduler.unpause(schedule.id, replay=bool(body.get("replay")))
    request.app[WAKE]()
    return web.json_response(schedule_view(await scheduler.get(schedule.id)))


@routes.post(f"{API}/schedules/{{schedule_id}}/trigger")
async def trigger_schedule(request: web.Request) -> web.Response:
    """Start the schedule's tree now (queued for a worker)."""
    schedule = await visible_schedule(request)
    fire = await request.app[MANAGER].schedules.trigger(schedule.id)
    request.app[WAKE]()
    return web.json_response(fire_view(fire), status=202)


@routes.delete(f"{API}/schedules/{{schedule_id}}")
async def delete_schedule(request: web.Request) -> web.Response:
    """Delete the schedule and its fire records (the trees it started stay)."""
    schedule = await visible_schedule(request)
    await request.app[MANAGER].schedules.delete(schedule.id)
    return web.Response(status=204)


__all__ = ["UNPAUSE_BODY", "fire_view", "routes", "schedule_view"]
