"""Which hosts ``http.request`` may reach: allow and deny lists, private ranges, after DNS.

A rule is a host name (``api.example.org``), a wildcard (``*.example.org``: its subdomains),
an IP address or a CIDR range (``10.0.0.0/8``, ``::1``). A request is checked three times:

1. Its URL, before it is sent, and the URL of every redirect before it is followed: a name
   that a ``deny_hosts`` rule matches, or that ``allow_hosts`` (when set) does not, is
   refused; an IP address is checked as below.
2. Every address its host name resolves to, by the resolver of the session's connector:
   all of them must pass, and the connection is then made to those same addresses, so a
   DNS answer that changes between a check and the connection (rebinding) changes nothing.
3. Every address a socket is about to connect to (aiohttp 3.12 and later): denied ranges and
   private ranges again, whatever led there.

An address passes unless it is in a ``deny_hosts`` range; an address in an ``allow_hosts``
range passes; with ``deny_private``, a private, loopback, link-local, shared, unspecified,
reserved or multicast address is refused; with ``allow_hosts`` set, the host must be in it
(by name, or by range).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from taskflow import ConfigurationError
from taskflow.executors import TrustProfile, trust_settings
from taskflow.executors.trust import env_flag, env_patterns
from taskflow_http.errors import HostNotAllowed

ALLOW_HOSTS_VARIABLE = "TASKFLOW_HTTP_ALLOW_HOSTS"
DENY_HOSTS_VARIABLE = "TASKFLOW_HTTP_DENY_HOSTS"
DENY_PRIVATE_VARIABLE = "TASKFLOW_HTTP_DENY_PRIVATE"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """The hosts ``http.request`` may reach.

    Attributes:
        allow_hosts: Rules a host must match (empty: any host that is not denied).
        deny_hosts: Rules a host must not match (they win over ``allow_hosts``).
        deny_private: Refuse private, loopback, link-local and other non-public addresses
            (unless an ``allow_hosts`` range names them).
    """

    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    deny_private: bool = False

    @classmethod
    def from_environment(
        cls,
        profile: TrustProfile | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> HttpSettings:
        """``$TASKFLOW_HTTP_ALLOW_HOSTS``, ``$TASKFLOW_HTTP_DENY_HOSTS`` (comma-separated) and
        ``$TASKFLOW_HTTP_DENY_PRIVATE`` (``1``/``0``); ``deny_private`` defaults to true under
        the ``server`` profile, false under ``local``.

        Raises:
            ConfigurationError: a variable holds a value that means nothing.
        """
        chosen = profile if profile is not None else trust_settings().profile
        return cls(
            allow_hosts=env_patterns(ALLOW_HOSTS_VARIABLE, environ=environ) or (),
            deny_hosts=env_patterns(DENY_HOSTS_VARIABLE, environ=environ) or (),
            deny_private=env_flag(
                DENY_PRIVATE_VARIABLE, chosen is TrustProfile.SERVER, environ=environ
            ),
        )


@dataclasses.dataclass(slots=True)
class _Chosen:
    settings: HttpSettings | None = None


_CHOSEN = _Chosen()


def use_settings(settings: HttpSettings | None) -> None:
    """Set the process-wide ``http.request`` settings (``None``: read the environment again)."""
    _CHOSEN.settings = settings


def current_settings() -> HttpSettings:
    """The settings in force: those of `use_settings`, else the environment's and profile's."""
    chosen = _CHOSEN.settings
    return chosen if chosen is not None else HttpSettings.from_environment()


@dataclasses.dataclass(frozen=True, slots=True)
class _Rules:
    names: tuple[str, ...]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, rules: Sequence[str], setting: str) -> _Rules:
        names: list[str] = []
        networks: list[Network] = []
        for rule in rules:
            try:
                networks.append(ipaddress.ip_network(rule, strict=False))
                continue
            except ValueError:
                pass
            name = rule.strip().lower().rstrip(".")
            if not name or any(c in name for c in "/:@ ") or "*" in name.lstrip("*."):
                raise ConfigurationError(
                    f"{setting}: {rule!r} is not a host name, '*.domain', an IP address or a "
                    "CIDR range"
                )
            names.append(name)
        return cls(tuple(names), tuple(networks))

    def has_name(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.names)

    def has_address(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


class HostPolicy:
    """`HttpSettings`, compiled: says why a host or an address is refused (``None``: it is not).

    Raises:
        ConfigurationError: a rule is malformed.
    """

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._allow = _Rules.parse(settings.allow_hosts, "allow_hosts")
        self._deny = _Rules.parse(settings.deny_hosts, "deny_hosts")

    def refuses_host(self, host: str) -> str | None:
        """Why ``host`` (a name or an IP address, from a URL) is refused, before any lookup."""
        address = parse_address(host)
        if address is not None:
            return self.refuses_address(host, address)
        name = host.lower().rstrip(".")
        if self._deny.has_name(name):
            return f"{host} matches deny_hosts ({_listed(self.settings.deny_hosts)})"
        allow = self._allow
        if allow.names and not allow.networks and not allow.has_name(name):
            return f"{host} is not in allow_hosts ({_listed(self.settings.allow_hosts)})"
        return None

    def refuses_address(self, host: str, address: Address) -> str | None:
        """Why connecting to ``address`` (for ``host``) is refused."""
        shown = address if host == str(address) else f"{host} ({address})"
        if self._deny.has_address(address):
            return f"{shown} is in deny_hosts ({_listed(self.settings.deny_hosts)})"
        if self._allow.has_address(address):
            return None
        if self.settings.deny_private and not is_public(address):
            return (
                f"{shown} is a private, loopback or link-local address "
                f"(deny_private, ${DENY_PRIVATE_VARIABLE})"
            )
        if self.settings.allow_hosts and not self._allow.has_name(host.lower().rstrip(".")):
            return f"{shown} is not in allow_hosts ({_listed(self.settings.allow_hosts)})"
        return None

    def refuses_socket(self, address: Address) -> str | None:
        """Why a socket may not connect to ``address``, knowing the address only."""
        if self._deny.has_address(address):
            return f"{address} is in deny_hosts ({_listed(self.settings.deny_hosts)})"
        private = self.settings.deny_private and not is_public(address)
        if private and not self._allow.has_address(address):
            return f"{address} is a private, loopback or link-local address (deny_private)"
        return None


def parse_address(host: str) -> Address | None:
    """``host`` as an IP address (``[::1]`` brackets allowed), or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_public(address: Address) -> bool:
    """Whether ``address`` is a public unicast address (IPv4 inside IPv6 is unwrapped)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is not None:
            return is_public(inner)
        if address.teredo is not None:
            return is_public(address.teredo[1])
    return address.is_global and not address.is_multicast


def _listed(rules: Sequence[str]) -> str:
    return ", ".join(rules) or "none"


class CheckingResolver(AbstractResolver):
    """Resolves with ``inner``, then refuses the host unless every address passes the policy.

    The connector connects to the addresses returned here, and only to them.
    """

    def __init__(self, policy: HostPolicy, inner: AbstractResolver) -> None:
        self._policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        """The addresses of ``host``, all of them allowed.

        Raises:
            HostNotAllowed: one of them is refused.
        """
        found = await self._inner.resolve(host, port, family)
        for result in found:
            address = parse_address(str(result["host"]).split("%", 1)[0])
            reason = (
                f"{host} resolves to {result['host']!r}, not an IP address"
                if address is None
                else self._policy.refuses_address(host, address)
            )
            if reason is not None:
                raise HostNotAllowed(f"{host}: {reason}", host=host)
        return list(found)

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()


def socket_factory(policy: HostPolicy) -> Callable[[Any], socket.socket]:
    """A socket factory for aiohttp's connector that refuses denied addresses."""

    def create(addr_info: Any) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = parse_address(str(sockaddr[0]).split("%", 1)[0])
        reason = policy.refuses_socket(address) if address is not None else None
        if reason is not None:
            raise HostNotAllowed(f"connecting to {reason}", host=str(address))
        return socket.socket(family, kind, proto)

    return create


