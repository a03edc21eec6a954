"""What distributed backends need of the engine: a worker lost (``WorkerLost``) goes to the
retry policy, except for an executor not safe to re-run (``NotRerunSafe``); each attempt names
its queue."""

from __future__ import annotations

from conftest import Make, S, scripted, work  # type: ignore[import-not-found]
from taskflow.backends.scripted import DONE
from taskflow.executors import Outcome

LOST = Outcome(S.FAILED, error="no heartbeat for 10.2 s", error_type="WorkerLost")


async def test_a_lost_attempt_goes_to_the_retry_policy(make_engine: Make) -> None:
    engine = make_engine({"a": [LOST, DONE]})
    tree = await engine.run_tree({"key": "root", "children": [work("a", retry=2)]})
    node = next(n for n in tree.walk() if n.task.key == "a")
    assert node.task.status is S.COMPLETED
    assert [a.error_type for a in node.task.attempts] == ["WorkerLost", None]
    assert len(scripted(engine).submitted) == 2


async def test_a_lost_attempt_of_an_executor_not_safe_to_rerun_fails(make_engine: Make) -> None:
    engine = make_engine({"a": [LOST, DONE]})
    child = {**work("a", retry=2), "executor": "once"}
    tree = await engine.run_tree({"key": "root", "children": [child]})
    node = next(n for n in tree.walk() if n.task.key == "a")
    assert node.task.status is S.FAILED
    assert node.task.error_type == "NotRerunSafe"
    assert "not safe to re-run" in (node.task.error or "")
    assert len(scripted(engine).submitted) == 1


async def test_the_queue_of_an_attempt(make_engine: Make) -> None:
    engine = make_engine()
    children = [
        work("plain"),
        work("by_executor", executor="queued"),
        work("own", executor="queued", queue="gpu"),
    ]
    await engine.run_tree({"key": "root", "children": children})
    queues = {a.key: a.queue for a in scripted(engine).submitted}
    assert queues == {"plain": None, "by_executor": "io", "own": "gpu"}
