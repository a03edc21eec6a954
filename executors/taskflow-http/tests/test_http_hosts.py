"""allow_hosts, deny_hosts and private addresses: checked for the URL, every redirect, and every
address a name resolves to. Real servers on 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from aiohttp.abc import AbstractResolver
from http_server_app import Server
from taskflow_http import HostNotAllowed, HttpRequest, HttpSettings, use_settings
from taskflow_http.hosts import HostPolicy, is_public, socket_factory

from taskflow import ConfigurationError, DefinitionError, Task, TaskStatus
from taskflow.executors import use_trust
from taskflow.testing import run_executor

S = TaskStatus
VARIABLES = (
    "TASKFLOW_TRUST",
    "TASKFLOW_HTTP_ALLOW_HOSTS",
    "TASKFLOW_HTTP_DENY_HOSTS",
    "TASKFLOW_HTTP_DENY_PRIVATE",
)


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    use_trust(None)
    use_settings(None)
    yield
    use_trust(None)
    use_settings(None)


async def request(inputs: dict[str, Any], executor: type[HttpRequest] = HttpRequest) -> Task:
    return await run_executor(executor, inputs)


def redirecting_to(server: Server, target: str) -> str:
    return str(server.server.make_url("/redirect-to").with_query(url=target))


def assert_refused(task: Task, *parts: str) -> None:
    assert (task.status, task.error_type) == (S.FAILED, "HostNotAllowed"), task.error
    for part in parts:
        assert part in (task.error or ""), task.error


# -- redirects -------------------------------------------------------------------------------


async def test_a_redirect_to_another_loopback_address_is_refused_under_the_server_profile(
    http_server: Server, other_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "127.0.0.1")  # the allowed server
    internal = other_server.url("/internal")
    task = await request({"url": redirecting_to(http_server, internal)})
    assert_refused(
        task,
        f"refused to follow the redirect to {internal}",
        "127.0.0.2 is a private, loopback or link-local address (deny_private",
    )
    assert other_server.state.hits["internal"] == 0  # nothing was sent to it
    assert "internal secret" not in str(task.result)


async def test_deny_hosts_refuses_a_redirect_under_the_local_profile(
    http_server: Server, other_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_HTTP_DENY_HOSTS", "127.0.0.2/32")
    task = await request({"url": redirecting_to(http_server, other_server.url("/internal"))})
    assert_refused(task, "127.0.0.2 is in deny_hosts (127.0.0.2/32)")
    assert other_server.state.hits["internal"] == 0


async def test_the_local_profile_follows_it_by_default(
    http_server: Server, other_server: Server
) -> None:
    task = await request({"url": redirecting_to(http_server, other_server.url("/internal"))})
    assert task.result is not None
    assert task.result["text"] == "internal secret"  # the demo's 127.0.0.1 keeps working


# -- the URL, before anything is sent --------------------------------------------------------


async def test_the_server_profile_refuses_loopback_urls_at_validation(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    for url in (
        http_server.url("/json"),
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ):
        with pytest.raises(DefinitionError, match=r"inputs\.url: .* is a private, loopback"):
            await request({"url": url})
    assert http_server.state.hits == {}


async def test_deny_and_allow_by_name(http_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKFLOW_HTTP_DENY_HOSTS", "*.internal.example, metadata.google.internal")
    for url in ("http://db.internal.example/", "http://METADATA.google.internal./x"):
        with pytest.raises(DefinitionError, match="matches deny_hosts"):
            await request({"url": url})
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "api.example.org, *.example.net")
    with pytest.raises(DefinitionError, match=r"127\.0\.0\.1 is not in allow_hosts"):
        await request({"url": http_server.url("/json")})
    with pytest.raises(DefinitionError, match=r"example\.com is not in allow_hosts"):
        await request({"url": "https://example.com/"})


# -- after DNS resolution --------------------------------------------------------------------


async def test_a_name_is_checked_after_it_is_resolved(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_HTTP_DENY_HOSTS", "127.0.0.0/8, ::1")
    port = http_server.server.port
    task = await request({"url": f"http://localhost:{port}/json"})  # the name is not denied
    assert_refused(task, "localhost (", "is in deny_hosts (127.0.0.0/8, ::1)")
    assert http_server.state.hits == {}


async def test_a_name_allowed_by_name_still_may_not_resolve_to_a_private_address(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "localhost")
    url = f"http://localhost:{http_server.server.port}/json"
    assert_refused(await request({"url": url}), "is a private, loopback or link-local address")
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "127.0.0.0/8, ::1")  # a range: allowed
    task = await request({"url": url})
    assert task.result is not None
    assert task.result["json"] == {"hello": "world", "n": [1, 2]}


async def test_a_redirect_to_a_name_that_resolves_to_a_denied_address(
    http_server: Server, other_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "127.0.0.2")
    target = f"http://localhost:{http_server.server.port}/json"
    task = await request({"url": redirecting_to(other_server, target)})
    assert_refused(task, "localhost (", "private, loopback or link-local")
    assert http_server.state.hits == {}


class RebindingResolver(AbstractResolver):
    """DNS for rebind.test, which answers an allowed address first, then a denied one."""

    answers: ClassVar[list[list[str]]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        assert host == "rebind.test"
        addresses = type(self).answers.pop(0)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


class RebindingRequest(HttpRequest):
    resolver = RebindingResolver


async def test_the_addresses_checked_are_the_ones_connected_to(
    http_server: Server, other_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A DNS server that rebinds cannot run here: the resolver stands in for it.
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    monkeypatch.setenv("TASKFLOW_HTTP_ALLOW_HOSTS", "127.0.0.1")
    RebindingResolver.answers = [["127.0.0.1"], ["127.0.0.2"], ["127.0.0.1", "127.0.0.2"]]
    port = other_server.server.port
    http_port = http_server.server.port
    task = await request({"url": f"http://rebind.test:{http_port}/json"}, RebindingRequest)
    assert task.status is S.COMPLETED  # the allowed answer: connected to 127.0.0.1
    for _ in range(2):  # a denied answer, then a mixed one: refused whole
        task = await request({"url": f"http://rebind.test:{port}/internal"}, RebindingRequest)
        assert_refused(task, "rebind.test (127.0.0.2) is a private")
    assert other_server.state.hits["internal"] == 0


# -- settings --------------------------------------------------------------------------------


async def test_python_settings_win_over_the_environment(
    http_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    use_settings(HttpSettings(allow_hosts=("127.0.0.1",), deny_private=True))
    task = await request({"url": http_server.url("/json")})
    assert task.status is S.COMPLETED
    monkeypatch.setenv("TASKFLOW_HTTP_DENY_PRIVATE", "0")
    use_settings(None)
    assert (await request({"url": http_server.url("/json")})).status is S.COMPLETED


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASKFLOW_HTTP_DENY_HOSTS", "http://x/", "deny_hosts: 'http://x/' is not a host name"),
        ("TASKFLOW_HTTP_ALLOW_HOSTS", "a*b.org", "allow_hosts: 'a\\*b.org' is not a host name"),
        ("TASKFLOW_HTTP_DENY_PRIVATE", "maybe", "TASKFLOW_HTTP_DENY_PRIVATE: 'maybe' is not a"),
    ],
)
async def test_malformed_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        await request({"url": "http://example.org/"})


def test_safety_settings_per_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = {setting.name: setting.to_dict() for setting in HttpRequest().safety()}
    assert (declared["deny_private"]["local"], declared["deny_private"]["server"]) == (False, True)
    assert declared["deny_private"]["env"] == "TASKFLOW_HTTP_DENY_PRIVATE"
    assert declared["allow_hosts"]["current"] == []
    monkeypatch.setenv("TASKFLOW_HTTP_DENY_HOSTS", "10.0.0.0/8")
    monkeypatch.setenv("TASKFLOW_TRUST", "server")
    current = {setting.name: setting.current for setting in HttpRequest().safety()}
    assert (current["deny_hosts"], current["deny_private"]) == (["10.0.0.0/8"], True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.2", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 for 127.0.0.1
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_socket_factory_refuses_denied_addresses() -> None:
    create = socket_factory(HostPolicy(HttpSettings(deny_private=True)))
    with pytest.raises(HostNotAllowed, match=r"127\.0\.0\.1 is a private"):
        create((socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", 80)))
    with create((socket.AF_INET, socket.SOCK_STREAM, 0, "", ("8.8.8.8", 80))) as made:
        assert made.family == socket.AF_INET
