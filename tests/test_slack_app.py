"""The Slack app end to end: ``python -m bot run`` as a real process, with SLACK_APP_TOKEN,
against the fake Slack (Web API and Socket Mode on 127.0.0.1) and feeds from a local server.

Every envelope must be acknowledged within Slack's 3 seconds; replies arrive at the
command's response_url; changes land in the database and take effect without a restart."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.storage.sqlite import SqliteStorage
from tests.fakeslack import FakeSlack
from tests.feedserver import FeedServer
from tests.procs import start, wait_for
from tests.stories import distinct_titles, feed_of

NOW = datetime.now(UTC).replace(microsecond=0)
BOT_TOKEN = "xoxb-app-test"
APP_TOKEN = "xapp-app-test"
CHANNEL = "C0TECH01"  # the fake's #jp-tech-policy
ADMIN, MEMBER, WS_ADMIN = "U0ADMIN", "U0MEMBER", "U0OWNER"


class Bot:
    """The running service and the fakes around it."""

    def __init__(self, slack: FakeSlack, feeds: FeedServer, config: Path, data: Path) -> None:
        self.slack, self.feeds, self.config, self.data = slack, feeds, config, data
        self.log = data.parent / "service.log"
        self.proc: Any = None

    def start(self) -> None:
        opened = self.slack.connections_opened
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": self.slack.api_url,
        }
        args = ["--config", str(self.config), "--data-dir", str(self.data), "run"]
        self.proc = start(args, env, self.log)
        self.slack.wait_connected(opened + 1, timeout=40)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(40) == 0, self.log.read_text()[-3000:]

    def envelope(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send one envelope; it must be acknowledged within 3 seconds."""
        envelope_id = self.slack.send_envelope(kind, payload)
        ack, seconds = self.slack.wait_ack(envelope_id, timeout=10)
        assert seconds < 3.0, f"{kind} acknowledged after {seconds:.2f} s"
        return ack

    def command(self, text: str, user: str = ADMIN, channel: str = CHANNEL) -> str:
        """The reply to ``/techpolicy text`` (at its response_url)."""
        kind, payload = self.slack.slash_command(text, user_id=user, channel_id=channel)
        name = payload["response_url"].rsplit("/", 1)[-1]
        self.envelope(kind, payload)
        wait_for(lambda: bool(self.slack.responses.get(name)), 30, f"the reply to {text!r}")
        reply = self.slack.responses[name][-1]
        return str(reply.get("text") or "")

    def storage(self) -> SqliteStorage:
        return SqliteStorage(self.data)


@pytest.fixture
def bot(make_config, tmp_path: Path) -> Iterator[Bot]:
    slack = FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN).start()
    slack.users.update(
        {
            ADMIN: {"id": ADMIN, "team_id": "T000", "is_admin": False, "name": "admin"},
            MEMBER: {"id": MEMBER, "team_id": "T000", "is_admin": False, "name": "member"},
            WS_ADMIN: {"id": WS_ADMIN, "team_id": "T000", "is_admin": True, "name": "owner"},
        }
    )
    feeds = FeedServer().start()
    titles = distinct_titles(2, seed=11)
    url = feeds.route("/main.xml", body=feed_of(titles, NOW))
    config = make_config(
        [{"name": "Main", "url": url, "interval": "2s"}],
        {
            "subscriptions": [
                {
                    "name": "main",
                    "channel": "#jp-tech-policy",
                    "schedule": "0 9 * * mon-fri",
                    "alert_score": 1,  # every flagged story goes out at once, with buttons
                }
            ],
            "slack": {"app": {"admins": [ADMIN]}},
            # the local feed server stands in for the public web (add-feed is untrusted)
            "fetch": {"allow_private_hosts": ["127.0.0.1"]},
        },
    )
    running = Bot(slack, feeds, config, tmp_path / "data")
    running.titles = titles  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        try:
            running.stop()
        finally:
            feeds.stop()
            slack.stop()


def _alerts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in slack.posted(CHANNEL) if any(b["type"] == "actions" for b in m["blocks"])]


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button")


