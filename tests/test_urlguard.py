"""The URL guard: URLs taken from content reach public hosts over http(s) only, checked on
every resolved address at connection time and at every redirect hop; configured feeds are
trusted. Real servers on 127.0.0.1 and 127.0.0.2 (both loopback, so both forbidden unless
allowed); requests are counted at the servers."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from bot.config import FetchSettings
from bot.errors import FetchError
from bot.ingest.fetch import Fetcher
from bot.ingest.urlguard import Refused, UrlPolicy, address_problem
from tests.feedserver import FeedServer


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "link-local"),
        ("192.0.2.10", "special-purpose"),  # documentation range
    ],
)
def test_non_public_addresses_are_named(address, problem):
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and problem in found


@pytest.mark.parametrize("address", ["8.8.8.8", "133.242.0.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "file scheme"),
        ("gopher://example.com/1", "gopher scheme"),
        ("javascript:alert(1)", "javascript scheme"),
        ("ftp://example.com/x", "ftp scheme"),
        ("http:///nohost", "no host"),
        ("http://127.0.0.1:8080/metrics", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.5/admin", "private"),
    ],
)
def test_urls_refused_from_their_text(url, reason):
    with pytest.raises(Refused, match=reason):
        UrlPolicy().check_url(url)


def test_a_name_passes_the_text_check_and_is_checked_when_it_resolves():
    UrlPolicy().check_url("https://www.meti.go.jp/press/")  # nothing to say before resolving


def test_every_resolved_address_must_pass():
    policy = UrlPolicy()
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")
    assert policy.first_problem("mixed.example", [public]) is None
    problem = policy.first_problem("mixed.example", [public, private])
    assert problem is not None and "mixed.example (10.0.0.1)" in problem


def test_allow_list_takes_names_addresses_and_networks():
    policy = UrlPolicy.from_list(["intranet.example.", "127.0.0.2", "10.0.0.0/8"])
    loopback2, ten = ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("10.9.8.7")
    assert policy.ip_problem("x", loopback2) is None
    assert policy.ip_problem("x", ten) is None
    assert policy.ip_problem("INTRANET.example", ipaddress.ip_address("192.168.0.9")) is None
    problem = policy.ip_problem("x", ipaddress.ip_address("127.0.0.1"))
    assert problem is not None and "allow_private_hosts" in problem


def test_allow_private_hosts_is_validated(make_config):
    from bot.config import load_config
    from bot.errors import ConfigError

    config = make_config([], {"fetch": {"allow_private_hosts": ["10.0.0.0/33"]}})
    with pytest.raises(ConfigError, match="allow_private_hosts"):
        load_config(config)


# -- over real HTTP ---------------------------------------------------------------------------


@pytest.fixture
def servers():
    first, second = FeedServer("127.0.0.1").start(), FeedServer("127.0.0.2").start()
    yield first, second
    first.stop()
    second.stop()


def fetch(url: str, *, allow: list[str] | None = None, trusted: bool = False):
    async def go():
        async with Fetcher(FetchSettings(allow_private_hosts=allow or [])) as fetcher:
            return await fetcher.fetch(url, trusted=trusted)

    return asyncio.run(go())


def test_an_untrusted_link_to_loopback_is_refused_and_never_requested(servers):
    server, _ = servers
    url = server.route("/metrics", body=b"secret")
    with pytest.raises(FetchError) as e:
        fetch(url)
    assert e.value.kind == "refused" and "loopback" in str(e.value)
    assert server.requests == []
    # the same URL configured as a feed is trusted
    assert fetch(url, trusted=True).body == b"secret"
    # and an untrusted URL to an allowed host is fetched
    assert fetch(url, allow=["127.0.0.1"]).body == b"secret"


def test_a_name_that_resolves_to_loopback_is_refused_at_connection_time(servers):
    server, _ = servers
    server.route("/a", body=b"x")
    url = f"http://localhost:{server.port}/a"
    with pytest.raises(FetchError) as e:
        fetch(url)
    assert e.value.kind == "refused" and "localhost (127.0.0.1)" in str(e.value)
    assert server.requests == []
    assert fetch(url, allow=["localhost"]).body == b"x"  # allowed by name


def test_a_decimal_address_is_resolved_and_refused(servers):
    server, _ = servers
    server.route("/a", body=b"x")
    with pytest.raises(FetchError) as e:
        fetch(f"http://2130706433:{server.port}/a")  # 127.0.0.1 written as one number
    assert e.value.kind == "refused" and server.requests == []


def test_a_redirect_from_an_allowed_host_to_a_forbidden_one_is_refused(servers):
    forbidden, allowed = servers  # 127.0.0.1 is not allowed, 127.0.0.2 is
    target = forbidden.route("/internal", body=b"internal")
    url = allowed.route("/article", status=302, location=target)
    with pytest.raises(FetchError) as e:
        fetch(url, allow=["127.0.0.2"])
    assert e.value.kind == "refused" and "127.0.0.1" in str(e.value)
    assert len(allowed.requests) == 1 and forbidden.requests == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.2:70/1"])
def test_a_redirect_to_another_scheme_is_refused(servers, location):
    _, allowed = servers
    url = allowed.route("/article", status=302, location=location)
    with pytest.raises(FetchError) as e:
        fetch(url, allow=["127.0.0.2"])
    assert e.value.kind in ("refused", "redirect")
    assert len(allowed.requests) == 1


def test_untrusted_schemes_are_refused_before_any_request():
    for url in ("file:///etc/passwd", "gopher://example.com/"):
        with pytest.raises(FetchError) as e:
            fetch(url)
        assert e.value.kind == "refused"
