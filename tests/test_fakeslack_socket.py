"""The fake Slack against the real libraries: a slack-bolt app over Socket Mode through
slack_sdk's built-in SocketModeClient (what SocketModeHandler uses), and the Web API methods
such an app calls. These prove the fake, not the bot."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakeslack import FakeSlack
from tests.procs import wait_for

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
CHANNEL = "C0TECH01"


def web(fake: FakeSlack, token: str = BOT_TOKEN) -> WebClient:
    return WebClient(base_url=fake.api_url, token=token)


@pytest.fixture
def app(fake_slack: FakeSlack) -> Iterator[App]:
    # Only the client: given a token as well, bolt warns that it ignores it. The app calls
    # auth.test on the fake when it is made. Its own executor, so that its threads end
    # with the test (bolt never shuts down the one it makes).
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield App(client=web(fake_slack), listener_executor=executor)


@contextmanager
def connected(app: App, fake: FakeSlack) -> Iterator[SocketModeHandler]:
    # web_client defaults to app.client, so apps.connections.open goes to the fake's base_url
    # (with the app token). The client pings, and looks for a dead connection to replace,
    # every ping_interval seconds (10 by default in bolt): 0.5 makes a reconnect take <1 s.
    handler = SocketModeHandler(app, APP_TOKEN, ping_interval=0.5)
    handler.connect()
    try:
        fake.wait_connected()
        yield handler
    finally:
        # about 1 s: the client's message loop polls its queue once a second
        handler.close()


def button_message(fake: FakeSlack) -> dict[str, Any]:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*A story*"}},
        {
            "type": "actions",
            "block_id": "feedback",
            "elements": [
                {
                    "type": "button",
                    "action_id": "vote_up",
                    "text": {"type": "plain_text", "text": "Useful"},
                    "value": "story-42",
                }
            ],
        },
    ]
    response = web(fake).chat_postMessage(channel=CHANNEL, text="A story", blocks=blocks)
    message = fake.message(CHANNEL, response["ts"])
    assert message is not None
    return message


# -- Socket Mode, end to end ---------------------------------------------------------------


def test_slash_command_is_acknowledged_with_a_payload_and_can_respond(
    fake_slack: FakeSlack, app: App
) -> None:
    seen: list[dict[str, Any]] = []

    @app.command("/techpolicy")
    def command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        seen.append(command)
        ack(f"working on {command['text']}")
        respond(text="done", response_type="ephemeral")

    with connected(app, fake_slack):
        envelope_id = fake_slack.send_envelope(
            *fake_slack.slash_command("subscribe ai", user_id="U1", channel_id=CHANNEL)
        )
        payload, seconds = fake_slack.wait_ack(envelope_id)
        assert payload == {"text": "working on subscribe ai"}
        assert seconds < 3  # Slack's limit for an acknowledgement
        name = seen[0]["response_url"].rsplit("/", 1)[1]
        wait_for(lambda: name in fake_slack.responses, 5, "the response_url POST")

    assert seen[0]["channel_name"] == "jp-tech-policy" and seen[0]["user_id"] == "U1"
    assert fake_slack.responses[name] == [{"text": "done", "response_type": "ephemeral"}]
    assert fake_slack.envelopes[0]["accepts_response_payload"] is True
    # bolt checked the bot token, the app token opened the connection, respond() used the URL
    assert [c[0] for c in fake_slack.calls] == [
        "/api/auth.test",
        "/api/apps.connections.open",
        f"/respond/{name}",
    ]


def test_button_click_reaches_the_action_handler_which_updates_the_message(
    fake_slack: FakeSlack, app: App
) -> None:
    posted = button_message(fake_slack)
    bodies: list[dict[str, Any]] = []

    @app.action("vote_up")
    def vote(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        bodies.append(body)
        thanks = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Thanks, <@U1>"}]}
        blocks = [body["message"]["blocks"][0], thanks]
        client.chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text="A story", blocks=blocks
        )

    with connected(app, fake_slack):
        envelope_id = fake_slack.send_envelope(
            *fake_slack.block_action(
                "vote_up", "story-42", user_id="U1", channel_id=CHANNEL, message_ts=posted["ts"]
            )
        )
        payload, seconds = fake_slack.wait_ack(envelope_id)
        assert payload is None and seconds < 3
        wait_for(lambda: posted["edits"] == 1, 5, "chat.update")

    action = bodies[0]["actions"][0]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "vote_up",
        "story-42",
        "feedback",
    )
    assert bodies[0]["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    # updated in place: still one message, the button row replaced
    assert len(fake_slack.posted(CHANNEL)) == 1
    assert [b["type"] for b in posted["blocks"]] == ["section", "context"]


def test_home_tab_opened_reaches_the_event_handler_which_publishes_a_view(
    fake_slack: FakeSlack, app: App
) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your feeds"}}],
    }

    @app.event("app_home_opened")
    def opened(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view=home)

    with connected(app, fake_slack):
        envelope_id = fake_slack.send_envelope(*fake_slack.app_home_opened("U1"))
        payload, _ = fake_slack.wait_ack(envelope_id)
        assert payload is None
        wait_for(lambda: "U1" in fake_slack.views, 5, "views.publish")

    assert fake_slack.views["U1"] == home
    assert fake_slack.envelopes[0]["accepts_response_payload"] is False


def test_the_client_reconnects_after_the_connection_drops(fake_slack: FakeSlack, app: App) -> None:

    @app.command("/techpolicy")
    def command(ack: Ack) -> None:
        ack("pong")

    with connected(app, fake_slack):
        dropped = time.monotonic()
        fake_slack.drop_connections()
        fake_slack.wait_connected(opened=2)
        # found dead by the client's monitor, every ping_interval (0.5 s)
        assert time.monotonic() - dropped < 2
        envelope_id = fake_slack.send_envelope(
            *fake_slack.slash_command("ping", user_id="U1", channel_id=CHANNEL)
        )
        assert fake_slack.wait_ack(envelope_id)[0] == {"text": "pong"}

    # a new URL for each connection
    opened = [c for c in fake_slack.calls if c[0] == "/api/apps.connections.open"]
    assert len(opened) == 2


def test_a_disconnect_message_makes_the_client_open_a_new_connection(
    fake_slack: FakeSlack, app: App
) -> None:

    @app.command("/techpolicy")
    def command(ack: Ack) -> None:
        ack()

    with connected(app, fake_slack):
        fake_slack.send_disconnect()
        fake_slack.wait_connected(opened=2)
        envelope_id = fake_slack.send_envelope(
            *fake_slack.slash_command("ping", user_id="U1", channel_id=CHANNEL)
        )
        assert fake_slack.wait_ack(envelope_id) is not None


def test_sending_without_a_client_fails_clearly(fake_slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match="no Socket Mode client connected"):
        fake_slack.send_envelope(*fake_slack.app_home_opened("U1"), timeout=0.2)


def test_only_urls_from_apps_connections_open_connect(fake_slack: FakeSlack) -> None:
    url = f"http://127.0.0.1:{fake_slack.ws_port}/link/?ticket=made-up"
    request = urllib.request.Request(
        url,
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    refused.value.close()
    assert refused.value.code == 401


# -- Web API methods -----------------------------------------------------------------------


def slack_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as failed:
        call()
    return str(failed.value.response["error"])


def test_tokens_of_the_wrong_kind_are_refused(fake_slack: FakeSlack) -> None:
    assert (
        web(fake_slack)
        .apps_connections_open(app_token=APP_TOKEN)["url"]
        .startswith(f"ws://127.0.0.1:{fake_slack.ws_port}/link/?ticket=")
    )
    client = web(fake_slack)
    assert slack_error(lambda: client.apps_connections_open(app_token=BOT_TOKEN)) == (
        "not_allowed_token_type"
    )
    assert slack_error(lambda: client.apps_connections_open(app_token="xapp-other")) == (
        "invalid_auth"
    )
    assert slack_error(lambda: web(fake_slack, APP_TOKEN).auth_test()) == ("not_allowed_token_type")


def test_auth_users_and_conversations(fake_slack: FakeSlack) -> None:
    client = web(fake_slack)
    auth = client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("U0BOT", "B0BOT", "T000")

    fake_slack.users["U1"] = {"name": "aiko", "is_admin": True}
    user = client.users_info(user="U1")["user"]
    assert user["id"] == "U1" and user["team_id"] == "T000"
    assert (user["name"], user["is_admin"], user["is_owner"]) == ("aiko", True, False)
    assert slack_error(lambda: client.users_info(user="U404")) == "user_not_found"

    channel = client.conversations_info(channel=CHANNEL)["channel"]
    assert (channel["id"], channel["name"]) == (CHANNEL, "jp-tech-policy")
    assert slack_error(lambda: client.conversations_info(channel="C404")) == "channel_not_found"


def test_chat_update_errors_like_slack(fake_slack: FakeSlack) -> None:
    client = web(fake_slack)
    posted = button_message(fake_slack)
    assert (
        slack_error(lambda: client.chat_update(channel=CHANNEL, ts="1.000001", text="x"))
        == "message_not_found"
    )
    assert (
        slack_error(lambda: client.chat_update(channel="C404", ts=posted["ts"], text="x"))
        == "channel_not_found"
    )
    # text only: the blocks stay, as in Slack
    client.chat_update(channel=CHANNEL, ts=posted["ts"], text="edited")
    assert posted["text"] == "edited" and len(posted["blocks"]) == 2 and posted["edits"] == 1
    fake_slack.add_chatter(CHANNEL, 1)
    theirs = fake_slack.messages[-1]["ts"]
    assert (
        slack_error(lambda: client.chat_update(channel=CHANNEL, ts=theirs, text="x"))
        == "cant_update_message"
    )


def test_ephemeral_messages_and_home_views(fake_slack: FakeSlack) -> None:
    client = web(fake_slack)
    ts = client.chat_postEphemeral(channel=CHANNEL, user="U1", text="only you")["message_ts"]
    assert fake_slack.ephemerals == [
        {
            "channel": CHANNEL,
            "user": "U1",
            "ts": ts,
            "text": "only you",
            "blocks": [],
            "thread_ts": None,
        }
    ]
    divider = {"type": "divider"}
    assert (
        slack_error(lambda: client.views_publish(user_id="U1", view={"type": "modal"}))
        == "invalid_arguments"
    )
    too_many = {"type": "home", "blocks": [divider] * 101}
    assert (
        slack_error(lambda: client.views_publish(user_id="U1", view=too_many))
        == "invalid_arguments"
    )
    client.views_publish(user_id="U1", view={"type": "home", "blocks": [divider] * 100})
    assert len(fake_slack.views["U1"]["blocks"]) == 100


def test_response_url_records_what_is_posted(fake_slack: FakeSlack) -> None:
    body = json.dumps({"text": "hi", "replace_original": True}).encode()
    request = urllib.request.Request(
        fake_slack.response_url("r1"), body, {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.loads(answer.read()) == {"ok": True}
    assert fake_slack.responses == {"r1": [{"text": "hi", "replace_original": True}]}


def test_buttons_are_checked_like_slack(fake_slack: FakeSlack) -> None:
    def actions(**button: Any) -> list[dict[str, Any]]:
        text = {"type": "plain_text", "text": "Useful"}
        return [{"type": "actions", "elements": [{"type": "button", "text": text, **button}]}]

    client = web(fake_slack)
    client.chat_postMessage(channel=CHANNEL, text="ok", blocks=actions(action_id="up", value="1"))
    long_label = {"type": "plain_text", "text": "x" * 76}
    for bad in (actions(text=long_label), actions(style="loud"), actions(value="v" * 2001)):
        assert (
            slack_error(
                lambda bad=bad: client.chat_postMessage(channel=CHANNEL, text="t", blocks=bad)
            )
            == "invalid_blocks"
        )