@pytest.mark.slow
def test_commands_answer_and_change_what_the_bot_follows(bot: Bot) -> None:
    bot.start()
    assert "subscribe" in bot.command("help")
    # status: this channel's subscription, as `python -m bot status` shows it
    wait_for(lambda: len(_alerts(bot.slack)) == 2, 40, "the alerts")
    status = bot.command("status")
    assert "*main*" in status and "last error: -" in status

    # a member may ask, not change; the refusal says who can
    refused = bot.command("subscribe ai", user=MEMBER)
    assert "Only <@U0ADMIN> and workspace admins can subscribe a channel" in refused
    # a rule that does not parse: the same caret error as check-config
    bad = bot.command("subscribe semiconductors AND (ai")
    assert "missing closing parenthesis" in bad and "^" in bad

    # an admin subscribes #alerts; the service schedules it without a restart
    reply = bot.command("subscribe name=chips semiconductors 30 8 * * *", channel="C0ALERT1")
    assert "subscribed this channel: `chips`" in reply
    store = bot.storage()
    try:
        [sub] = store.app_subscriptions()
        assert (sub.name, sub.channel_id, sub.rule, sub.schedule, sub.created_by) == (
            "chips", "C0ALERT1", "semiconductors", "30 8 * * *", ADMIN,
        )  # fmt: skip
    finally:
        store.close()
    wait_for(lambda: "digest chips" in bot.log.read_text(), 20, "the new digest's schedule")
    assert "`chips`" in bot.command("list") and "Slack" in bot.command("list")
    # a name bot.yaml has is refused, and unsubscribing it says where it lives
    assert "bot.yaml" in bot.command("subscribe name=main ai")
    assert "bot.yaml" in bot.command("unsubscribe main")

    # add-feed: fetched and parsed before it is saved, by a workspace admin this time
    extra = bot.feeds.route("/extra.xml", body=feed_of(distinct_titles(3, seed=3), NOW, "x"))
    added = bot.command(f"add-feed <{extra}> extra jp-gov", user=WS_ADMIN)
    assert "added the feed `extra`" in added and "3 entries" in added
    assert bot.feeds.requests_to("/extra.xml")
    wait_for(lambda: len(bot.feeds.requests_to("/extra.xml")) >= 2, 30, "the new feed polled")
    assert "`extra`" in bot.command("feeds")

    # a feed URL that is not a feed is refused with the reason, and nothing is saved
    page = bot.feeds.route("/page.html", body=b"<html><body>hello</body></html>",
                           content_type="text/html")  # fmt: skip
    assert "Not added" in bot.command(f"add-feed {page}")

    # untrusted URLs never reach private addresses
    for url, why in (
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/feed.xml", "private"),
    ):
        for verb in ("add-feed", "explain"):
            reply = bot.command(f"{verb} {url}")
            assert "refused: " in reply and why in reply, reply
    assert "is not an http(s) URL" in bot.command("add-feed file:///etc/passwd")
    assert "only http and https" in bot.command("explain file:///etc/passwd")

    # explain a text, by this channel's rule
    explained = bot.command("explain 経済産業省、半導体の研究開発に補助金")
    assert "FLAGGED" in explained and "rule of `main`" in explained

    # remove what was made in Slack; every change is in the audit log
    assert "removed the feed `extra`" in bot.command("remove-feed extra", user=WS_ADMIN)
    assert "removed the subscription `chips`" in bot.command("unsubscribe chips",
                                                             channel="C0ALERT1")  # fmt: skip
    store = bot.storage()
    try:
        actions = [(c.action, c.target, c.user_id) for c in store.audit()]
        assert store.app_subscriptions() == [] and store.app_feeds() == []
    finally:
        store.close()
    assert actions == [
        ("unsubscribe", "chips", ADMIN),
        ("remove-feed", "extra", WS_ADMIN),
        ("add-feed", "extra", WS_ADMIN),
        ("subscribe", "chips", ADMIN),
    ]
    status = bot.command("status")
    assert "Recent changes" in status and "remove-feed `extra`" in status

    # the workspace's language
    assert "日本語" in bot.command("language ja")
    assert "購読" in bot.command("help", user=MEMBER)
    assert "前回のダイジェスト" in bot.command("status") and "JST" in bot.command("status")
    assert "フィード 1 件: 失敗 0、停滞 0、正常 1" in bot.command("feeds")