def redirect_check(policy: HostPolicy) -> aiohttp.TraceConfig:
    """A trace config that refuses a redirect to a host the policy refuses, before it is
    followed."""

    async def on_redirect(
        session: aiohttp.ClientSession,
        context: Any,
        params: aiohttp.TraceRequestRedirectParams,
    ) -> None:
        location = params.response.headers.get("Location") or params.response.headers.get("URI")
        if location is None:
            return
        try:
            target = params.response.url.join(URL(location))
        except ValueError:
            return  # aiohttp refuses it itself
        reason = policy.refuses_host(target.host) if target.host else None
        if reason is not None:
            raise HostNotAllowed(
                f"refused to follow the redirect to {target}: {reason}", host=target.host or ""
            )

    config = aiohttp.TraceConfig()
    config.on_request_redirect.append(on_redirect)
    return config


def new_session(policy: HostPolicy, resolver: AbstractResolver) -> aiohttp.ClientSession:
    """A session whose every redirect, DNS answer and connection goes through ``policy``.

    Args:
        policy: What may be reached.
        resolver: How host names are resolved (the answers are checked, then used).
    """
    options: dict[str, Any] = {"resolver": CheckingResolver(policy, resolver)}
    if _SOCKET_FACTORY:
        options["socket_factory"] = socket_factory(policy)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(**options), trace_configs=[redirect_check(policy)]
    )


_SOCKET_FACTORY = "socket_factory" in inspect.signature(aiohttp.TCPConnector).parameters
