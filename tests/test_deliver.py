"""Delivery end to end: real polls into a real store, digests to a fake Slack over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.sqlite import SqliteStorage
from tests import feeds
from tests.conftest import ROOT
from tests.fakeslack import Failure
from tests.stories import distinct_titles, feed_of
from tests.test_poll import poll

NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "xoxb-test-token"
SUB = {
    "name": "jp",
    "title": "Japan tech policy",
    "channel": "#jp-tech-policy",
    "schedule": "0 9 * * mon-fri",
}


def slack_env(fake_slack, token: str = TOKEN) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": token, "SLACK_API_URL": fake_slack.api_url}


def setup(feed_server, make_config, tmp_path, titles, subs=None, path="/f.xml", feeds_extra=()):
    url = feed_server.route(path, body=feed_of(titles, NOW))
    config = make_config(
        [{"name": "Wire", "url": url}, *feeds_extra], {"subscriptions": subs or [SUB]}
    )
    poll(config, tmp_path / "data")
    return config, ("--config", str(config), "--data-dir", str(tmp_path / "data"))


def all_text(messages) -> str:
    return json.dumps([m["blocks"] for m in messages], ensure_ascii=False)


def test_digest_reaches_slack_once_and_a_restart_posts_nothing_new(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(5)
    _, args = setup(feed_server, make_config, tmp_path, [*titles, "大谷翔平、MVPに選出"])
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    assert "1 digest(s), 0 alert(s), 5 article(s) delivered" in result.err
    [message] = fake_slack.posted()
    assert message["channel"] == "C0TECH01"
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert message["metadata"]["event_type"] == "jp_techpolicy_digest"
    assert message["blocks"][0]["type"] == "header"
    assert message["text"].startswith("Japan tech policy: 5 stories")
    for title in titles:
        assert title in all_text([message])
    assert "大谷翔平" not in all_text([message])
    # A new process, nothing new: nothing posted.
    again = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert again.code == 0 and len(fake_slack.posted()) == 1
    status = json.loads(run_bot(*args, "status", "--json", env=slack_env(fake_slack)).out)
    assert status[0]["last_digest"]["articles"] == 5 and status[0]["pending_digests"] == 0
    assert status[0]["destination"] == "Slack #jp-tech-policy"


def test_120_articles_are_split_into_a_thread_and_nothing_is_cut(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(120)
    sub = {**SUB, "max_items": 500}
    _, args = setup(feed_server, make_config, tmp_path, titles, subs=[sub])
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    messages = fake_slack.posted()
    assert len(messages) >= 3
    first, rest = messages[0], messages[1:]
    assert first["thread_ts"] is None and all(m["thread_ts"] == first["ts"] for m in rest)
    assert all(len(m["blocks"]) <= 45 for m in messages)  # our margin under Slack's 50
    text = all_text(messages)
    assert all(t in text for t in titles), "every article is somewhere in the digest"
    assert "120 stories" in first["text"]


def test_max_items_lists_the_rest_compactly(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(30)
    _, args = setup(feed_server, make_config, tmp_path, titles, subs=[{**SUB, "max_items": 10}])
    run_bot(*args, "digest", env=slack_env(fake_slack))
    text = all_text(fake_slack.posted())
    assert "More flagged stories (20)" in text
    assert all(t in text for t in titles)


HOSTILE = [
    "政府、半導体に<https://evil.example|公式発表>を決定 & <!channel> *太字* _斜体_ ~取消~ `code` |パイプ|",
    "Japan's METI <b>bold</b> & AI subsidy > < | *all* 🚀🇯🇵 " + "とても長い見出し" * 60,
]


def test_hostile_titles_cannot_forge_links_or_break_the_message(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    _, args = setup(feed_server, make_config, tmp_path, HOSTILE)
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    [message] = fake_slack.posted()
    links = []
    texts = []
    for block in message["blocks"]:
        if block["type"] == "rich_text":
            for element in block["elements"][0]["elements"]:
                (links if element["type"] == "link" else texts).append(element)
    # Each title is the text of a link to its own article, never a link target itself.
    targets = {link["url"] for link in links}
    assert targets == {"https://news.example.jp/s/0", "https://news.example.jp/s/1"}
    first_title = next(link["text"] for link in links if link["url"].endswith("/0"))
    assert first_title == HOSTILE[0]  # rich_text: shown verbatim, never parsed
    assert len(next(link["text"] for link in links if link["url"].endswith("/1"))) <= 250
    # mrkdwn and plain-text parts escape Slack's control characters
    for block in message["blocks"]:
        if block["type"] in ("section", "context"):
            raw = json.dumps(block, ensure_ascii=False)
            assert "<https://evil" not in raw and "<!channel>" not in raw
    assert "<" not in message["text"] and ">" not in message["text"]
    assert len(message["blocks"][0]["text"]["text"]) <= 150


def test_429_twice_then_success_gives_one_message(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(3))
    fake_slack.fail_next(
        Failure(429, headers={"retry-after": "1"}), Failure(429, headers={"retry-after": "1"})
    )
    started = time.monotonic()
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    assert len(fake_slack.posted()) == 1
    assert len([c for c in fake_slack.calls if c[0].endswith("chat.postMessage")]) == 3
    assert time.monotonic() - started >= 2  # Retry-After was honoured


def test_server_errors_are_retried(feed_server, make_config, tmp_path, run_bot, fake_slack):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    fake_slack.fail_next(Failure(500, error="fatal_error"))
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    assert len(fake_slack.posted()) == 1


def test_rate_limit_beyond_retries_keeps_the_digest_pending(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    fake_slack.fail_next(*[Failure(429, headers={"retry-after": "0"})] * 4)
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 1 and "ratelimited" in result.err and "will retry" in result.err
    assert fake_slack.posted() == []
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0 and len(fake_slack.posted()) == 1
    assert "2 article(s) delivered" in result.err


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("channel_not_found", "check 'channel' in bot.yaml"),
        ("not_in_channel", "/invite the bot"),
        ("missing_scope", "chat:write"),
        ("is_archived", "archived"),
    ],
)
def test_permanent_error_says_what_to_do_and_keeps_the_digest(
    feed_server, make_config, tmp_path, run_bot, fake_slack, error, hint
):
    titles = distinct_titles(3)
    _, args = setup(feed_server, make_config, tmp_path, titles)
    fake_slack.fail_next(Failure(200, error=error))
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 1
    assert f"NEEDS ACTION) {error}" in result.err and hint in result.err
    status = json.loads(run_bot(*args, "status", "--json", env=slack_env(fake_slack)).out)[0]
    assert status["pending_digests"] == 1 and status["last_error"]["code"] == error
    # Fixed: the same digest goes out, with its articles, once.
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0
    [message] = fake_slack.posted()
    assert all(t in all_text([message]) for t in titles)


def test_one_broken_subscription_does_not_block_the_others(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    broken = {**SUB, "name": "broken", "channel": "#does-not-exist"}
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(2), subs=[broken, SUB])
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 1
    assert "broken -> Slack #does-not-exist" in result.err and "channel_not_found" in result.err
    assert "jp -> Slack #jp-tech-policy: 1 digest(s)" in result.err
    assert [m["channel"] for m in fake_slack.posted()] == ["C0TECH01"]


def test_invalid_token_is_reported(feed_server, make_config, tmp_path, run_bot, fake_slack):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(1))
    result = run_bot(*args, "digest", env=slack_env(fake_slack, token="xoxb-wrong"))
    assert result.code == 1 and "invalid_auth" in result.err
    assert "xoxb-wrong" not in result.err + result.out  # secrets are never printed


def test_crash_between_send_and_record_does_not_double_post(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    config, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0  # learns the channel ID
    feed_server.route("/f.xml", body=feed_of(distinct_titles(4)[2:], NOW, prefix="t"))
    poll(config, tmp_path / "data", force=True)
    # Slack records the second digest, then the bot dies before it hears the answer.
    fake_slack.hold = hold = __import__("threading").Event()
    env = {**os.environ, **slack_env(fake_slack)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "digest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert fake_slack.held.wait(60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    hold.set()
    fake_slack.hold = None
    assert len(fake_slack.posted()) == 2
    # Restart: the digest is pending, but its message is found in the history by metadata.
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert result.code == 0, result.err
    assert len(fake_slack.posted()) == 2
    assert any(c[0].endswith("conversations.history") for c in fake_slack.calls)
    status = json.loads(run_bot(*args, "status", "--json", env=slack_env(fake_slack)).out)[0]
    assert status["pending_digests"] == 0 and status["last_digest"]["articles"] == 2


def test_same_story_from_three_feeds_appears_once(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    link = "https://www.meti.example.go.jp/press/2026/1120.html"
    wire = feed_server.route(
        "/a.xml",
        body=feeds.rss(
            [
                feeds.item(
                    "経産省、ラピダスに追加支援を決定",
                    link + "?utm_source=rss",
                    guid="a1",
                    published=NOW - timedelta(hours=1),
                )
            ]
        ),
    )
    agg = feed_server.route(
        "/b.xml",
        body=feeds.rss(
            [
                feeds.item(
                    "経産省、ラピダスに追加支援を決定 - 共同通信",
                    "https://www.google.com/url?q=" + link,
                    guid="b1",
                    published=NOW - timedelta(hours=1),
                )
            ]
        ),
    )
    other = feed_server.route(
        "/c.xml",
        body=feeds.rss(
            [
                feeds.item(
                    "【速報】経産省、ラピダスに追加支援を決定",
                    "https://other.example.jp/news/99",
                    guid="c1",
                    published=NOW - timedelta(hours=2),
                )
            ]
        ),
    )
    config = make_config(
        [
            {"name": "Wire", "url": wire},
            {"name": "Aggregator", "url": agg},
            {"name": "Other", "url": other},
        ],
        {"subscriptions": [SUB]},
    )
    poll(config, tmp_path / "data")
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0
    [message] = fake_slack.posted()
    story_blocks = [b for b in message["blocks"] if b["type"] == "rich_text"]
    assert len(story_blocks) == 1
    text = all_text([message])
    assert "also: " in text and "Aggregator" in text and "Other" in text
    assert "1 story from 3 sources" in message["text"]


def test_edited_article_is_not_posted_again(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(2)
    _, args = setup(feed_server, make_config, tmp_path, titles)
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0
    edited = feed_of(titles, NOW).replace("記事0の概要".encode(), "記事0の概要（訂正版）".encode())
    feed_server.route("/f.xml", body=edited)
    outcomes, _, _ = poll(Path(args[1]), tmp_path / "data", force=True)
    assert outcomes["Wire"].edited == 1
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0
    assert len(fake_slack.posted()) == 1


def test_alert_goes_out_at_once_and_not_again_in_the_digest(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    strong = "政府、半導体と生成AIの支援に10兆円　経済産業省が補助金と基金で"
    lede = "経済産業省は次世代半導体と生成AIの開発を支援するため、補助金と基金を合わせて10兆円規模の予算を措置する。"
    body = feeds.rss(
        [
            feeds.item(
                strong,
                "https://news.example.jp/strong",
                guid="s",
                published=NOW - timedelta(minutes=5),
                description=lede,
            ),
            feeds.item(
                "総務省、ドローンの指針を公表",
                "https://news.example.jp/weak",
                guid="w",
                published=NOW - timedelta(minutes=6),
            ),
        ]
    )
    url = feed_server.route("/alert.xml", body=body)
    config = make_config(
        [{"name": "Wire", "url": url}], {"subscriptions": [{**SUB, "alert_score": 90}]}
    )
    poll(config, tmp_path / "data")
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    result = run_bot(*args, "digest", env=slack_env(fake_slack))
    assert "1 alert(s)" in result.err
    alert, digest = fake_slack.posted()
    assert alert["blocks"][0]["text"]["text"].startswith("Alert")
    shown = " ".join(strong.split())  # titles are stored with whitespace collapsed (U+3000 too)
    assert shown in all_text([alert]) and shown not in all_text([digest])
    assert "ドローン" in all_text([digest])


def test_webhook_destination(feed_server, make_config, tmp_path, run_bot, fake_slack):
    sub = {"name": "hook", "webhook_env": "TEAM_WEBHOOK", "schedule": "0 9 * * *", "max_items": 500}
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(60), subs=[sub])
    result = run_bot(*args, "digest", env={"TEAM_WEBHOOK": fake_slack.webhook_url()})
    assert result.code == 0, result.err
    sent = fake_slack.webhook_messages["/hooks/T000/B000/good"]
    assert len(sent) >= 2 and all(len(m["blocks"]) <= 50 for m in sent)
    assert sent[0]["unfurl_links"] is False
    assert fake_slack.webhook_url() not in result.err + result.out  # the URL is a secret


def test_webhook_gone_is_permanent(feed_server, make_config, tmp_path, run_bot, fake_slack):
    sub = {"name": "hook", "webhook_env": "TEAM_WEBHOOK", "schedule": "0 9 * * *"}
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(1), subs=[sub])
    result = run_bot(
        *args, "digest", env={"TEAM_WEBHOOK": fake_slack.webhook_url("/hooks/T000/B000/deleted")}
    )
    assert result.code == 1 and "no_service" in result.err and "NEEDS ACTION" in result.err


def test_without_credentials_digests_print_to_the_terminal(
    feed_server, make_config, tmp_path, run_bot
):
    titles = distinct_titles(3)
    _, args = setup(feed_server, make_config, tmp_path, titles)
    result = run_bot(*args, "digest")
    assert result.code == 0
    assert "SLACK_BOT_TOKEN not set" in result.err
    assert result.out.startswith("=== Japan tech policy")
    assert all(t in result.out for t in titles)
    assert run_bot(*args, "digest").out == ""  # printed once
    # Adding the token later: Slack gets the articles that were only printed.


def test_terminal_ledger_is_separate_from_slack(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(2)
    _, args = setup(feed_server, make_config, tmp_path, titles)
    run_bot(*args, "digest")  # printed to the terminal
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0
    assert all(t in all_text(fake_slack.posted()) for t in titles)


def test_dry_run_shows_blocks_and_records_nothing(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    result = run_bot(*args, "digest", "--dry-run", "--format", "blocks", env=slack_env(fake_slack))
    messages = json.loads(result.out)
    assert messages[0]["blocks"][0]["type"] == "header" and fake_slack.posted() == []
    run_bot(*args, "status", env=slack_env(fake_slack))
    store = SqliteStorage(tmp_path / "data")
    assert store.subscription_start("jp") is None  # neither wrote anything
    store.close()
    run_bot(*args, "digest", env=slack_env(fake_slack))
    assert len(fake_slack.posted()) == 1


def test_post_empty(feed_server, make_config, tmp_path, run_bot, fake_slack):
    _, args = setup(
        feed_server,
        make_config,
        tmp_path,
        ["大谷翔平、MVPに選出"],
        subs=[{**SUB, "post_empty": True}],
    )
    run_bot(*args, "digest", env=slack_env(fake_slack))
    [message] = fake_slack.posted()
    assert "No new flagged articles" in all_text([message])
