"""`Scheduler`: schedules in the database, fired by every worker, once per fire time.

Every `taskflow.runtime.Worker` calls `Scheduler.fire_due` on each poll: it reads the active
schedules that are due, computes their fires (`taskflow.schedules.due`, the misfire policy),
decides what each does about the schedule's unfinished runs (`taskflow.schedules.plan_overlap`,
the overlap policy), and writes everything for one schedule — its new watermark, the fire
rows, the trees they start (queued: any worker runs them) — in one transaction that holds
only if the schedule did not change since it was read. Workers racing on one schedule compute
the same fires; one transaction wins, the others write nothing. A worker killed at any point
leaves either nothing (the fire is still due) or the fire with its queued tree.

`TaskManager.schedules` is one of these; ``taskflow schedules ...`` uses it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from taskflow.exceptions import AmbiguousId, DefinitionError, ScheduleError
from taskflow.models import Task, TaskTree, TreeStatus, new_task_id, utcnow
from taskflow.models.schedule import FireKind, FireRecord, FireStatus, ScheduleRecord
from taskflow.schedules import (
    DueFires,
    Fire,
    OverlapAction,
    RunState,
    ScheduleSpec,
    backfill,
    due,
    next_fires,
    plan_overlap,
)
from taskflow.storage.schedule_store import Advance, Firing, ScheduleQuery

if TYPE_CHECKING:
    from taskflow.engine import Engine
    from taskflow.storage.schedule_store import ScheduleStore

logger = logging.getLogger("taskflow.schedules")

#: Schedules one `Scheduler.fire_due` call evaluates at most (the rest: the next call).
DUE_BATCH = 50
#: Attempts at a change that lost a race with another process (pause, unpause).
_RETRIES = 5
#: Trees one backfill transaction creates at most.
_BACKFILL_CHUNK = 100
_MICROSECOND = timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation of a schedule wrote.

    Attributes:
        schedule: The schedule as it was read.
        fires: The fire records written (started, skipped, buffered or failed).
        promoted: A buffered fire that started now.
        missed: Fire times passed over.
        committed: Whether the transaction held (``False``: another process was first, and
            nothing was written).
    """

    schedule: ScheduleRecord
    fires: tuple[FireRecord, ...] = ()
    promoted: FireRecord | None = None
    missed: int = 0
    committed: bool = True


