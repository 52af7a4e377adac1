"""Fetch feeds over HTTP with one shared ``httpx.AsyncClient``.

Politeness and safety: a global and a per-host concurrency limit, connect/read timeouts plus
an overall deadline per request (httpx's read timeout is per chunk, so a server trickling
bytes would never time out), a body size cap enforced while streaming, conditional GET,
and the server's Retry-After / Cache-Control max-age passed back to the poller.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
from collections import defaultdict
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bot import __version__
from bot.config import FetchSettings
from bot.errors import FetchError
from bot.ingest.decompress import DecodeError, Decoder
from bot.ingest.urlguard import Refused, UrlPolicy, guarded_transport
from bot.models import FetchResult

DEFAULT_USER_AGENT = (
    f"jp-techpolicy-bot/{__version__} (RSS/Atom digest bot for Slack; "
    "polite polling with conditional GET)"
)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate, br"
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)
_PERMANENT = (301, 308)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(value: str | None) -> float | None:
    if not value or "no-store" in value.lower():
        return None
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


def _moved_to(url: str, history: list[httpx.Response]) -> str | None:
    """The new address if the redirect chain *starts* with permanent redirects."""
    moved = None
    current = url
    for response in history:
        if response.status_code not in _PERMANENT:
            break
        location = response.headers.get("location")
        if not location:
            break
        current = urljoin(current, location)
        moved = current
    return moved


class Fetcher:
    """Async context manager owning the shared client and the concurrency limits."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.max_bytes = int(settings.max_body_mb * 1024 * 1024)
        self._transport = transport
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_concurrency)
        )
        self.policy = UrlPolicy.from_list(settings.allow_private_hosts)
        self._client: httpx.AsyncClient | None = None
        self._untrusted: httpx.AsyncClient | None = None

    def _new_client(self, **kwargs: Any) -> httpx.AsyncClient:
        s = self.settings
        return httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=s.connect_timeout, read=s.read_timeout, write=s.read_timeout, pool=None
            ),
            limits=httpx.Limits(
                max_connections=s.max_concurrency,
                max_keepalive_connections=s.max_concurrency,
            ),
            follow_redirects=True,
            max_redirects=10,
            headers={
                "user-agent": s.user_agent or DEFAULT_USER_AGENT,
                "accept": ACCEPT,
                # exactly what bot.ingest.decompress decodes (never zstd, which it does not know)
                "accept-encoding": ACCEPT_ENCODING,
            },
            **kwargs,
        )

    async def __aenter__(self) -> Fetcher:
        self._client = self._new_client(transport=self._transport)
        return self

    def _untrusted_client(self) -> httpx.AsyncClient:
        """The client for URLs taken from content, made on first use: every connection
        checked by the URL guard, every redirect hop's URL too."""
        if self._untrusted is None:

            async def check_hop(request: httpx.Request) -> None:
                self.policy.check_url(str(request.url))

            self._untrusted = self._new_client(
                transport=self._transport
                or guarded_transport(self.policy, max_connections=self.settings.max_concurrency),
                event_hooks={"request": [check_hop]},
            )
        return self._untrusted

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in (self._client, self._untrusted):
            if client is not None:
                await client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        now: datetime | None = None,
        trusted: bool = True,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url``. Returns an ``ok`` or ``not_modified`` result; raises FetchError.

        ``trusted``: the operator configured this URL. Otherwise it came from content and
        goes through the URL guard (bot.ingest.urlguard): a refusal is a FetchError of
        kind ``refused`` and nothing is requested."""
        assert self._client is not None, "use 'async with Fetcher(...)'"
        client = self._client
        if not trusted:
            try:
                self.policy.check_url(url)
            except Refused as e:
                raise FetchError(url, f"refused: {e.reason}", "refused") from e
            client = self._untrusted_client()
        headers = {}
        if accept:
            headers["accept"] = accept
        if etag:
            headers["if-none-match"] = etag
        if last_modified:
            headers["if-modified-since"] = last_modified
        host = (urlsplit(url).hostname or "").lower()
        loop = asyncio.get_running_loop()
        async with self._hosts[host], self._global:
            started = loop.time()
            try:
                async with asyncio.timeout(self.settings.deadline):
                    return await self._get(client, url, headers, now or datetime.now(UTC), started)
            except TimeoutError as e:
                raise FetchError(
                    url,
                    f"no complete response within the {self.settings.deadline:g}s deadline",
                    "timeout",
                ) from e
            except httpx.TimeoutException as e:
                phase, limit = {
                    httpx.ConnectTimeout: ("connecting", self.settings.connect_timeout),
                    httpx.ReadTimeout: ("waiting for data", self.settings.read_timeout),
                }.get(type(e), ("in transit", self.settings.read_timeout))
                raise FetchError(
                    url, f"timed out {phase} (no answer within {limit:g}s)", "timeout"
                ) from e
            except Refused as e:
                raise FetchError(url, f"refused: {e.reason}", "refused") from e
            except httpx.TooManyRedirects as e:
                raise FetchError(url, "too many redirects", "redirect") from e
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
                # A redirect to javascript:, file:, a malformed or hostile address: the
                # server's doing, not ours.
                raise FetchError(
                    url, f"redirected to an address the bot will not fetch: {e}", "redirect"
                ) from e
            except httpx.ConnectError as e:
                raise FetchError(url, f"cannot connect: {e}", "connect") from e
            except httpx.HTTPError as e:
                raise FetchError(url, f"{type(e).__name__}: {e}", "network") from e
            except DecodeError as e:
                raise FetchError(url, f"cannot decode the response: {e}", "decode") from e

    async def _get(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        now: datetime,
        started: float,
    ) -> FetchResult:
        loop = asyncio.get_running_loop()
        async with client.stream("GET", url, headers=headers) as response:
            moved = _moved_to(url, list(response.history))
            final_url = str(response.url)
            status = response.status_code
            if status == 304:
                # Before any status check: raise_for_status() would call 304 an error.
                return FetchResult(
                    url=url,
                    status="not_modified",
                    final_url=final_url,
                    http_status=304,
                    etag=response.headers.get("etag") or headers.get("if-none-match"),
                    last_modified=response.headers.get("last-modified")
                    or headers.get("if-modified-since"),
                    moved_to=moved,
                    max_age=parse_max_age(response.headers.get("cache-control")),
                    elapsed=loop.time() - started,
                )
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"), now)
                hint = f"; server asks to retry after {retry_after:g}s" if retry_after else ""
                raise FetchError(
                    url,
                    f"HTTP {status} {response.reason_phrase}{hint}",
                    "rate_limited" if status == 429 else "unavailable",
                    status=status,
                    retry_after=retry_after,
                )
            if status >= 400:
                raise FetchError(
                    url, f"HTTP {status} {response.reason_phrase}", "http", status=status
                )
            if status != 200:
                raise FetchError(url, f"unexpected HTTP {status}", "http", status=status)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(
                    url, self._too_large(f"{int(declared):,} bytes declared"), "too_large"
                )
            chunks: list[bytes] = []
            size = 0
            # Decoded here, a bounded step at a time, and counted after decompression: a
            # small brotli or gzip bomb must not fill memory (httpx's decoders inflate a
            # whole chunk at once).
            decoder = Decoder(response.headers.get("content-encoding"))
            async for raw in response.aiter_raw():
                for chunk in decoder.feed(raw):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(
                            url, self._too_large("more than that received"), "too_large"
                        )
                    chunks.append(chunk)
            for chunk in decoder.finish():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(url, self._too_large("more than that received"), "too_large")
                chunks.append(chunk)
            return FetchResult(
                url=url,
                status="ok",
                final_url=final_url,
                http_status=status,
                body=b"".join(chunks),
                headers={k.lower(): v for k, v in response.headers.items()},
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                moved_to=moved,
                max_age=parse_max_age(response.headers.get("cache-control")),
                elapsed=loop.time() - started,
            )

    def _too_large(self, detail: str) -> str:
        return (
            f"response larger than the {self.settings.max_body_mb:g} MB limit ({detail}); "
            "raise fetch.max_body_mb in bot.yaml if this feed is really that big"
        )
