"""Overlap decisions: allow, skip, buffer_one, cancel_previous, alone and in catch-up batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskflow.schedules import (
    Fire,
    OverlapAction,
    OverlapDecision,
    OverlapPolicy,
    RunState,
    decide_overlap,
    plan_overlap,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
BUSY = RunState(unfinished=("tree-a",))
BATCH = [Fire(T0 + timedelta(minutes=m), T0 + timedelta(minutes=m)) for m in range(4)]


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_with_nothing_unfinished_every_policy_starts(policy: OverlapPolicy) -> None:
    assert decide_overlap(policy, RunState()) == OverlapDecision(OverlapAction.START)


def test_allow_starts_beside_the_unfinished_tree() -> None:
    assert decide_overlap(OverlapPolicy.ALLOW, BUSY) == OverlapDecision(OverlapAction.START)


def test_skip_skips_with_a_reason_naming_the_unfinished_tree() -> None:
    decision = decide_overlap(OverlapPolicy.SKIP, BUSY)
    assert decision.action is OverlapAction.SKIP
    assert decision.reason == "overlap=skip: tree tree-a of an earlier fire is unfinished"
    many = decide_overlap(OverlapPolicy.SKIP, RunState(unfinished=("a", "b", "c", "d", "e")))
    assert many.reason == "overlap=skip: trees a, b, c and 2 more of an earlier fire are unfinished"


def test_buffer_one_buffers_one_fire_then_skips_the_next() -> None:
    first = decide_overlap(OverlapPolicy.BUFFER_ONE, BUSY)
    assert first.action is OverlapAction.BUFFER
    assert first.reason == "overlap=buffer_one: waits for tree tree-a to finish"
    second = decide_overlap(OverlapPolicy.BUFFER_ONE, RunState(("tree-a",), buffered=T0))
    assert second.action is OverlapAction.SKIP
    assert second.reason is not None and T0.isoformat() in second.reason


def test_cancel_previous_names_the_trees_to_cancel_before_starting() -> None:
    decision = decide_overlap(OverlapPolicy.CANCEL_PREVIOUS, RunState(("a", "b")))
    assert decision.action is OverlapAction.CANCEL_PREVIOUS
    assert decision.cancel == ("a", "b")


def test_a_batch_under_allow_starts_every_fire() -> None:
    plan = plan_overlap(OverlapPolicy.ALLOW, BUSY, BATCH)
    assert [d.action for _, d in plan] == [OverlapAction.START] * 4
    assert [f for f, _ in plan] == BATCH


def test_a_batch_under_skip_starts_only_its_first_fire() -> None:
    plan = plan_overlap(OverlapPolicy.SKIP, RunState(), BATCH)
    assert [d.action for _, d in plan] == [OverlapAction.START] + [OverlapAction.SKIP] * 3
    assert BATCH[0].nominal.isoformat() in (plan[1][1].reason or "")
    assert [d.action for _, d in plan_overlap(OverlapPolicy.SKIP, BUSY, BATCH)] == [
        OverlapAction.SKIP
    ] * 4


def test_a_batch_under_buffer_one_starts_one_buffers_one_skips_the_rest() -> None:
    plan = plan_overlap(OverlapPolicy.BUFFER_ONE, RunState(), BATCH)
    assert [d.action for _, d in plan] == [
        OverlapAction.START,
        OverlapAction.BUFFER,
        OverlapAction.SKIP,
        OverlapAction.SKIP,
    ]
    busy = plan_overlap(OverlapPolicy.BUFFER_ONE, BUSY, BATCH)
    assert [d.action for _, d in busy] == [OverlapAction.BUFFER] + [OverlapAction.SKIP] * 3


def test_a_batch_under_cancel_previous_starts_its_last_fire_only() -> None:
    plan = plan_overlap(OverlapPolicy.CANCEL_PREVIOUS, BUSY, BATCH)
    assert [d.action for _, d in plan] == [OverlapAction.SKIP] * 3 + [OverlapAction.CANCEL_PREVIOUS]
    assert plan[-1][1].cancel == ("tree-a",)
    assert all("superseded" in (d.reason or "") for _, d in plan[:3])
    idle = plan_overlap(OverlapPolicy.CANCEL_PREVIOUS, RunState(), BATCH)
    assert idle[-1][1] == OverlapDecision(OverlapAction.START)
    assert plan_overlap(OverlapPolicy.CANCEL_PREVIOUS, BUSY, []) == ()
