"""A fake Slack Web API on 127.0.0.1 that ``slack_sdk.WebClient(base_url=...)`` talks to.

It checks messages the way Slack does (at most 50 blocks, section text 1-3000 characters,
header 150, context 10 elements, a top-level ``text`` or blocks), answers with channel IDs
and ``ts``, keeps message metadata for ``conversations.history``, and can be told to fail:
HTTP 429 with Retry-After, HTTP 500, or Slack errors such as ``invalid_auth``. Incoming
webhooks are served under ``/hooks/...``.

For a Slack app over Socket Mode it also serves what such an app calls (``chat.update``,
``chat.postEphemeral``, ``views.publish``, ``users.info``, ``conversations.info``,
``apps.connections.open`` with the app-level token), ``response_url`` endpoints under
``/respond/...``, and a Socket Mode WebSocket server (``websockets``' threaded server) that
slack_sdk's built-in ``SocketModeClient`` connects to: the test sends envelopes built by
``slash_command`` / ``block_action`` / ``app_home_opened`` and waits for their
acknowledgements, and can drop connections to exercise reconnects.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ack:
    """What the client sent back for one envelope."""

    payload: dict[str, Any] | None
    #: seconds between sending the envelope and receiving its acknowledgement
    seconds: float


class FakeSlack:
    def __init__(
        self,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        ws_ping_interval: float | None = 0.2,
    ) -> None:
        #: bot tokens, for every Web API method except apps.connections.open
        self.tokens = {token}
        #: app-level tokens, for apps.connections.open only (as in Slack)
        self.app_tokens = {app_token}
        self.team_id = "T000"
        self.bot_user_id = "U0BOT"
        self.bot_id = "B0BOT"
        self.app_id = "A0APP"
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
        #: users.info answers: user ID -> fields (id, team_id, is_admin, is_owner, name ...)
        self.users: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        #: the latest view views.publish set, per user ID
        self.views: dict[str, dict[str, Any]] = {}
        #: what was POSTed to each response_url, by its name
        self.responses: dict[str, list[dict[str, Any]]] = {}
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

        # Socket Mode: websockets' threaded server runs each connection in its own thread
        # and its connections may be sent to and closed from any thread (the test's).
        self.connections_opened = 0
        self.envelopes: list[dict[str, Any]] = []
        #: text frames from the client that are not acknowledgements (for debugging)
        self.ws_received: list[str] = []
        self._tickets: set[str] = set()
        self._open: list[ServerConnection] = []
        self._sent_at: dict[str, float] = {}
        self._acks: dict[str, Ack] = {}
        self._ws_cond = threading.Condition()
        self._names = itertools.count(1)
        self.ws: Server = serve(
            self._ws_session,
            "127.0.0.1",
            0,
            process_request=self._ws_check_ticket,
            # the built-in client offers no extensions, so no compression either way
            compression=None,
            # the built-in client never answers a close frame, it just closes the socket
            close_timeout=1,
            # Slack pings too. Often, so that the built-in client's reader (blocked in recv()
            # for up to 3 s holding the lock its close() needs) wakes up soon: without it
            # SocketModeHandler.close() takes 3 s.
            ping_interval=ws_ping_interval,
            ping_timeout=5,
        )
        self.ws_port = self.ws.socket.getsockname()[1]
        self.ws_thread = threading.Thread(target=self.ws.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_url(self, path: str = "/hooks/T000/B000/good") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def response_url(self, name: str) -> str:
        """A ``response_url`` whose POSTs land in ``self.responses[name]``."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def start(self) -> FakeSlack:
        self.thread.start()
        self.ws_thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        # WebSockets first: a client told to go away may still call apps.connections.open
        if self.ws_thread.is_alive():
            self.ws.shutdown()
            self.ws_thread.join(5)
        else:
            # shutdown() would wait for serve_forever() to end
            self.ws.socket.close()
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

    def message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """The stored message (as chat.update left it), or None."""
        for m in self.messages:
            if m["channel"] == channel_id and m["ts"] == ts:
                return m
        return None

    def posted(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if (channel_id is None or m["channel"] == channel_id) and not m.get("chatter")
        ]

    # -- Socket Mode -----------------------------------------------------------------------

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Send an envelope to the newest open connection, waiting up to ``timeout`` for one;
        returns its envelope_id. ``accepts_response_payload`` defaults to what Slack sends:
        true for slash commands (and view submissions, block suggestions), false otherwise."""
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive"
                and payload.get("type") in ("view_submission", "block_suggestion")
            )
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        deadline = time.monotonic() + timeout
        while True:
            connection = self._wait_open(deadline)
            with self._ws_cond:
                # before sending: the acknowledgement may come back before send() returns
                self._sent_at[envelope_id] = time.monotonic()
            try:
                connection.send(json.dumps(envelope))
            except ConnectionClosed:
                # closed between the wait and the send: like Slack, try the next one
                with self._ws_cond:
                    if connection in self._open:
                        self._open.remove(connection)
                continue
            self.envelopes.append(envelope)
            return envelope_id

    def wait_ack(
        self, envelope_id: str, timeout: float = 5.0
    ) -> tuple[dict[str, Any] | None, float]:
        """The acknowledgement's payload (None if it had none) and how many seconds after the
        envelope was sent it arrived."""
        with self._ws_cond:
            if envelope_id not in self._sent_at:
                raise KeyError(f"envelope {envelope_id} was never sent")
            if not self._ws_cond.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"envelope {envelope_id} not acknowledged within {timeout} s")
            ack = self._acks[envelope_id]
        return ack.payload, ack.seconds

    def wait_connected(self, opened: int = 1, timeout: float = 5.0) -> None:
        """Until at least ``opened`` connections were made and one is open."""
        with self._ws_cond:
            if not self._ws_cond.wait_for(
                lambda: self.connections_opened >= opened and bool(self._open), timeout
            ):
                raise TimeoutError(
                    f"no Socket Mode connection number {opened} within {timeout} s"
                    f" ({self.connections_opened} made, {len(self._open)} open)"
                )

    def drop_connections(self) -> None:
        """Close every open WebSocket (code 1001, going away), as Slack does at times."""
        with self._ws_cond:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close(1001, "fake Slack dropped the connection")

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's notice that it will close the connection soon: the client is expected to
        open a new one (Slack sends it with reason "warning" too, before a restart)."""
        with self._ws_cond:
            connections = list(self._open)
        for connection in connections:
            message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
            with contextlib.suppress(ConnectionClosed):
                connection.send(json.dumps(message))

    def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/techpolicy",
        team_id: str = "T000",
        channel_name: str | None = None,
        response_url: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """``("slash_commands", payload)`` as Slack sends a slash command over Socket Mode:
        the HTTP form's fields, all strings. The default response_url is named after a
        counter; the name is the URL's last part."""
        names = {v: k for k, v in self.channels.items()}
        payload = {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "test",
            "channel_id": channel_id,
            "channel_name": channel_name or names.get(channel_id, "#unknown").removeprefix("#"),
            "user_id": user_id,
            "user_name": self.users.get(user_id, {}).get("name", user_id.lower()),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self.response_url(f"command-{next(self._names)}"),
            "trigger_id": self._trigger_id(),
        }
        return "slash_commands", payload

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        message: dict[str, Any] | None = None,
        block_id: str | None = None,
        team_id: str = "T000",
        response_url: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """``("interactive", payload)`` for a click on a button of a posted message. The
        message defaults to the one stored at (channel_id, message_ts), and block_id to the
        block holding a button with this action_id."""
        if message is None:
            stored = self.message(channel_id, message_ts)
            if stored is None:
                raise KeyError(f"no message {message_ts} in {channel_id}")
            message = {"text": stored["text"], "blocks": stored["blocks"]}
        if block_id is None:
            block_id = next(
                (
                    b.get("block_id", "")
                    for b in message.get("blocks") or []
                    for e in b.get("elements", [])
                    if isinstance(e, dict) and e.get("action_id") == action_id
                ),
                "",
            )
        names = {v: k for k, v in self.channels.items()}
        now = f"{time.time():.6f}"
        payload = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_id.lower(),
                "name": user_id.lower(),
                "team_id": team_id,
            },
            "api_app_id": self.app_id,
            "token": "verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": team_id, "domain": "test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": names.get(channel_id, "#unknown")[1:]},
            "message": {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "ts": message_ts,
                "text": message.get("text") or "",
                "blocks": message.get("blocks") or [],
                "team": team_id,
            },
            "state": {"values": {}},
            "response_url": response_url or self.response_url(f"action-{next(self._names)}"),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": value, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": now,
                }
            ],
        }
        return "interactive", payload

    def app_home_opened(self, user_id: str) -> tuple[str, dict[str, Any]]:
        """``("events_api", payload)``: the event_callback for a user opening the Home tab."""
        now = time.time()
        event = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D0" + user_id.removeprefix("U"),
            "tab": "home",
            "event_ts": f"{now:.6f}",
        }
        if user_id in self.views:
            event["view"] = self.views[user_id]
        payload = {
            "token": "verification-token",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._names):08d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return "events_api", payload

    def _trigger_id(self) -> str:
        return f"{next(self._names)}.{int(time.time())}.{uuid.uuid4().hex}"

    def _wait_open(self, deadline: float) -> ServerConnection:
        with self._ws_cond:
            if not self._ws_cond.wait_for(
                lambda: bool(self._open), max(0.0, deadline - time.monotonic())
            ):
                raise TimeoutError(
                    "no Socket Mode client connected to the fake Slack"
                    f" ({self.connections_opened} connections made so far)"
                )
            return self._open[-1]

    def _ws_check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        # Only URLs apps.connections.open handed out: a client must call it to connect.
        url = urlsplit(request.path)
        ticket = parse_qs(url.query).get("ticket", [""])[0]
        with self._ws_cond:
            known = url.path == "/link/" and ticket in self._tickets
        return None if known else connection.respond(401, "unknown ticket\n")

    def _ws_session(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            # hello first, as Slack: only then may envelopes go out on this connection
            connection.send(json.dumps(hello))
            with self._ws_cond:
                self._open.append(connection)
                self.connections_opened += 1
                self._ws_cond.notify_all()
            for frame in connection:
                self._ws_received(str(frame))
        except ConnectionClosed:
            pass
        finally:
            with self._ws_cond:
                if connection in self._open:
                    self._open.remove(connection)
                self._ws_cond.notify_all()

    def _ws_received(self, frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        with self._ws_cond:
            if isinstance(message, dict) and message.get("envelope_id") in self._sent_at:
                envelope_id = message["envelope_id"]
                # the first acknowledgement counts, as at Slack
                if envelope_id not in self._acks:
                    seconds = time.monotonic() - self._sent_at[envelope_id]
                    self._acks[envelope_id] = Ack(message.get("payload"), seconds)
                self._ws_cond.notify_all()
            else:
                self.ws_received.append(frame)

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
        # WebClient may put arguments in the query string too
        url = urlsplit(h.path)
        path = url.path
        args = {**{k: v[0] for k, v in parse_qs(url.query).items()}, **args}
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
        if path.startswith("/respond/"):
            self._respond(h, path.removeprefix("/respond/"), args)
            return
        method = path.removeprefix("/api/")
        token = (h.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        # Slack takes only the app-level token for apps.connections.open, and only bot
        # (or user) tokens for the rest; the wrong kind is refused, not unknown.
        wanted, other = (
            (self.app_tokens, self.tokens)
            if method == "apps.connections.open"
            else (self.tokens, self.app_tokens)
        )
        if token not in wanted:
            error = "not_allowed_token_type" if token in other else "invalid_auth"
            self._reply(h, 200, {"ok": False, "error": error})
            return
        handlers = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.history": self._history,
            "conversations.info": self._conversation_info,
            "users.info": self._user_info,
            "views.publish": self._publish_view,
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
        }
        if method in handlers:
            handlers[method](h, args)
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
                #: how many times chat.update changed it
                "edits": 0,
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
                item = {"type": "message", "ts": m["ts"], "text": m["text"], "bot_id": self.bot_id}
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
                    "bot_id": self.bot_id,
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

    def _update(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        # chat.update wants the channel's ID, not its name
        channel = str(args.get("channel", ""))
        if channel not in self.channels.values():
            self._reply(h, 200, {"ok": False, "error": "channel_not_found"})
            return
        found = self.message(channel, str(args.get("ts", "")))
        if found is None:
            self._reply(h, 200, {"ok": False, "error": "message_not_found"})
            return
        if found.get("chatter"):
            # someone else's message
            self._reply(h, 200, {"ok": False, "error": "cant_update_message"})
            return
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and blocks is None:
            self._reply(h, 200, {"ok": False, "error": "no_text"})
            return
        problems = validate_blocks(blocks or [])
        if problems:
            self._reply(h, 200, {"ok": False, "error": "invalid_blocks", "errors": problems})
            return
        with self._lock:
            if args.get("text") is not None:
                found["text"] = args["text"]
            # like Slack: blocks left out keep the message's blocks, [] removes them
            if blocks is not None:
                found["blocks"] = blocks
            found["edits"] += 1
        self._reply(
            h,
            200,
            {
                "ok": True,
                "channel": channel,
                "ts": found["ts"],
                "text": found["text"],
                "message": {"text": found["text"], "blocks": found["blocks"]},
            },
        )

    def _post_ephemeral(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            self._reply(h, 200, {"ok": False, "error": "channel_not_found"})
            return
        if not args.get("user"):
            self._reply(h, 200, {"ok": False, "error": "user_not_found"})
            return
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks:
            self._reply(h, 200, {"ok": False, "error": "no_text"})
            return
        problems = validate_blocks(blocks or [])
        if problems:
            self._reply(h, 200, {"ok": False, "error": "invalid_blocks", "errors": problems})
            return
        with self._lock:
            self._clock = max(self._clock + 0.000001, time.time())
            ts = f"{self._clock:.6f}"
            self.ephemerals.append(
                {
                    "channel": channel,
                    "user": args["user"],
                    "ts": ts,
                    "text": args.get("text"),
                    "blocks": blocks or [],
                    "thread_ts": args.get("thread_ts"),
                }
            )
        self._reply(h, 200, {"ok": True, "message_ts": ts})

    def _publish_view(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        user = str(args.get("user_id", ""))
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not user or not isinstance(view, dict):
            self._reply(h, 200, {"ok": False, "error": "invalid_arguments"})
            return
        problems = []
        if view.get("type") != "home":
            problems.append(f"views.publish takes a home view, got {view.get('type')!r}")
        problems += validate_blocks(view.get("blocks") or [], max_blocks=100)
        if problems:
            self._reply(
                h,
                200,
                {
                    "ok": False,
                    "error": "invalid_arguments",
                    "response_metadata": {"messages": problems},
                },
            )
            return
        with self._lock:
            self.views[user] = view
        view_id = f"V{next(self._names):06d}"
        self._reply(h, 200, {"ok": True, "view": {**view, "id": view_id, "team_id": self.team_id}})

    def _user_info(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        user = str(args.get("user", ""))
        if user not in self.users:
            self._reply(h, 200, {"ok": False, "error": "user_not_found"})
            return
        record = {
            "id": user,
            "team_id": self.team_id,
            "name": user.lower(),
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "deleted": False,
            **self.users[user],
        }
        self._reply(h, 200, {"ok": True, "user": record})

    def _conversation_info(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        # like Slack, an ID only (a "#name" is not found)
        channel = str(args.get("channel", ""))
        names = {v: k for k, v in self.channels.items()}
        if channel not in names:
            self._reply(h, 200, {"ok": False, "error": "channel_not_found"})
            return
        record = {
            "id": channel,
            "name": names[channel].removeprefix("#"),
            "is_channel": True,
            "is_private": False,
            "is_archived": channel in self.archived,
            "is_member": channel not in self.not_in,
            "context_team_id": self.team_id,
        }
        self._reply(h, 200, {"ok": True, "channel": record})

    def _auth_test(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        self._reply(
            h,
            200,
            {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "test",
                "user": "techpolicy",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            },
        )

    def _connections_open(self, h: BaseHTTPRequestHandler, args: dict[str, Any]) -> None:
        ticket = str(uuid.uuid4())
        with self._ws_cond:
            self._tickets.add(ticket)
        url = f"ws://127.0.0.1:{self.ws_port}/link/?ticket={ticket}&app_id={self.app_id}"
        self._reply(h, 200, {"ok": True, "url": url})

    def _respond(self, h: BaseHTTPRequestHandler, name: str, args: dict[str, Any]) -> None:
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks and not args.get("delete_original"):
            self._reply(h, 400, "no_text")
            return
        if validate_blocks(blocks or []):
            self._reply(h, 400, "invalid_blocks")
            return
        with self._lock:
            self.responses.setdefault(name, []).append(args)
        self._reply(h, 200, {"ok": True})

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
