"""Retention: deleting finished trees (``taskflow db prune``, and the ``taskflow.prune``
executor, so that it can run as a schedule).

Finished trees older than a cutoff are deleted with their tasks, events and signals, a batch
of trees per transaction, oldest first: each transaction is short, so running trees keep
writing meanwhile. Fire records of schedules older than the cutoff go too once their tree is
gone (a buffered one, or one whose tree is still there, stays: overlap policies read them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from taskflow.exceptions import InputValidationError, ScheduleError
from taskflow.executors import BaseTask
from taskflow.executors.trust import SafetySetting, TrustProfile, env_flag, trust_settings
from taskflow.models import utcnow

if TYPE_CHECKING:
    from taskflow.storage import Storage

#: Trees deleted per transaction.
PRUNE_BATCH = 500
PRUNE_ALLOW_VARIABLE = "TASKFLOW_PRUNE_ALLOW"


async def prune_finished(
    storage: Storage, finished_before: datetime, *, batch: int = PRUNE_BATCH
) -> tuple[int, int]:
    """Delete the trees that finished before ``finished_before``; return how many trees and
    schedule fire records were deleted."""
    trees = 0
    while True:
        deleted = await storage.prune(finished_before, limit=batch)
        trees += deleted
        if deleted < batch:
            break
    fires = await storage.prune_fires(finished_before, limit=batch)
    return trees, fires


class Prune(BaseTask):
    """Deletes finished trees older than ``finished_before`` (a duration: ``30d``, ``12h``)
    from the database (``database``; default: this process's, ``$TASKFLOW_DATABASE_URL`` or
    the SQLite file). Refused under the ``server`` trust profile unless
    ``$TASKFLOW_PRUNE_ALLOW=1``: a tree from someone else must not delete others' trees."""

    id = "taskflow.prune"
    name = "Prune finished trees"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "finished_before": {
                "type": ["string", "number"],
                "default": "30d",
                "description": "Delete trees finished longer ago than this (30d, 12h, 3600).",
            },
            "batch": {"type": "integer", "minimum": 1, "default": PRUNE_BATCH},
            "database": {
                "type": ["string", "null"],
                "default": None,
                "description": "The database URL (default: this process's).",
            },
        },
        "additionalProperties": False,
    }

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse under the server profile unless allowed; check the duration."""
        from taskflow.schedules import parse_duration

        if trust_settings().profile is TrustProfile.SERVER and not env_flag(
            PRUNE_ALLOW_VARIABLE, False
        ):
            raise InputValidationError(
                f"taskflow.prune is not allowed under the server trust profile "
                f"(set ${PRUNE_ALLOW_VARIABLE}=1 to allow it)",
                path="inputs",
                rule="trust",
            )
        try:
            parse_duration(inputs["finished_before"], field="finished_before")
        except ScheduleError as exc:
            raise InputValidationError(
                str(exc), path="inputs.finished_before", rule="duration"
            ) from exc

    def safety(self) -> Sequence[SafetySetting]:
        """Whether it may run under each profile."""
        return [
            SafetySetting(
                name="allowed",
                description="whether taskflow.prune may delete trees",
                local=True,
                server=False,
                current=trust_settings().profile is TrustProfile.LOCAL
                or env_flag(PRUNE_ALLOW_VARIABLE, False),
                env=PRUNE_ALLOW_VARIABLE,
            )
        ]

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        from taskflow.runtime.session import create_storage
        from taskflow.schedules import parse_duration

        age: timedelta = parse_duration(inputs["finished_before"], field="finished_before")
        cutoff = utcnow() - age
        storage = create_storage(inputs.get("database"))
        try:
            trees, fires = await prune_finished(storage, cutoff, batch=inputs["batch"])
        finally:
            await storage.close()
        return {"trees": trees, "fires": fires, "finished_before": cutoff.isoformat()}
