"""``/v1/trees``: submit a tree (202 and where to follow it), list trees, read one, its events.

A submitted tree is a tree file's document as JSON (``taskflow schema`` prints its schema),
checked as ``taskflow validate`` checks a file — every problem at once, with the task, the
field and the line of the body — and queued for a worker. It belongs to the caller; only an
admin key may submit for another user (the document's ``user``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from taskflow.api.auth import Principal, principal_of
from taskflow.api.context import MANAGER, READER, SETTINGS, WAKE
from taskflow.api.problems import Problem, body_text, definition_problem, not_found
from taskflow.api.views import (
    API,
    bad_query,
    decode_cursor,
    encode_cursor,
    event_view,
    listed_tree,
    tree_detail,
    tree_urls,
)
from taskflow.definition import build_tree
from taskflow.exceptions import DefinitionError
from taskflow.executors import TRUST_PARAM, TrustProfile
from taskflow.models import Task, TaskTree, TreeStatus
from taskflow.storage import TreeQuery
from taskflow.treefile import TreeFile, TreeFileError, tree_from_text

routes = web.RouteTableDef()
#: Trees created with an ``Idempotency-Key`` get an id derived from it and the user.
IDEMPOTENCY_NAMESPACE = uuid.UUID("8d6f4f0e-3b5e-4c1f-9a53-7c1d2b0e6a41")
BODY_NAME = "request.json"  # how errors name the submitted document


async def visible_tree(request: web.Request, tree_id: str) -> TaskTree:
    """The tree, if it exists and the caller may see it.

    Raises:
        Problem: 404 otherwise (another user's tree is not found either).
    """
    tree = await request.app[READER].get_tree(tree_id)
    if tree is None or not principal_of(request).sees(tree.user_id):
        raise not_found("tree", tree_id)
    return tree


def count_tasks(definition: Mapping[str, Any] | Sequence[Any]) -> int:
    """How many tasks a definition makes (without building them)."""
    if not isinstance(definition, Mapping):
        return len(definition)
    count, stack = 0, [definition]
    while stack:
        spec = stack.pop()
        count += 1
        children = spec.get("children")
        if isinstance(children, list):
            stack.extend(c for c in children if isinstance(c, Mapping))
    return count


def tree_owner(tree_file: TreeFile, principal: Principal) -> str:
    """Whose tree (or schedule) the document makes: the caller's, or — for an admin key —
    the user the document names."""
    if tree_file.user is None or tree_file.user == principal.user_id:
        return principal.user_id
    if principal.is_admin:
        return tree_file.user
    raise TreeFileError(
        f"user: a key of {principal.user_id!r} cannot submit a tree for {tree_file.user!r} "
        "(only an admin key can)",
        path=BODY_NAME,
    )


def _check_owner_fields(definition: Any, owner: str) -> None:
    specs = [definition] if isinstance(definition, Mapping) else list(definition)
    while specs:
        spec = specs.pop()
        if spec.get("user_id", owner) != owner:
            raise DefinitionError(
                f"user_id: a task of a submitted tree belongs to its owner {owner!r}",
                task=spec.get("key") or spec.get("id"),
            )
        specs.extend(c for c in spec.get("children") or [] if isinstance(c, Mapping))


def _definition(tree_file: TreeFile) -> Any:
    definition = tree_file.definition
    if tree_file.concurrency is not None and isinstance(definition, Mapping):
        definition = {**definition, "concurrency": tree_file.concurrency}
    return from_others(definition)


def _stamped(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return spec  # the checks refuse it, naming it
    params = spec.get("params")
    if params is not None and not isinstance(params, Mapping):
        return dict(spec)
    return {**spec, "params": {**(params or {}), TRUST_PARAM: TrustProfile.SERVER.value}}


def from_others(definition: Any) -> Any:
    """The definition with every task's ``trust`` parameter set to ``server``: a tree that came
    over HTTP runs under the ``server`` trust profile in any process that runs it (a
    ``taskflow worker`` started without ``TASKFLOW_TRUST=server``, a Celery worker), not only
    in this one. A document cannot loosen it: a ``trust`` it gives is replaced."""
    if not isinstance(definition, Mapping):
        return [_stamped(s) for s in definition] if isinstance(definition, list) else definition
    root = _stamped(definition)
    stack = [root]
    while stack:  # no recursion: the nesting depth is the sender's to choose
        spec = stack.pop()
        children = spec.get("children")
        if isinstance(children, list):
            spec["children"] = [_stamped(child) for child in children]
            stack.extend(child for child in spec["children"] if isinstance(child, dict))
    return root


async def read_document(request: web.Request, *, scheduled: bool = False) -> TreeFile:
    """The body as a checked tree file (422 for an invalid one, 413 over the limits); a
    ``schedule:`` section is required when ``scheduled``, refused otherwise."""
    settings = request.app[SETTINGS]
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise too_large(f"the body has {request.content_length} bytes", settings.max_body_bytes)
    text = await body_text(request)
    tree_file = tree_from_text(text, BODY_NAME)
    if scheduled and tree_file.schedule is None:
        raise TreeFileError("schedule: a schedule needs a schedule section", path=BODY_NAME)
    if not scheduled and tree_file.schedule is not None:
        raise TreeFileError(
            "schedule: a tree submitted to /v1/trees runs once; create a schedule with "
            "POST /v1/schedules",
            path=BODY_NAME,
        )
    tasks = count_tasks(tree_file.definition)
    if tasks > settings.max_tasks:
        raise Problem(
            413,
            "too-large",
            "Tree too large",
            f"the tree has {tasks} tasks; this server takes at most {settings.max_tasks}",
            limit=settings.max_tasks,
        )
    return tree_file


def too_large(detail: str, limit: int) -> Problem:
    """413 for a body over the limit."""
    return Problem(413, "too-large", "Request body too large", detail, limit=limit)


def _accepted(tree: TaskTree, *, replayed: bool) -> web.Response:
    body = {"id": tree.id, "status": tree.status.value, **tree_urls(tree.id)}
    headers = {"Location": f"{API}/trees/{tree.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(body, status=202, headers=headers)


#: The fields of a task that its definition sets, which a replayed request must repeat (not its
#: id, its times, or what running it changed).
DEFINED_FIELDS = (
    "name", "executor", "user_id", "inputs", "params", "priority", "position", "timeout",
    "soft_timeout", "retry", "concurrency",
)  # fmt: skip


def _defined(tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
    """Each task's defined fields by key, with its parent and dependencies as keys (ids differ
    from one request to the next), and its params without the ``trust`` the server sets (a
    tree stored before it did replays all the same)."""
    key_of = {t.id: t.key for t in tasks}
    return {
        t.key: {
            "parent": key_of.get(t.parent_id) if t.parent_id else None,
            "dependencies": [(key_of.get(d.id, d.id), d.required) for d in t.dependencies],
            **{field: getattr(t, field) for field in DEFINED_FIELDS},
            "params": {k: v for k, v in t.params.items() if k != TRUST_PARAM},
        }
        for t in tasks
    }


def replay_difference(stored: Sequence[Task], given: Sequence[Task]) -> str | None:
    """How the tree a request defines (``given``) differs from the one its key created
    (``stored``), or ``None`` when it is the same tree.

    Tasks added to the stored tree since (`TaskRepository.create_task`; they were created
    later than the tree's own, which share one time) do not count.
    """
    was, now = _defined(stored), _defined(given)
    for key, fields in now.items():
        if key not in was:
            return f"task {key!r} is not in it"
        for field, value in fields.items():
            if was[key][field] != value:
                return f"task {key!r} has another {field}"
    created = {t.created_at for t in stored if t.parent_id is None}  # the tree's own tasks
    missing = [t.key for t in stored if t.key not in now and t.created_at in created]
    return f"task {missing[0]!r} is missing" if missing else None


async def _replayed(
    request: web.Request, tree: TaskTree, definition: Any, key: str, tree_file: TreeFile
) -> web.Response:
    """202 with the tree the key created, if this request defines that same tree; 422 if the
    key is being reused for another one (nothing is created)."""
    try:
        given = build_tree(definition, user_id=tree.user_id, tree_id=tree.id)
    except DefinitionError as exc:
        raise definition_problem(exc, tree_file.line_of) from exc
    stored = await request.app[MANAGER].task_repository.get_tree_tasks(tree.id)
    difference = replay_difference(stored, given)
    if difference is not None:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            f"the Idempotency-Key {key!r} created tree {tree.id} from another body: "
            f"{difference}; use a new key for a new tree",
            tree=tree.id,
        )
    return _accepted(tree, replayed=True)


@routes.post(f"{API}/trees")
async def submit_tree(request: web.Request) -> web.Response:
    """Check and queue a tree; 202 with where to follow it."""
    principal = principal_of(request)
    manager = request.app[MANAGER]
    idempotency_key = request.headers.get("Idempotency-Key")
    tree_file = await read_document(request)
    owner = tree_owner(tree_file, principal)
    definition = _definition(tree_file)
    try:
        _check_owner_fields(definition, owner)
    except DefinitionError as exc:
        raise definition_problem(exc, tree_file.line_of) from exc
    tree_id = None
    if idempotency_key:
        tree_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{owner}\n{idempotency_key}"))
        existing = await manager.task_repository.get_tree(tree_id)
        if existing is not None:
            return await _replayed(request, existing, definition, idempotency_key, tree_file)
    try:
        node = await manager.create_tree(definition, user_id=owner, queued=True, tree_id=tree_id)
    except DefinitionError as exc:
        existing = await manager.task_repository.get_tree(tree_id) if tree_id else None
        if existing is None or idempotency_key is None:
            raise definition_problem(exc, tree_file.line_of) from exc
        # a concurrent request with the same key created it first
        return await _replayed(request, existing, definition, idempotency_key, tree_file)
    request.app[WAKE]()
    return _accepted(TaskTree.of(node.task, status=TreeStatus.QUEUED), replayed=False)


def _statuses(request: web.Request) -> list[TreeStatus] | None:
    raw = [s for value in request.query.getall("status", []) for s in value.split(",") if s]
    try:
        return [TreeStatus(s) for s in raw] or None
    except ValueError:
        known = ", ".join(s.value for s in TreeStatus)
        raise bad_query("status", f"one of {known}") from None


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("since")
    if raw is None:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_query("since", "an ISO 8601 time, e.g. 2026-12-01T10:00:00Z") from None
    if since.tzinfo is None:
        raise bad_query("since", "give a time zone (Z or +01:00)")
    return since


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_query(name, "an integer") from None
    if not low <= value <= high:
        raise bad_query(name, f"between {low} and {high}")
    return value


@routes.get(f"{API}/trees")
async def list_trees(request: web.Request) -> web.Response:
    """The caller's trees (an admin's: everyone's), newest first, a page at a time."""
    principal = principal_of(request)
    limit = int_query(request, "limit", 50, 1, request.app[SETTINGS].page_limit)
    cursor = request.query.get("cursor")
    query = TreeQuery(
        user_id=None if principal.is_admin else principal.user_id,
        statuses=_statuses(request),
        name=request.query.get("name") or None,
        since=_since(request),
        before=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    storage = request.app[READER].storage
    found = await storage.select_trees(query)
    page = found[:limit]
    counts = await storage.status_counts([t.id for t in page])
    next_cursor = encode_cursor(page[-1]) if len(found) > limit else None
    items = [listed_tree(t, counts.get(t.id, {})) for t in page]
    return web.json_response({"items": items, "next_cursor": next_cursor})


@routes.get(f"{API}/trees/{{tree_id}}")
async def get_tree(request: web.Request) -> web.Response:
    """The tree with every task."""
    tree = await visible_tree(request, request.match_info["tree_id"])
    tasks = await request.app[READER].get_tree_tasks(tree.id)
    return web.json_response(tree_detail(tree, tasks), dumps=_dumps)


@routes.get(f"{API}/trees/{{tree_id}}/events")
async def tree_events(request: web.Request) -> web.Response:
    """The tree's stored events after ``after``, in order."""
    tree = await visible_tree(request, request.match_info["tree_id"])
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", 1000, 1, 1000)
    events = await request.app[MANAGER].storage.events.read(tree.id, after=after, limit=limit)
    last = events[-1].seq if events else after
    return web.json_response(
        {"items": [event_view(e) for e in events], "last_seq": last, "finished": tree.is_finished}
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


__all__ = ["count_tasks", "int_query", "read_document", "routes", "tree_owner", "visible_tree"]
