"""http.request against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from http_server_app import Server
from taskflow_http import HttpRequest

from taskflow import DefinitionError, Task, TaskManager, TaskStatus
from taskflow.testing import check_executor, run_executor

S = TaskStatus


async def request(inputs: dict[str, Any], **options: Any) -> Task:
    return await run_executor(HttpRequest, inputs, **options)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


async def test_contract(http_server: Server) -> None:
    examples = [
        {"url": http_server.url("/json"), "query": {"page": 2}},
        {"method": "POST", "url": http_server.url("/echo"), "json": {"name": "widget"}},
        {"url": http_server.url("/text"), "response_type": "text", "retries": 3},
    ]
    await check_executor(
        HttpRequest, examples=examples, cancel_inputs={"url": http_server.url("/slow")}
    )


async def test_get_json(http_server: Server) -> None:
    task = await request({"url": http_server.url("/json")})
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert task.result["json"] == {"hello": "world", "n": [1, 2]}
    assert (task.result["status_code"], task.result["reason"]) == (200, "OK")
    assert task.result["headers"]["Content-Type"].startswith("application/json")
    assert (task.result["attempts"], task.result["redirects"]) == (1, [])


async def test_method_headers_query_and_json_body_are_sent(http_server: Server) -> None:
    task = await request(
        {
            "method": "PUT",
            "url": http_server.url("/echo?a=1"),
            "headers": {"X-Token": "secret"},
            "query": {"b": "two", "c": 3},
            "json": [1, {"x": None}],
        }
    )
    assert task.result is not None
    seen = task.result["json"]
    assert (seen["method"], seen["query"]) == ("PUT", {"a": "1", "b": "two", "c": "3"})
    assert (seen["headers"]["x-token"], seen["json"]) == ("secret", [1, {"x": None}])


async def test_a_raw_body(http_server: Server) -> None:
    task = await request(
        {
            "method": "POST",
            "url": http_server.url("/echo"),
            "body": "a,b\n1,2\n",
            "headers": {"Content-Type": "text/csv"},
        }
    )
    assert task.result is not None
    assert task.result["json"]["body"] == "a,b\n1,2\n"
    assert task.result["json"]["headers"]["content-type"] == "text/csv"


async def test_json_and_body_together_are_refused(http_server: Server) -> None:
    task = await request({"url": http_server.url("/echo"), "json": {}, "body": "x"})
    assert (task.status, task.error_type) == (S.FAILED, "HttpRequestError")
    assert task.error == "inputs: give json or body, not both"


async def test_text_is_decoded_with_the_declared_charset(http_server: Server) -> None:
    task = await request({"url": http_server.url("/latin1")})
    assert task.result is not None
    assert task.result["text"] == "café"
    assert "json" not in task.result


async def test_a_body_that_is_not_the_json_it_claims(http_server: Server) -> None:
    task = await request({"url": http_server.url("/not-json")})
    assert (task.status, task.error_type) == (S.FAILED, "ResponseDecodeError")
    assert "the response body is not valid JSON" in (task.error or "")
    task = await request({"url": http_server.url("/not-json"), "response_type": "text"})
    assert task.result is not None
    assert task.result["text"] == "{oops"


async def test_an_error_status_fails_the_task(http_server: Server) -> None:
    url = http_server.url("/status/404")
    task = await request({"url": url})
    assert (task.status, task.error_type) == (S.FAILED, "HttpStatusError")
    assert task.error == f"GET {url} answered 404 Not Found: status 404 body"


async def test_raise_for_status_off_returns_the_error_response(http_server: Server) -> None:
    task = await request({"url": http_server.url("/status/404"), "raise_for_status": False})
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert (task.result["status_code"], task.result["text"]) == (404, "status 404 body")


async def test_retryable_statuses_are_retried_with_backoff(http_server: Server) -> None:
    inputs = {"url": http_server.url("/flaky/2"), "retries": 2, "retry_backoff": 0.1}
    started = asyncio.get_running_loop().time()
    task = await request(inputs)
    assert asyncio.get_running_loop().time() - started >= 0.3  # 0.1 s, then 0.2 s
    assert task.result is not None
    assert (task.result["status_code"], task.result["attempts"]) == (200, 3)


async def test_when_retries_run_out_the_last_status_counts(http_server: Server) -> None:
    task = await request({"url": http_server.url("/flaky/5"), "retries": 1, "retry_backoff": 0})
    assert (task.status, task.error_type) == (S.FAILED, "HttpStatusError")
    assert http_server.state.hits["flaky"] == 2


async def test_no_retries_by_default(http_server: Server) -> None:
    task = await request({"url": http_server.url("/flaky/1")})
    assert (task.status, task.error_type) == (S.FAILED, "HttpStatusError")
    assert http_server.state.hits["flaky"] == 1


async def test_a_dropped_connection_is_retried(http_server: Server) -> None:
    # A POST: aiohttp itself retries idempotent requests once on a dropped connection.
    inputs = {"method": "POST", "url": http_server.url("/drop/1"), "retries": 1, "retry_backoff": 0}
    task = await request(inputs)
    assert task.status is S.COMPLETED
    assert task.result is not None
    assert (task.result["json"], task.result["attempts"]) == ({"hits": 2}, 2)


async def test_a_refused_connection_fails_after_the_retries() -> None:
    task = await request({"url": closed_port_url(), "retries": 2, "retry_backoff": 0.01})
    assert (task.status, task.error_type) == (S.FAILED, "HttpRequestError")
    assert "(after 3 attempt(s))" in (task.error or "")


async def test_redirects_are_followed_up_to_the_limit(http_server: Server) -> None:
    task = await request({"url": http_server.url("/redirect/3")})
    assert task.result is not None
    assert task.result["json"] == {"arrived": True}
    assert task.result["url"] == http_server.url("/redirect/0")
    assert len(task.result["redirects"]) == 3
    task = await request({"url": http_server.url("/redirect/3"), "max_redirects": 2})
    assert (task.status, task.error_type) == (S.FAILED, "HttpRequestError")
    assert "more redirects than max_redirects" in (task.error or "")


async def test_redirects_can_be_left_alone(http_server: Server) -> None:
    task = await request({"url": http_server.url("/redirect/1"), "follow_redirects": False})
    assert task.result is not None
    assert (task.result["status_code"], task.result["headers"]["Location"]) == (
        302,
        "/redirect/0",
    )


async def test_a_redirect_to_another_scheme_is_refused(http_server: Server) -> None:
    task = await request({"url": http_server.url("/to-file")})
    assert (task.status, task.error_type) == (S.FAILED, "HttpRequestError")
    assert "refused to follow a redirect to a non-http(s) URL" in (task.error or "")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x"])
async def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(DefinitionError, match=r"inputs\.url"):
        await request({"url": url})


async def test_a_url_without_a_host_is_refused() -> None:
    task = await request({"url": "http:///etc/passwd"})
    assert (task.status, task.error_type) == (S.FAILED, "HttpRequestError")
    assert (task.error or "").startswith("inputs.url: only http:// and https:// URLs with a host")


async def test_a_declared_length_over_the_limit_is_refused_unread(http_server: Server) -> None:
    task = await request({"url": http_server.url("/big"), "max_response_bytes": 1000})
    assert (task.status, task.error_type) == (S.FAILED, "ResponseTooLarge")
    assert "declares 100000 bytes, over max_response_bytes (1000)" in (task.error or "")


async def test_reading_stops_past_the_limit(http_server: Server) -> None:
    started = asyncio.get_running_loop().time()
    task = await request({"url": http_server.url("/endless"), "max_response_bytes": 10_000})
    assert asyncio.get_running_loop().time() - started < 5  # not 200 MB later
    assert (task.status, task.error_type) == (S.FAILED, "ResponseTooLarge")
    assert "over max_response_bytes (10000); stopped reading" in (task.error or "")


async def test_an_attempt_that_takes_too_long_times_out(http_server: Server) -> None:
    started = asyncio.get_running_loop().time()
    task = await request({"url": http_server.url("/slow"), "timeout": 0.3})
    assert asyncio.get_running_loop().time() - started < 5
    assert (task.status, task.error_type) == (S.FAILED, "HttpTimeout")
    assert "no complete response within 0.3 s" in (task.error or "")


async def test_cancel_aborts_the_request(http_server: Server, task_manager: TaskManager) -> None:
    tree = await task_manager.create_tree(
        {"key": "wait", "executor": "http.request", "inputs": {"url": http_server.url("/slow")}}
    )
    tree_id = await task_manager.start(tree)
    await asyncio.wait_for(http_server.state.slow_started.wait(), 5)
    await task_manager.cancel(tree_id, "no longer needed")
    final = (await asyncio.wait_for(task_manager.wait(tree_id), 5)).task
    assert (final.status, final.error) == (S.CANCELLED, "no longer needed")
    assert final.result == {"cancelled": True, "method": "GET", "url": http_server.url("/slow")}
    await asyncio.wait_for(http_server.state.aborted.wait(), 5)  # the server saw it go
