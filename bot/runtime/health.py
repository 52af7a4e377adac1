"""Health and metrics over HTTP: ``/healthz`` (JSON; 200 or 503) and ``/metrics``
(Prometheus text format, by prometheus_client). The server is asyncio's, on the
scheduler's loop, so a probe never waits for a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import disable_created_metrics as _disable_created_metrics

log = logging.getLogger("bot.runtime.health")

# Without this every counter also exports a *_created timestamp series: noise in dashboards.
_disable_created_metrics()  # type: ignore[no-untyped-call]

#: poll cycles take from under a second (all 304s) to minutes (a thousand feeds, cold)
POLL_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics:
    """The service's metrics, in a registry of its own (not the process-global one, so
    that several services in one process, as in tests, do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.feed_polls = Counter(
            "bot_feed_polls",
            "Feed polls by outcome (ok, not_modified, unchanged, error, skipped).",
            ["status"],
            registry=r,
        )
        self.feed_errors = Counter(
            "bot_feed_errors", "Failed feed polls by error kind.", ["kind"], registry=r
        )
        self.articles_new = Counter("bot_articles_new", "New articles stored.", registry=r)
        self.articles_flagged = Counter(
            "bot_articles_flagged", "New articles the matcher flagged.", registry=r
        )
        self.delivered = Counter(
            "bot_digests_delivered",
            "Digests and alerts delivered, by subscription and kind.",
            ["subscription", "kind"],
            registry=r,
        )
        self.slack_errors = Counter(
            "bot_slack_errors", "Delivery failures by Slack error code.", ["code"], registry=r
        )
        self.poll_duration = Histogram(
            "bot_poll_duration_seconds",
            "Seconds one poll cycle took (fetch, parse, match, store).",
            buckets=POLL_BUCKETS,
            registry=r,
        )

    def render(self) -> str:
        return generate_latest(self.registry).decode()


HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


class HealthServer:
    """A minimal HTTP/1.1 server for two GET endpoints."""

    def __init__(self, host: str, port: int, metrics: Metrics, check: HealthCheck) -> None:
        self.host, self.port = host, port
        self.metrics = metrics
        self.check = check
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        port: int = self._server.sockets[0].getsockname()[1]
        log.info("health endpoint on http://%s:%d/healthz", self.host, port)
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: not needed
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, ctype, body = 405, "text/plain", b"method not allowed\n"
            elif path == "/healthz":
                ok, details = await self.check()
                status, ctype = (200 if ok else 503), "application/json"
                body = json.dumps({"status": "ok" if ok else "unhealthy", **details}).encode()
            elif path == "/metrics":
                status, ctype, body = (
                    200,
                    CONTENT_TYPE_LATEST,
                    self.metrics.render().encode(),
                )
            else:
                status, ctype, body = 404, "text/plain", b"not found\n"
            reason = {
                200: "OK",
                404: "Not Found",
                405: "Method Not Allowed",
                503: "Service Unavailable",
            }[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (body if parts[:1] != ["HEAD"] else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
