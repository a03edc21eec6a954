"""``/metrics``: Prometheus text with tasks by status and executor, queue depth, durations,
retries and failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    async with api_server(sqlite_url) as server:
        yield server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_tasks_retries_failures_and_durations(api: ApiServer) -> None:
    ok = {"tasks": [{"key": "a", "executor": "noop"}, {"key": "b", "executor": "noop"}]}
    slow = {
        "tasks": [
            {"key": "s", "executor": "sleep", "inputs": {"seconds": 5}, "timeout": 0.1, "retry": 2}
        ]
    }
    ids = [(await api.call("POST", "/v1/trees", json=tree))[1]["id"] for tree in (ok, slow)]
    for tree_id in ids:
        await api.wait_status(tree_id, {"completed", "failed"})
    status, text, response = await api.call("GET", "/metrics", "admin")
    assert status == 200 and response.headers["Content-Type"].startswith("text/plain")
    found = samples(text)
    assert found[("taskflow_tasks", (("executor", "noop"), ("status", "completed")))] == 2
    assert found[("taskflow_tasks", (("executor", "sleep"), ("status", "failed")))] == 1
    assert found[("taskflow_trees", (("status", "failed"),))] == 1
    assert found[("taskflow_queue_depth", ())] == 0
    assert found[("taskflow_task_retries_total", ())] == 2  # retry: 2 → three attempts
    assert found[("taskflow_task_failures_total", (("error_type", "TaskTimeout"),))] == 1
    assert found[("taskflow_task_duration_seconds_count", (("status", "completed"),))] >= 2
    assert (await api.call("GET", "/metrics", "ann"))[0] == 403
    assert found.get(("taskflow_http_errors_total", (("status", "403"),)), 0) == 0
    _, again, _ = await api.call("GET", "/metrics", "admin")
    assert samples(again)[("taskflow_http_errors_total", (("status", "403"),))] == 1