class Scheduler:
    """Schedules on ``manager``'s storage; trees are built (and checked) by ``manager``.

    Args:
        manager: The engine whose storage keeps the schedules and whose checks build the
            trees (its registry decides which executors exist).
    """

    def __init__(self, manager: Engine) -> None:
        self.manager = manager

    @property
    def store(self) -> ScheduleStore:
        """The storage's schedules."""
        return self.manager.storage.schedules

    # -- the records --------------------------------------------------------------------------

    async def add(
        self,
        definition: Any,
        spec: ScheduleSpec | Mapping[str, Any],
        *,
        name: str,
        user_id: str | None = None,
        source: str | None = None,
        now: datetime | None = None,
    ) -> ScheduleRecord:
        """Store a schedule that starts ``definition`` (checked now, and at every fire).

        Raises:
            DefinitionError: the tree cannot be created as defined.
            ScheduleError: an invalid spec, or the name is taken.
        """
        name = name.strip()
        if not name or len(name) > 200:
            raise ScheduleError("a schedule needs a name of 1 to 200 characters", field="name")
        self.manager.check(definition, user_id=user_id)
        now = now or utcnow()
        schedule_id = new_task_id()
        parsed = (
            spec.with_created_at(now)
            if isinstance(spec, ScheduleSpec)
            else ScheduleSpec.from_mapping(spec, created_at=now, path="schedule")
        )
        first = next(iter(next_fires(parsed, schedule_id=schedule_id, after=now, count=1)), None)
        record = ScheduleRecord(
            id=schedule_id,
            name=name,
            user_id=user_id,
            spec=parsed.to_mapping(),
            definition=definition,
            source=source,
            next_fire_at=first.run_at if first else None,
            created_at=now,
            updated_at=now,
        )
        await self.store.add(record)
        return record

    async def all(self, *, user_id: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of ``user_id``), by name."""
        return await self.store.select(ScheduleQuery(user_id=user_id))

    async def get(self, ref: str, *, user_id: str | None = None) -> ScheduleRecord:
        """The schedule named ``ref``, or with that id or unique id prefix.

        Raises:
            ScheduleError: no such schedule (``AmbiguousId`` for a prefix of several).
        """
        found = await self.store.select(ScheduleQuery(name=ref, user_id=user_id))
        if not found:
            found = await self.store.select(ScheduleQuery(id_prefix=ref, user_id=user_id, limit=6))
        if len(found) > 1 and not any(s.id == ref for s in found):
            raise AmbiguousId(ref, [f"{s.id} ({s.name})" for s in found])
        match = next((s for s in found if s.id == ref), found[0] if found else None)
        if match is None:
            raise ScheduleError(f"there is no schedule {ref!r} (`taskflow schedules list`)")
        return match

    async def delete(self, ref: str) -> ScheduleRecord:
        """Delete a schedule and its fire records; the trees it started stay."""
        schedule = await self.get(ref)
        await self.store.delete(schedule.id)
        return schedule

    async def fires(
        self, ref: str, *, limit: int = 20, before: datetime | None = None
    ) -> list[FireRecord]:
        """A schedule's fire records, newest first."""
        return await self.store.fires((await self.get(ref)).id, limit=limit, before=before)

    def spec_of(self, schedule: ScheduleRecord) -> ScheduleSpec:
        """The schedule's spec (with its creation time: an interval counts from it)."""
        return ScheduleSpec.from_mapping(schedule.spec, created_at=schedule.created_at)

    def next_fire_times(
        self, schedule: ScheduleRecord, count: int = 5, *, now: datetime | None = None
    ) -> tuple[Fire, ...]:
        """The schedule's next ``count`` fires after its watermark (or now, if later)."""
        now = now or utcnow()
        after = max(now, schedule.watermark) if schedule.watermark else now
        return next_fires(self.spec_of(schedule), schedule_id=schedule.id, after=after, count=count)

    # -- changes ------------------------------------------------------------------------------

    async def pause(self, ref: str, *, now: datetime | None = None) -> ScheduleRecord:
        """Stop firing until `unpause`."""
        for _ in range(_RETRIES):
            schedule = await self.get(ref)
            if schedule.is_paused:
                return schedule
            at = now or utcnow()
            advance = Advance(
                version=schedule.version,
                watermark=schedule.watermark,
                next_fire_at=schedule.next_fire_at,
                paused_at=at,
                at=at,
            )
            if await self.store.commit(Firing(schedule_id=schedule.id, advance=advance)):
                return await self.get(schedule.id)
        raise ScheduleError(f"schedule {ref!r} kept changing; try again")

    async def unpause(
        self, ref: str, *, replay: bool = False, now: datetime | None = None
    ) -> Evaluation:
        """Fire again. The fire times of the paused period are passed over, unless ``replay``
        (then the misfire policy decides, as for any missed time); what was due before the
        pause and not yet handled is left to the misfire policy. Evaluates the schedule once,
        now (the fires it starts are queued for workers)."""
        for _ in range(_RETRIES):
            schedule = await self.get(ref)
            if not schedule.is_paused:
                return Evaluation(schedule, committed=False)
            evaluation = await self.evaluate(
                schedule, now or utcnow(), paused_since=schedule.paused_at, replay=replay
            )
            if evaluation.committed:
                return evaluation
        raise ScheduleError(f"schedule {ref!r} kept changing; try again")

    async def trigger(self, ref: str, *, now: datetime | None = None) -> FireRecord:
        """Start the schedule's tree now, whatever its times and overlap policy (a fire of
        kind ``trigger``, recorded at this instant)."""
        schedule = await self.get(ref)
        at = now or utcnow()
        fire, tree = self._fire(schedule, Fire(at, at), FireKind.TRIGGER, at)
        firing = Firing(schedule_id=schedule.id, fires=[fire], trees=[tree] if tree else [])
        if not await self.store.commit(firing):
            raise ScheduleError(f"schedule {ref!r} was deleted, or fired at this very instant")
        return fire

    async def backfill(
        self, ref: str, start: datetime, end: datetime, *, now: datetime | None = None
    ) -> list[FireRecord]:
        """Start a tree for every fire time of the range (both ends included) that has no fire
        record yet, whatever the overlap policy; times already fired are left alone, so a
        backfill can be run again. Returns the new fire records.

        Raises:
            ScheduleError: the range is inverted or holds more than 1000 fire times.
        """
        schedule = await self.get(ref)
        times = backfill(self.spec_of(schedule), start, end)
        if not times:
            return []
        known = {
            f.nominal
            for f in await self.store.fires(
                schedule.id, limit=len(times) + 1, before=max(times) + _MICROSECOND
            )
        }
        at = now or utcnow()
        written: list[FireRecord] = []
        todo = [t for t in times if t not in known]
        for index in range(0, len(todo), _BACKFILL_CHUNK):
            fires, trees = [], []
            for nominal in todo[index : index + _BACKFILL_CHUNK]:
                fire, tree = self._fire(schedule, Fire(nominal, nominal), FireKind.BACKFILL, at)
                fires.append(fire)
                if tree is not None:
                    trees.append(tree)
            if await self.store.commit(Firing(schedule_id=schedule.id, fires=fires, trees=trees)):
                written.extend(fires)
        return written

    # -- firing -------------------------------------------------------------------------------

    async def fire_due(self, now: datetime | None = None) -> list[Evaluation]:
        """Evaluate every active schedule that is due (and every one whose buffered fire may
        start); write what each fires. What another process wrote first is skipped."""
        now = now or utcnow()
        due_now = await self.store.select(ScheduleQuery(due_by=now, limit=DUE_BATCH))
        waiting = await self.store.select(ScheduleQuery(buffered=True, limit=DUE_BATCH))
        seen = {s.id for s in due_now}
        evaluations = []
        for schedule in [*due_now, *(s for s in waiting if s.id not in seen)]:
            if schedule.is_paused:
                continue
            try:
                evaluations.append(await self.evaluate(schedule, now))
            except Exception:
                logger.exception("schedule %s: evaluation failed; trying again", schedule.name)
        return evaluations

    async def evaluate(
        self,
        schedule: ScheduleRecord,
        now: datetime,
        *,
        paused_since: datetime | None = None,
        replay: bool = False,
    ) -> Evaluation:
        """Compute and write what ``schedule`` fires at ``now`` (one transaction)."""
        spec = self.spec_of(schedule)
        found: DueFires = due(
            spec,
            schedule_id=schedule.id,
            last_fired=schedule.watermark,
            now=now,
            paused_since=paused_since,
            replay_paused=replay,
        )
        runs = await self.store.runs(schedule.id)
        unfinished = runs.unfinished
        trees: list[tuple[TaskTree, Sequence[Task]]] = []
        promoted = None
        if runs.buffered is not None and not unfinished:
            fire = Fire(runs.buffered.nominal, runs.buffered.run_at)
            promoted, tree = self._fire(schedule, fire, runs.buffered.kind, now)
            if tree is not None:
                trees.append(tree)
                unfinished = (tree[0].id,)
        buffered = None if promoted is not None or runs.buffered is None else runs.buffered
        state = RunState(unfinished, buffered.nominal if buffered else None)
        fires: list[FireRecord] = []
        cancels: list[str] = []
        for fire, decision in plan_overlap(spec.overlap, state, found.fires):
            if decision.action in (OverlapAction.START, OverlapAction.CANCEL_PREVIOUS):
                record, tree = self._fire(schedule, fire, FireKind.SCHEDULE, now)
                if tree is not None:
                    trees.append(tree)
                cancels.extend(decision.cancel)
            else:
                status = (
                    FireStatus.BUFFERED
                    if decision.action is OverlapAction.BUFFER
                    else FireStatus.SKIPPED
                )
                record = self._record(schedule, fire, FireKind.SCHEDULE, status, now)
                record = dataclasses.replace(record, reason=decision.reason)
            fires.append(record)
        advance = Advance(
            version=schedule.version,
            watermark=found.watermark,
            next_fire_at=found.next_fire.run_at if found.next_fire else None,
            missed=found.missed,
            paused_at=None,
            at=now,
        )
        firing = Firing(
            schedule_id=schedule.id, advance=advance, fires=fires, promoted=promoted, trees=trees
        )
        if not await self.store.commit(firing):
            return Evaluation(schedule, committed=False)
        for fire_record in fires:
            logger.info(
                "schedule %s: fire at %s %s%s",
                schedule.name,
                fire_record.nominal.isoformat(),
                fire_record.status.value,
                f" tree {fire_record.tree_id}" if fire_record.tree_id else "",
            )
        for tree_id in dict.fromkeys(cancels):
            await self._cancel(schedule, tree_id)
        return Evaluation(schedule, tuple(fires), promoted, found.missed)

    async def _cancel(self, schedule: ScheduleRecord, tree_id: str) -> None:
        reason = f"schedule {schedule.name!r}: a newer fire started (overlap=cancel_previous)"
        try:
            await self.manager.cancel(tree_id, reason)
        except Exception:  # the tree finished or vanished meanwhile: nothing to cancel
            logger.warning("schedule %s: could not cancel tree %s", schedule.name, tree_id)

    def _fire(
        self, schedule: ScheduleRecord, fire: Fire, kind: FireKind, now: datetime
    ) -> tuple[FireRecord, tuple[TaskTree, Sequence[Task]] | None]:
        """The record of a fire that starts a tree, and the tree (queued); a definition that
        no longer checks gives a failed fire, with the reason, and no tree."""
        try:
            tasks = self.manager.check(schedule.definition, user_id=schedule.user_id)
        except DefinitionError as exc:
            logger.error("schedule %s: cannot create its tree: %s", schedule.name, exc)
            record = self._record(schedule, fire, kind, FireStatus.FAILED, now)
            return dataclasses.replace(record, reason=f"cannot create the tree: {exc}"), None
        tree = TaskTree.of(tasks[0], status=TreeStatus.QUEUED)
        record = self._record(schedule, fire, kind, FireStatus.STARTED, now)
        return dataclasses.replace(record, tree_id=tree.id), (tree, tasks)

    @staticmethod
    def _record(
        schedule: ScheduleRecord, fire: Fire, kind: FireKind, status: FireStatus, now: datetime
    ) -> FireRecord:
        return FireRecord(
            schedule_id=schedule.id,
            nominal=fire.nominal,
            run_at=fire.run_at,
            kind=kind,
            status=status,
            recorded_at=now,
        )
