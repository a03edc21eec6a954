"""Overlap decisions: what a new fire does while an earlier fire's tree is unfinished.

Pure functions over the policy and the state of the schedule's earlier runs. The caller (a
worker, in the transaction that records the fire) carries the decision out: start a tree,
record the fire as skipped with the reason, record it as buffered (and start it when the
unfinished trees have finished), or cancel the unfinished trees and start a new one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from taskflow.schedules.fire_times import Fire
from taskflow.schedules.spec import OverlapPolicy

_NAMED_AT_MOST = 3  # unfinished trees named in a reason


class OverlapAction(StrEnum):
    """What to do with a new fire."""

    START = "start"
    """Start its tree now."""
    SKIP = "skip"
    """Start nothing; record the fire as skipped, with `OverlapDecision.reason`."""
    BUFFER = "buffer"
    """Record it as waiting; start its tree once the unfinished trees have finished."""
    CANCEL_PREVIOUS = "cancel_previous"
    """Cancel the trees in `OverlapDecision.cancel`, then start its tree."""


@dataclasses.dataclass(frozen=True, slots=True)
class RunState:
    """What the schedule's earlier fires left behind.

    Attributes:
        unfinished: the ids of the unfinished trees earlier fires started, oldest first.
        buffered: the nominal time of the fire waiting for them (``buffer_one``), if any.
    """

    unfinished: tuple[str, ...] = ()
    buffered: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OverlapDecision:
    """What to do with one fire.

    Attributes:
        action: start, skip, buffer, or cancel the previous trees then start.
        reason: why it was skipped or buffered (``None`` when it starts).
        cancel: with `OverlapAction.CANCEL_PREVIOUS`, the trees to cancel first.
    """

    action: OverlapAction
    reason: str | None = None
    cancel: tuple[str, ...] = ()


def decide_overlap(policy: OverlapPolicy, state: RunState) -> OverlapDecision:
    """What a new fire does under ``policy``, given the earlier runs' ``state``.

    With no unfinished tree every policy starts it. Otherwise: ``allow`` starts it, ``skip``
    skips it, ``buffer_one`` buffers it unless a fire is buffered already (then it is
    skipped), ``cancel_previous`` cancels the unfinished trees and starts it.
    """
    if not state.unfinished or policy is OverlapPolicy.ALLOW:
        return OverlapDecision(OverlapAction.START)
    trees = _named(state.unfinished)
    if policy is OverlapPolicy.CANCEL_PREVIOUS:
        return OverlapDecision(
            OverlapAction.CANCEL_PREVIOUS,
            f"overlap=cancel_previous: cancels the unfinished {trees}",
            cancel=state.unfinished,
        )
    if policy is OverlapPolicy.SKIP:
        return OverlapDecision(
            OverlapAction.SKIP,
            f"overlap=skip: {trees} of an earlier fire {_verb(state.unfinished)} unfinished",
        )
    if state.buffered is not None:
        return OverlapDecision(
            OverlapAction.SKIP,
            f"overlap=buffer_one: the fire at {state.buffered.isoformat()} already waits for "
            f"{trees} to finish",
        )
    return OverlapDecision(OverlapAction.BUFFER, f"overlap=buffer_one: waits for {trees} to finish")


def plan_overlap(
    policy: OverlapPolicy, state: RunState, fires: Sequence[Fire]
) -> tuple[tuple[Fire, OverlapDecision], ...]:
    """Decisions for several fires at once (a catch-up batch from `due`), oldest first.

    Each fire sees the runs the fires before it started or buffered: under ``skip`` only the
    first of a batch can start, under ``buffer_one`` one more waits. Under
    ``cancel_previous`` only the batch's last fire starts, the earlier ones are skipped as
    superseded, rather than started and cancelled at once.
    """
    if policy is OverlapPolicy.CANCEL_PREVIOUS and fires:
        last = fires[-1]
        superseded = OverlapDecision(
            OverlapAction.SKIP,
            f"overlap=cancel_previous: superseded by the fire at {last.nominal.isoformat()} "
            "in the same batch",
        )
        return (*((fire, superseded) for fire in fires[:-1]), (last, decide_overlap(policy, state)))
    plan = []
    for fire in fires:
        decision = decide_overlap(policy, state)
        plan.append((fire, decision))
        if decision.action is OverlapAction.START:
            started = f"(the new tree of the fire at {fire.nominal.isoformat()})"
            state = dataclasses.replace(state, unfinished=(*state.unfinished, started))
        elif decision.action is OverlapAction.BUFFER:
            state = dataclasses.replace(state, buffered=fire.nominal)
    return tuple(plan)


def _named(trees: tuple[str, ...]) -> str:
    shown = ", ".join(trees[:_NAMED_AT_MOST])
    more = f" and {len(trees) - _NAMED_AT_MOST} more" if len(trees) > _NAMED_AT_MOST else ""
    return f"tree {shown}" if len(trees) == 1 else f"trees {shown}{more}"


def _verb(trees: tuple[str, ...]) -> str:
    return "is" if len(trees) == 1 else "are"
