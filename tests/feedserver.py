"""A real HTTP server on 127.0.0.1 that serves feeds the way publishers do (and misbehave).

Each path has a :class:`Route`: a body, status and headers, plus behaviours: conditional GET
(ETag / Last-Modified -> 304), a delay before answering, a body trickled byte by byte, gzip,
redirects, and bodies streamed without a length. Every request is recorded.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    #: seconds between single bytes of the body (a server that never finishes)
    trickle: float | None = None
    gzip: bool = False
    #: stream this many bytes of filler, chunked, with no Content-Length
    stream_bytes: int | None = None
    location: str | None = None


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, **kwargs: Any) -> str:
        self.routes[path] = Route(**kwargs)
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(
                Request(h.path, {k.lower(): v for k, v in h.headers.items()}, time.time())
            )
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._respond(h)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._lock:
                self.active -= 1

    def _respond(self, h: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(h.path)
        if route is None:
            self._send(h, 404, {"content-type": "text/plain"}, b"not found")
            return
        if route.delay:
            time.sleep(route.delay)
        headers = {"content-type": route.content_type, **route.headers}
        if route.etag:
            headers["etag"] = route.etag
        if route.last_modified:
            headers["last-modified"] = route.last_modified
        if route.location:
            headers["location"] = route.location
        inm = h.headers.get("if-none-match")
        ims = h.headers.get("if-modified-since")
        if route.status == 200 and (
            (route.etag and inm == route.etag)
            or (route.last_modified and not route.etag and ims == route.last_modified)
        ):
            headers.pop("content-type", None)
            self._send(h, 304, headers, b"")
            return
        if route.stream_bytes is not None:
            self._stream(h, route, headers)
            return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["content-encoding"] = "gzip"
        if route.trickle is not None:
            h.send_response(route.status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(body)))
            h.end_headers()
            for i in range(len(body)):
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                time.sleep(route.trickle)
            return
        self._send(h, route.status, headers, body)

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _stream(self, h: BaseHTTPRequestHandler, route: Route, headers: dict[str, str]) -> None:
        h.send_response(route.status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
        for part in _chunks(route.stream_bytes or 0, chunk):
            h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")


def _chunks(total: int, chunk: bytes) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        part = chunk[: total - sent]
        sent += len(part)
        yield part
