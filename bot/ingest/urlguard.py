"""No fetch the bot was not meant to make.

URLs that come from content (entry links whose article the bot fetches, URLs typed in Slack)
are untrusted: a hostile or compromised feed could point the bot at
``http://169.254.169.254/`` (a cloud's metadata service), ``http://localhost:8080/metrics``
or a host inside the operator's network. For those, only http and https are fetched, and
only from public addresses: every address a name resolves to is checked, at connection
time (the connection then goes to the address that was checked, so a name cannot resolve
to a public address for the check and a private one for the connection), and again for
every redirect hop. Feed URLs the operator configured are trusted and not checked (an
intranet feed is legitimate); ``fetch.allow_private_hosts`` lists exceptions for untrusted
URLs (host names, addresses or networks).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")


class Refused(Exception):
    """An untrusted URL the bot will not fetch; ``reason`` says why, fit to show a user."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return address_problem(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (cloud metadata services live there)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private-network or special-purpose address"),
    )
    for hit, what in checks:
        if hit:
            return what
    if not ip.is_global:  # shared (100.64/10), documentation, benchmarking ranges ...
        return "not a public address"
    return None


@dataclass(frozen=True)
class UrlPolicy:
    """Which hosts an untrusted URL may reach besides public ones."""

    allowed_names: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def from_list(cls, entries: Iterable[str]) -> UrlPolicy:
        names, networks = set(), []
        for entry in entries:
            entry = entry.strip().lower()
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def name_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_names

    def ip_problem(self, host: str, ip: IPAddress) -> str | None:
        if self.name_allowed(host) or any(ip in n for n in self.allowed_networks):
            return None
        problem = address_problem(ip)
        if problem is None:
            return None
        shown = host if host == str(ip) else f"{host} ({ip})"
        return f"{shown} is {problem}; fetch.allow_private_hosts in bot.yaml lists exceptions"

    def first_problem(self, host: str, addresses: Iterable[IPAddress]) -> str | None:
        """Every address must pass: the resolver's order (and an attacker's DNS) decides
        which one a connection would use."""
        for ip in addresses:
            problem = self.ip_problem(host, ip)
            if problem:
                return problem
        return None

    def check_url(self, url: str) -> None:
        """What can be said from the URL alone: its scheme, and an address written in it."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise Refused(url, f"{parts.scheme or 'no'} scheme: only http and https are fetched")
        host = parts.hostname or ""
        if not host:
            raise Refused(url, "no host in the URL")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return
        problem = self.ip_problem(host, ip)
        if problem:
            raise Refused(url, problem)


async def resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in seen:
            seen.append(ip)
    return seen


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy applied when a connection opens."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port, timeout)
        except (OSError, TimeoutError) as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
        problem = self.policy.first_problem(host, addresses)
        if problem:
            raise Refused(f"{host}:{port}", problem)
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise error or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Refused(path, "unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(
    policy: UrlPolicy, *, max_connections: int, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through :class:`GuardedBackend`. Direct
    connections only: through a proxy, the proxy would resolve the name, and the check at
    connection time would be a check of the proxy."""
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        trust_env=False,
    )
    # httpx builds its httpcore pool with the default network backend and offers no
    # parameter for another one: build the same pool with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(policy),
    )
    return transport


def refused_in(exc: BaseException) -> Refused | None:
    """The :class:`Refused` behind an exception httpx may have wrapped, if any."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, Refused):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None
