"""The slash command's language and the pure parts of the Slack app: parsing, the effective
configuration, the feedback buttons, muted sources. No Slack, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.app import commands
from bot.app.manage import Actor, effective_config, may_change, who_may_change
from bot.config import load_config
from bot.digest.blocks import (
    FEEDBACK_ACTIONS,
    build_digest,
    feedback_block,
    with_feedback_counts,
)
from bot.digest.select import choose
from bot.digest.stories import DigestItem
from bot.errors import CommandError
from bot.match import Matcher
from bot.models import Article
from bot.storage.records import AppFeed, AppSubscription, StoredArticle

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "verb", "args"),
    [
        ("", "help", ()),
        ("  HELP ", "help", ()),
        ("status", "status", ()),
        ("unsubscribe chips", "unsubscribe", ("chips",)),
        ("add-feed <https://example.org/rss|example.org/rss> ex jp-gov", "add-feed",
         ("https://example.org/rss", "ex", "jp-gov")),
        ("explain <http://169.254.169.254/latest>", "explain", ("http://169.254.169.254/latest",)),
    ],
)  # fmt: skip
def test_commands_parse_with_slack_links_unwrapped(text, verb, args):
    command = commands.parse(text)
    assert (command.verb, command.args) == (verb, args)


def test_an_unknown_verb_says_so():
    with pytest.raises(CommandError, match="Unknown command `subscibe`"):
        commands.parse("subscibe ai")


@pytest.mark.parametrize(
    ("text", "name", "rule", "schedule"),
    [
        ("subscribe", None, None, None),
        ("subscribe semiconductors OR ai", None, "semiconductors OR ai", None),
        ("subscribe 0 9 * * mon-fri", None, None, "0 9 * * mon-fri"),
        ("subscribe name=chips semiconductors 30 8 * * *", "chips", "semiconductors",
         "30 8 * * *"),
        ('subscribe "ai AND japanese_actor"', None, "ai AND japanese_actor", None),
        # four words are not a schedule: they stay in the rule (and fail there, visibly)
        ("subscribe ai 9 * * *", None, "ai 9 * * *", None),
    ],
)  # fmt: skip
def test_subscribe_takes_a_name_a_rule_and_a_schedule(text, name, rule, schedule):
    args = commands.subscribe_args(commands.parse(text))
    assert (args.name, args.rule, args.schedule) == (name, rule, schedule)


def test_replies_come_in_the_workspace_language():
    assert "購読" in commands.say("unsubscribed", "ja", user="U1", name="x")
    assert "removed" in commands.say("unsubscribed", "en", user="U1", name="x")
    assert commands.say("thanks", "fr") == commands.say("thanks", "en")


@pytest.fixture
def config(make_config):
    directory = make_config(
        [{"name": "meti", "url": "https://www.meti.go.jp/rss.xml", "tags": ["jp-gov"]}],
        {
            "subscriptions": [{"name": "main", "channel": "#jp-tech-policy"}],
            "slack": {"app": {"admins": ["U0ADMIN", "S0GROUP"]}},
        },
    )
    return load_config(directory)


def _sub(name: str, rule: str | None = None) -> AppSubscription:
    return AppSubscription(name, "C0SLACK01", rule, "0 9 * * *", "U0ADMIN", NOW)


def test_the_effective_configuration_adds_slack_subscriptions_and_feeds(config):
    feeds = [
        AppFeed("new", "https://example.org/feed", ("jp-gov",), "U0ADMIN", NOW),
        AppFeed("dup-url", "https://www.meti.go.jp/rss.xml", (), "U0ADMIN", NOW),
    ]
    subs = [
        _sub("chips", "semiconductors AND jpgov"),
        _sub("main"),
        _sub("broken", "ai AND"),
    ]
    effective, notes = effective_config(config, subs, feeds)
    assert [s.name for s in effective.bot.subscriptions] == ["main", "chips"]
    assert effective.bot.subscriptions[0].channel == "#jp-tech-policy"  # bot.yaml wins
    assert "chips" in effective.rules
    assert [f.name for f in effective.feeds] == ["meti", "new"]
    # a URL typed in Slack is fetched through the URL guard at every poll
    assert [f.guarded for f in effective.feeds] == [False, True]
    assert any("'main'" in n and "bot.yaml wins" in n for n in notes)
    assert any("'broken'" in n for n in notes)
    assert any("'dup-url'" in n for n in notes)
    # the files' configuration is untouched
    assert [s.name for s in config.bot.subscriptions] == ["main"]


def test_who_may_change_what(config):
    assert may_change(config, Actor("U0ADMIN"))
    assert may_change(config, Actor("U0OTHER", workspace_admin=True))
    assert may_change(config, Actor("U0OTHER", groups=frozenset({"S0GROUP"})))
    assert not may_change(config, Actor("U0OTHER"))
    assert who_may_change(config) == "<@U0ADMIN>, <!subteam^S0GROUP> and workspace admins"


TITLES = [
    "METI subsidy for chips", "Digital Agency cloud rules", "MIC spectrum auction plan",
    "Cabinet approves AI bill", "JAXA launch schedule set", "Quantum strategy revised",
]  # fmt: skip


def _item(article_id: int, title: str | None = None) -> DigestItem:
    title = title or TITLES[article_id % len(TITLES)]
    return DigestItem(
        article_id, title, f"https://example.org/{article_id}", "", "meti", NOW, 80, ("ai",)
    )


def test_digest_stories_carry_feedback_buttons_only_when_asked():
    items = [_item(i) for i in range(1, 4)]
    plain = build_digest(items, subscription="main", title="T", now=NOW, timezone="Asia/Tokyo",
                         topic_labels={}, max_items=40)  # fmt: skip
    with_buttons = build_digest(items, subscription="main", title="T", now=NOW,
                                timezone="Asia/Tokyo", topic_labels={}, max_items=40,
                                feedback=True)  # fmt: skip
    assert not [b for m in plain.messages for b in m.blocks if b["type"] == "actions"]
    actions = [b for m in with_buttons.messages for b in m.blocks if b["type"] == "actions"]
    assert [a["block_id"] for a in actions] == ["fb:1", "fb:2", "fb:3"]
    assert [e["action_id"] for e in actions[0]["elements"]] == list(FEEDBACK_ACTIONS)
    assert json.loads(actions[0]["elements"][0]["value"]) == {"a": 1, "s": "main"}


def test_buttons_never_push_a_message_over_slacks_block_limit():
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
             "juliet", "kilo", "lima"]  # fmt: skip
    items = [_item(i, f"{words[i % 12]} {words[i // 12]} {i * 7919}") for i in range(1, 41)]
    digest = build_digest(items, subscription="main", title="T", now=NOW, timezone="UTC",
                          topic_labels={}, max_items=40, feedback=True)  # fmt: skip
    assert len(digest.messages) > 1
    assert all(len(m.blocks) <= 50 for m in digest.messages)
    # a story and its buttons stay in one message
    for message in digest.messages:
        blocks = list(message.blocks)
        for index, block in enumerate(blocks):
            if block["type"] == "actions":
                assert blocks[index - 1]["type"] == "rich_text"


def test_counts_are_shown_on_the_clicked_story_only():
    blocks = [feedback_block(1, "main"), feedback_block(2, "main")]
    updated = with_feedback_counts(blocks, 2, "main", {"relevant": 3, "not_relevant": 1})
    assert updated[0] == blocks[0]
    labels = [e["text"]["text"] for e in updated[1]["elements"]]
    assert labels == ["Relevant · 3", "Not relevant · 1", "Mute this source"]


def test_a_muted_feed_is_passed_over(config):
    matcher = Matcher(config.keywords)
    rule = config.rules["main"]
    title = "経済産業省、半導体の研究開発に補助金"

    def stored(article_id: int, sources: tuple[str, ...]) -> StoredArticle:
        result = matcher.match(title, "", feed_tags=["jp-gov"])
        link = f"https://example.org/{article_id}"
        article = Article(sources[0], str(article_id), title, link, link, "", NOW, "feed", None,
                          "ja")  # fmt: skip
        return StoredArticle(article_id, article, NOW, None, False, sources,
                             tuple((s, article.link) for s in sources), result.record())  # fmt: skip

    candidates = [stored(1, ("meti",)), stored(2, ("nikkei",)), stored(3, ("meti", "nikkei"))]
    chosen, passed = choose(candidates, matcher, rule, 0)
    assert [i.article_id for i in chosen] == [1, 2, 3]
    chosen, passed = choose(candidates, matcher, rule, 0, frozenset({"meti"}))
    # only what muted feeds alone carried is passed over
    assert ([i.article_id for i in chosen], passed) == ([2, 3], [1])
