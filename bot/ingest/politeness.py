"""Politeness for article-page fetches: robots.txt per host (cached), a pace per host, and
a budget per poll cycle. Feeds are exempt: the operator chose them, and a feed exists to be
polled; article pages are requested because of what a feed says, so the site's rules apply.

robots.txt follows RFC 9309: a 4xx answer (no robots.txt) allows everything; a 5xx, a
timeout or a connection failure means the site is unreachable and allows nothing until the
next try; redirects are followed (the fetcher does, five hops at most); at most 500 KiB of
it is read.
"""

from __future__ import annotations

import asyncio
import time
import urllib.robotparser
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.errors import FetchError
from bot.ingest.fetch import Fetcher

#: the product token robots.txt groups are matched against (RFC 9309 §2.2.1)
ROBOTS_AGENT = "jp-techpolicy-bot"
ROBOTS_MAX_BYTES = 500 * 1024
Refusal = Literal["robots", "refused"]
#: an unreachable robots.txt is tried again after this long, not after the full TTL
ROBOTS_RETRY = 600.0


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None
    #: when nothing is allowed (robots.txt unreachable), why
    blocked: str | None
    expires: float
    #: the URL guard refused the host itself: the page would be refused too
    refused: bool = False


class RobotsCache:
    """robots.txt per scheme and host, read through the fetcher (URL guard included)."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._hosts: dict[str, _Robots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(self, fetcher: Fetcher, url: str) -> tuple[Refusal, str] | None:
        """None if robots.txt lets the bot fetch ``url``, else what stops it and why."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one robots.txt request per host, however many pages wait
            robots = self._hosts.get(origin)
            if robots is None or robots.expires <= self.clock():
                robots = self._hosts[origin] = await self._read(fetcher, origin)
        if robots.blocked:
            return ("refused" if robots.refused else "robots"), robots.blocked
        if robots.parser is not None and not robots.parser.can_fetch(ROBOTS_AGENT, url):
            return "robots", f"disallowed by {origin}/robots.txt"
        return None

    async def _read(self, fetcher: Fetcher, origin: str) -> _Robots:
        now = self.clock()
        try:
            result = await fetcher.fetch(f"{origin}/robots.txt", trusted=False, accept="text/plain")
        except FetchError as e:
            if e.status is not None and 400 <= e.status < 500 and e.status != 429:
                return _Robots(None, None, now + self.ttl)  # no robots.txt: all allowed
            if e.kind == "refused":  # the host's address (or a redirect's) is not public
                return _Robots(None, e.message, now + ROBOTS_RETRY, refused=True)
            return _Robots(
                None, f"{origin}/robots.txt unreachable ({e.message})", now + ROBOTS_RETRY
            )
        parser = urllib.robotparser.RobotFileParser()
        text = result.body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
        parser.parse(text.splitlines())
        return _Robots(parser, None, now + self.ttl)


class HostPace:
    """At most one article-page request at a time per host, ``interval`` seconds apart."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def turn(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            wait = self._last.get(host, -self.interval) + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last[host] = loop.time()


class Budget:
    """How many article pages this cycle may still fetch."""

    def __init__(self, pages: int) -> None:
        self.left = pages

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True
