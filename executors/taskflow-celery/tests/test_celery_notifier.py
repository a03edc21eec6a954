"""Streams against real Redis: task_stream_notifier, report_progress, entries, the reader."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from celery.exceptions import Retry
from pydantic import BaseModel
from taskflow_celery import (
    STREAM_MAXLEN,
    StreamEntry,
    report_progress,
    stream_key,
    task_stream_notifier,
)

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens there


class Answer(BaseModel):
    value: int
    label: str


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
async def async_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def task_id() -> str:
    return f"notifier-test-{uuid.uuid4().hex}"


def entries(client: redis.Redis, task_id: str) -> list[StreamEntry]:
    return [StreamEntry.from_fields(fields) for _, fields in client.xrange(stream_key(task_id))]


def test_success_publishes_done_and_sets_the_ttl(client: redis.Redis, task_id: str) -> None:
    with task_stream_notifier(client, task_id, ttl=120):
        pass
    assert [e.status for e in entries(client, task_id)] == ["done"]
    assert entries(client, task_id)[0].has_result is False
    assert 100 < client.ttl(stream_key(task_id)) <= 120


def test_a_result_handed_to_the_notifier_travels_in_the_done_entry(
    client: redis.Redis, task_id: str
) -> None:
    with task_stream_notifier(client, task_id) as notifier:
        notifier.result = Answer(value=42, label="the answer")
    (done,) = entries(client, task_id)
    assert (done.status, done.has_result, done.result) == (
        "done",
        True,
        {"value": 42, "label": "the answer"},
    )


def test_a_raise_publishes_error_and_propagates(client: redis.Redis, task_id: str) -> None:
    with pytest.raises(KeyError, match="missing"), task_stream_notifier(client, task_id):
        raise KeyError("missing")
    (error,) = entries(client, task_id)
    assert (error.status, error.error_type, error.error) == ("error", "KeyError", "'missing'")
    assert error.traceback is not None
    assert "KeyError: 'missing'" in error.traceback
    assert client.ttl(stream_key(task_id)) > 0


def test_celery_retry_is_not_final(client: redis.Redis, task_id: str) -> None:
    with pytest.raises(Retry), task_stream_notifier(client, task_id):
        raise Retry("try again in 5 s")
    (entry,) = entries(client, task_id)
    assert (entry.status, entry.is_final) == ("retry", False)


def test_a_result_that_is_not_json_is_left_to_the_result_backend(
    client: redis.Redis, task_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    with task_stream_notifier(client, task_id) as notifier:
        notifier.result = {"when": object()}
    (done,) = entries(client, task_id)
    assert (done.status, done.has_result) == ("done", False)
    assert "not JSON data" in caplog.text


def test_progress_entries_and_the_stream_cap(client: redis.Redis, task_id: str) -> None:
    report_progress(client, task_id, 0.5, "half way")
    report_progress(client, task_id, None, "just a message")
    first, second = entries(client, task_id)
    assert (first.status, first.fraction, first.message) == ("progress", 0.5, "half way")
    assert (second.fraction, second.message) == (None, "just a message")
    for step in range(3 * STREAM_MAXLEN):
        report_progress(client, task_id, step / (3 * STREAM_MAXLEN))
    assert client.xlen(stream_key(task_id)) < 2 * STREAM_MAXLEN  # MAXLEN ~ 1000


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), "half"])
def test_a_fraction_outside_0_to_1_is_refused(
    client: redis.Redis, task_id: str, fraction: Any
) -> None:
    with pytest.raises(ValueError, match=r"fraction must be between 0\.0 and 1\.0"):
        report_progress(client, task_id, fraction)


async def test_the_async_client_works_with_async_with_and_await(
    async_client: redis.asyncio.Redis, client: redis.Redis, task_id: str
) -> None:
    async with task_stream_notifier(async_client, task_id) as notifier:
        await report_progress(async_client, task_id, 0.25, "a quarter")
        await notifier.progress(0.75)
        notifier.result = [1, 2, 3]
    statuses = [(e.status, e.fraction, e.result) for e in entries(client, task_id)]
    assert statuses == [
        ("progress", 0.25, None),
        ("progress", 0.75, None),
        ("done", None, [1, 2, 3]),
    ]
    with pytest.raises(ZeroDivisionError):
        async with task_stream_notifier(async_client, task_id):
            _ = 1 / 0
    assert entries(client, task_id)[-1].error_type == "ZeroDivisionError"


async def test_a_client_of_the_wrong_kind_is_refused_with_the_fix(
    async_client: redis.asyncio.Redis, client: redis.Redis, task_id: str
) -> None:
    with pytest.raises(TypeError, match="use 'async with task_stream_notifier"):  # noqa: SIM117
        with task_stream_notifier(async_client, task_id):
            pass
    with pytest.raises(TypeError, match=r"with a redis\.Redis client, use 'with'"):
        async with task_stream_notifier(client, task_id):
            pass


def test_an_unreachable_redis_never_changes_the_tasks_outcome(
    task_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = redis.Redis.from_url(CLOSED_PORT_URL, socket_connect_timeout=1)
    caplog.set_level(logging.WARNING, "taskflow_celery.notifier")
    with task_stream_notifier(unreachable, task_id) as notifier:
        report_progress(unreachable, task_id, 0.5)
        notifier.result = 1
    with (
        pytest.raises(RuntimeError, match="the task's own error"),
        task_stream_notifier(unreachable, task_id),
    ):
        raise RuntimeError("the task's own error")
    assert caplog.text.count(f"for Celery task {task_id}") == 3


@pytest.mark.parametrize(
    ("task_id", "ttl", "message"),
    [("", 60, "task_id must be a non-empty string"), ("t", 0, "ttl must be a whole number")],
)
def test_bad_arguments_are_refused(
    client: redis.Redis, task_id: str, ttl: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        task_stream_notifier(client, task_id, ttl=ttl)


def test_entries_from_other_producers_are_read_leniently() -> None:
    entry = StreamEntry.from_fields(
        {b"status": b"done", b"result": b"not json", b"progress": b"2", b"extra": b"x"}
    )
    assert (entry.status, entry.has_result, entry.fraction) == ("done", False, None)
    fields = StreamEntry.done(has_result=True, result={"a": [1]}).to_fields()
    assert fields == {"status": "done", "result": json.dumps({"a": [1]})}


def test_the_stream_client_waits_longer_than_the_longest_block(redis_url: str) -> None:
    from taskflow_celery.client import open_redis
    from taskflow_celery.waiting import MAX_BLOCK_SECONDS

    client = open_redis(redis_url)  # redis-py's own default (5 s) would cut 5 s blocks off
    assert client.connection_pool.connection_kwargs["socket_timeout"] >= MAX_BLOCK_SECONDS + 5