@pytest.mark.slow
def test_feedback_is_stored_once_shown_on_the_message_and_survives_a_restart(bot: Bot) -> None:
    bot.start()
    wait_for(lambda: len(_alerts(bot.slack)) == 2, 40, "the alerts with their buttons")
    message = _alerts(bot.slack)[0]
    relevant = _button(message, "fb_relevant")
    article = json.loads(relevant["value"])["a"]

    def click(user: str, action: str = "fb_relevant", **kw: Any) -> None:
        kind, payload = bot.slack.block_action(
            action,
            _button(message, action)["value"],
            user_id=user,
            channel_id=CHANNEL,
            message_ts=message["ts"],
            **kw,
        )
        bot.envelope(kind, payload)

    def labels() -> list[str]:
        stored = bot.slack.message(CHANNEL, message["ts"])
        assert stored is not None
        return [e["text"]["text"] for b in stored["blocks"] if b["type"] == "actions"
                for e in b["elements"]]  # fmt: skip

    click(MEMBER)
    wait_for(lambda: "Relevant · 1" in labels(), 20, "the count on the message")
    edits = bot.slack.message(CHANNEL, message["ts"])["edits"]  # type: ignore[index]
    click(MEMBER)  # the same person again: counted once, nothing edited
    click(ADMIN, "fb_not_relevant")
    wait_for(lambda: "Not relevant · 1" in labels(), 20, "the second vote")
    assert "Relevant · 1" in labels()
    assert bot.slack.message(CHANNEL, message["ts"])["edits"] == edits + 1  # type: ignore[index]
    assert len(bot.slack.posted(CHANNEL)) == 2  # shown by editing, never re-posted

    # a restart: the button on the message posted before it still works
    bot.stop()
    bot.start()
    click(WS_ADMIN)
    wait_for(lambda: "Relevant · 2" in labels(), 20, "the vote after the restart")
    store = bot.storage()
    try:
        votes = {(v.user_id, v.verdict) for v in store.feedback(article_ids=[article])}
    finally:
        store.close()
    assert votes == {(MEMBER, "relevant"), (ADMIN, "not_relevant"), (WS_ADMIN, "relevant")}

    # mute this source: refused to a member, done for an admin (and said, only to them)
    kind, payload = bot.slack.block_action(
        "fb_mute", _button(message, "fb_mute")["value"], user_id=MEMBER, channel_id=CHANNEL,
        message_ts=message["ts"],
    )  # fmt: skip
    name = payload["response_url"].rsplit("/", 1)[-1]
    bot.envelope(kind, payload)
    wait_for(lambda: bool(bot.slack.responses.get(name)), 20, "the refusal")
    assert "Only <@U0ADMIN> and workspace admins can mute" in bot.slack.responses[name][-1]["text"]
    kind, payload = bot.slack.block_action(
        "fb_mute", _button(message, "fb_mute")["value"], user_id=ADMIN, channel_id=CHANNEL,
        message_ts=message["ts"],
    )  # fmt: skip
    name = payload["response_url"].rsplit("/", 1)[-1]
    bot.envelope(kind, payload)
    wait_for(lambda: bool(bot.slack.responses.get(name)), 20, "the mute")
    assert "muted `Main` in `main`" in bot.slack.responses[name][-1]["text"]
    assert "muted: `Main`" in bot.command("status")


@pytest.mark.slow
def test_home_tab_and_a_dropped_socket(bot: Bot) -> None:
    bot.start()
    wait_for(lambda: len(_alerts(bot.slack)) == 2, 40, "the alerts")
    kind, payload = bot.slack.app_home_opened(MEMBER)
    bot.envelope(kind, payload)
    wait_for(lambda: MEMBER in bot.slack.views, 20, "the Home tab")
    view = bot.slack.views[MEMBER]
    text = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home" and "main" in text and "Feeds: 1 ok, 0 failing" in text
    # the WebSocket drops: the app connects again by itself and answers
    opened = bot.slack.connections_opened
    bot.slack.drop_connections()
    bot.slack.wait_connected(opened + 1, timeout=15)
    time.sleep(0.5)
    assert "subscribe" in bot.command("help")
