"""A fake Slack Web API on 127.0.0.1 that ``slack_sdk.WebClient(base_url=...)`` talks to.

It checks messages the way Slack does (at most 50 blocks, section text 1-3000 characters,
header 150, context 10 elements, a top-level ``text`` or blocks), answers with channel IDs
and ``ts``, keeps message metadata for ``conversations.history``, and can be told to fail:
HTTP 429 with Retry-After, HTTP 500, or Slack errors such as ``invalid_auth``. Incoming
webhooks are served under ``/hooks/...``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    def __init__(self, token: str = "xoxb-test-token") -> None:
        self.tokens = {token}
        self.channels = {"#jp-tech-policy": "C0TECH01", "#alerts": "C0ALERT1", "#other": "C0OTHER1"}
        self.archived: set[str] = set()
        self.not_in: set[str] = set()
        self.messages: list[dict[str, Any]] = []
        self.webhook_messages: dict[str, list[dict[str, Any]]] = {}
        self.webhooks: set[str] = {"/hooks/T000/B000/good"}
        self.failures: list[Failure] = []
        #: refuse (invalid_blocks) every message whose blocks contain this text
        self.refuse_containing: str | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: set to an Event to make chat.postMessage record the message, then wait before
        #: answering (a client killed meanwhile never learns the ts)
        self.hold: threading.Event | None = None
        self.held = threading.Event()
        self._lock = threading.Lock()
        self._clock = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                # a test may kill the client on purpose
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    fake._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_url(self, path: str = "/hooks/T000/B000/good") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, *failures: Failure) -> None:
        self.failures.extend(failures)

    def add_chatter(self, channel_id: str, count: int) -> None:
        """Messages from other members: a busy channel."""
        with self._lock:
            for i in range(count):
                self._clock = max(self._clock + 0.000001, time.time())
                self.messages.append(
                    {
                        "channel": channel_id,
                        "ts": f"{self._clock:.6f}",
                        "text": f"chatter {i}",
                        "blocks": [],
                        "thread_ts": None,
                        "metadata": None,
                        "chatter": True,
                    }
                )

    def posted(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if (channel_id is None or m["channel"] == channel_id) and not m.get("chatter")
        ]

    # -- HTTP ------------------------------------------------------------------------------

    def _reply(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        h.send_response(status)
        h.send_header(
            "content-type", "application/json" if not isinstance(body, str) else "text/plain"
        )
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length).decode()
        if "json" in (h.headers.get("content-type") or ""):
            args = json.loads(raw or "{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        path = h.path
        with self._lock:
            self.calls.append((path, args))
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            if failure.status != 200:
                self._reply(
                    h,
                    failure.status,
                    {"ok": False, "error": failure.error or "ratelimited"},
                    failure.headers,
                )
            else:
                self._reply(h, 200, {"ok": False, "error": failure.error})
            return
        if path.startswith("/hooks/"):
            self._webhook(h, path, args)
            return
        token = (h.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            self._reply(h, 200, {"ok": False, "error": "invalid_auth"})
            return
        method = path.removeprefix("/api/")
        if method == "chat.postMessage":
            self._post_message(h, args)
        elif method == "conversations.history":
            self._history(h, args)
        elif method == "auth.test":
            self._reply(h, 200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team": "test"})
        else:
            self._reply(h, 200, {"ok": False, "error": "unknown_method"})

    def _channel_id(self, channel: str) -> str | None:
        if channel in self.channels:
            return self.channels[channel]
        return channel if channel in self.channels.values() else None

    def _post_message(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            self._reply(h, 200, {"ok": False, "error": "channel_not_found"})
            return
        if channel in self.archived:
            self._reply(h, 200, {"ok": False, "error": "is_archived"})
            return
        if channel in self.not_in:
            self._reply(h, 200, {"ok": False, "error": "not_in_channel"})
            return
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        problems = validate_blocks(blocks or [])
        if not args.get("text") and not blocks:
            self._reply(h, 200, {"ok": False, "error": "no_text"})
            return
        if self.refuse_containing and self.refuse_containing in json.dumps(
            blocks, ensure_ascii=False
        ):
            problems.append("refused by the test")
        if problems:
            self._reply(h, 200, {"ok": False, "error": "invalid_blocks", "errors": problems})
            return
        with self._lock:
            # like Slack: the current Unix time, unique per channel
            self._clock = max(self._clock + 0.000001, time.time())
            ts = f"{self._clock:.6f}"
            message = {
                "channel": channel,
                "ts": ts,
                "text": args.get("text"),
                "blocks": blocks or [],
                "thread_ts": args.get("thread_ts"),
                "metadata": args.get("metadata"),
                "unfurl_links": args.get("unfurl_links"),
                "unfurl_media": args.get("unfurl_media"),
            }
            self.messages.append(message)
        if self.hold is not None:
            self.held.set()
            self.hold.wait(30)
        self._reply(
            h, 200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": message["text"]}}
        )

    def _history(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            self._reply(h, 200, {"ok": False, "error": "channel_not_found"})
            return
        oldest = float(args.get("oldest") or 0)
        with_meta = str(args.get("include_all_metadata")) in ("1", "true", "True")
        found = []
        for m in reversed(self.messages):
            if m["channel"] == channel and float(m["ts"]) >= oldest and m["thread_ts"] is None:
                item = {"type": "message", "ts": m["ts"], "text": m["text"], "bot_id": "BBOT"}
                if with_meta and m["metadata"]:
                    item["metadata"] = m["metadata"]
                found.append(item)
        # Thread replies are listed by conversations.replies in real Slack; for a simple
        # fake, replies are included too (marked with thread_ts).
        for m in reversed(self.messages):
            if m["channel"] == channel and float(m["ts"]) >= oldest and m["thread_ts"] is not None:
                item = {
                    "type": "message",
                    "ts": m["ts"],
                    "thread_ts": m["thread_ts"],
                    "bot_id": "BBOT",
                }
                if with_meta and m["metadata"]:
                    item["metadata"] = m["metadata"]
                found.append(item)
        # Pages of `limit`, newest first, like Slack; the cursor is an offset here.
        limit = int(args.get("limit") or 100)
        offset = int(args.get("cursor") or 0)
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        self._reply(
            h,
            200,
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
            },
        )

    def _webhook(self, h: BaseHTTPRequestHandler, path: str, args: dict[str, Any]) -> None:
        if path not in self.webhooks:
            self._reply(h, 404, "no_service")
            return
        problems = validate_blocks(args.get("blocks") or [])
        if problems:
            self._reply(h, 400, "invalid_blocks")
            return
        self.webhook_messages.setdefault(path, []).append(args)
        self._reply(h, 200, "ok")


def validate_blocks(blocks: list[dict[str, Any]], max_blocks: int = 50) -> list[str]:
    """What real Slack would refuse (documented limits): 50 blocks in a message, 100 in a
    Home tab view."""
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"must provide at most {max_blocks} blocks, got {len(blocks)}")
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]["text"]
            if not 1 <= len(text) <= 150 or block["text"]["type"] != "plain_text":
                problems.append(f"[{index}] header text must be plain_text of 1-150 characters")
        elif kind == "section" and "fields" in block and "text" not in block:
            if not 1 <= len(block["fields"]) <= 10:
                problems.append(f"[{index}] section needs 1-10 fields")
            for element in block["fields"]:
                if not 1 <= len(element.get("text", "")) <= 2000:
                    problems.append(f"[{index}] section field text must be 1-2000 characters")
        elif kind == "section":
            text = block.get("text", {}).get("text", "")
            if not 1 <= len(text) <= 3000:
                problems.append(
                    f"[{index}] section text must be 1-3000 characters, got {len(text)}"
                )
        elif kind == "context":
            if not 1 <= len(block.get("elements", [])) <= 10:
                problems.append(f"[{index}] context needs 1-10 elements")
            for element in block.get("elements", []):
                if not 1 <= len(element.get("text", "")) <= 3000:
                    problems.append(f"[{index}] context text must be 1-3000 characters")
        elif kind == "rich_text":
            for section in block.get("elements", []):
                for element in section.get("elements", []):
                    if element["type"] == "link" and not str(element.get("url", "")).startswith(
                        ("http://", "https://")
                    ):
                        problems.append(f"[{index}] link url must be http(s)")
                    if element["type"] not in ("text", "link", "emoji", "user", "channel"):
                        problems.append(f"[{index}] unknown rich text element {element['type']}")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"[{index}] actions needs 1-25 elements")
            for element in elements:
                problems += [f"[{index}] {p}" for p in _button_problems(element)]
        elif kind not in ("divider",):
            problems.append(f"[{index}] unsupported block type {kind}")
    return problems


def _button_problems(element: dict[str, Any]) -> list[str]:
    if element.get("type") != "button":
        return [f"unsupported element type {element.get('type')}"]
    problems = []
    text = element.get("text", {})
    if text.get("type") != "plain_text" or not 1 <= len(text.get("text", "")) <= 75:
        problems.append("button text must be plain_text of 1-75 characters")
    if "action_id" in element and not 1 <= len(element["action_id"]) <= 255:
        problems.append("button action_id must be 1-255 characters")
    if len(element.get("value", "")) > 2000:
        problems.append("button value must be at most 2000 characters")
    if element.get("style") not in (None, "primary", "danger"):
        problems.append("button style must be primary or danger")
    return problems
