"""Health and metrics over HTTP: ``/healthz`` (JSON; 200 or 503) and ``/metrics``
(Prometheus text format). A few counters do not need a client library, so the exposition
format is written here; the server is asyncio's, on the scheduler's loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("bot.runtime.health")


def _escape(value: str) -> str:
    # Prometheus label values: backslash, double quote and newline are escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


HELP = {
    "bot_feed_polls_total": "Feed polls by outcome (ok, not_modified, unchanged, error, skipped).",
    "bot_feed_errors_total": "Failed feed polls by error kind.",
    "bot_articles_new_total": "New articles stored.",
    "bot_articles_flagged_total": "New articles the matcher flagged.",
    "bot_digests_delivered_total": "Digests and alerts delivered, by subscription and kind.",
    "bot_slack_errors_total": "Delivery failures by Slack error code.",
    "bot_poll_duration_seconds_sum": "Total seconds spent in poll cycles.",
    "bot_poll_duration_seconds_count": "Number of poll cycles.",
}


@dataclass
class Metrics:
    """Counters, safe to update from the loop and the delivery thread."""

    _counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, name: str, value: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + value

    def render(self) -> str:
        with self._lock:
            counters = dict(self._counters)
        lines = []
        for name in sorted({n for n, _ in counters} | set(HELP)):
            lines.append(f"# HELP {name} {HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            rows = [(dict(labels), v) for (n, labels), v in counters.items() if n == name]
            for labels, value in sorted(rows or [({}, 0.0)], key=lambda r: sorted(r[0].items())):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        return "\n".join(lines) + "\n"


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
                    "text/plain; version=0.0.4",
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
