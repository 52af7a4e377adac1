"""Digest building (pure) and scheduling: limits, grouping, time zones."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app.delivery import run_subscription
from bot.config import load_config
from bot.delivery.destination import Terminal
from bot.digest.blocks import build_digest, escape_mrkdwn, safe_url
from bot.digest.stories import DigestItem, group_stories, similarity
from bot.match import Matcher
from bot.runtime.schedule import cron_trigger, explain, next_run
from bot.storage.sqlite import SqliteStorage
from tests.fakeslack import validate_blocks
from tests.stories import distinct_titles

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # Tue 09:00 JST


def item(i: int, title: str, score: int = 80, topics=("ai",), hours: float = 1, **kw) -> DigestItem:
    return DigestItem(
        article_id=i,
        title=title,
        link=f"https://ex.jp/{i}",
        summary=kw.pop("summary", "概要。"),
        source=kw.pop("source", "Wire"),
        published=NOW - timedelta(hours=hours),
        score=score,
        topics=topics,
        why="jpgov: 政府",
        **kw,
    )


def digest(items, **kw):
    defaults = dict(
        subscription="jp",
        title="Japan tech policy",
        now=NOW,
        timezone="Asia/Tokyo",
        topic_labels={"ai": "AI", "semiconductors": "Semiconductors"},
        max_items=500,
    )
    return build_digest(items, **{**defaults, **kw})


def test_every_message_respects_slack_limits_under_stress():
    rng = random.Random(1)
    titles = distinct_titles(120)
    items = [
        item(
            i,
            t + "🚀" * rng.randint(0, 5),
            score=rng.randint(40, 99),
            topics=(rng.choice(["ai", "semiconductors", "cyber"]),),
            summary="長い概要。" * rng.randint(1, 400),
        )
        for i, t in enumerate(titles)
    ]
    d = digest(items)
    assert len(d.messages) > 1
    for message in d.messages:
        assert len(message.blocks) <= 45 and message.chars() <= 11_000
        assert validate_blocks(list(message.blocks)) == []
        assert 0 < len(message.text) <= 40_000
    shown = json.dumps([m.blocks for m in d.messages], ensure_ascii=False)
    assert all(t in shown for t in titles)


def test_block_limit_holds_on_every_page_when_blocks_bind_first():
    # short items: the 45-block margin binds before the character limit
    d = digest([item(i, t, summary="短い。") for i, t in enumerate(distinct_titles(120))])
    assert len(d.messages) >= 3
    assert all(len(m.blocks) <= 45 for m in d.messages), [len(m.blocks) for m in d.messages]
    assert (
        d.messages[1]
        .blocks[0]["elements"][0]["text"]
        .startswith("Japan tech policy — continued (2/")
    )


def test_grouped_by_topic_and_ordered_by_score_then_time():
    items = [
        item(1, "AI low", 60),
        item(2, "Chips top", 95, ("semiconductors",)),
        item(3, "AI high", 90),
        item(4, "AI high older", 90, hours=5),
    ]
    d = digest(items)
    headings = [b["text"]["text"] for b in d.messages[0].blocks if b["type"] == "section"]
    assert headings == ["*Semiconductors (1)*", "*AI (3)*"]
    order = [
        b["elements"][0]["elements"][0]["text"]
        for b in d.messages[0].blocks
        if b["type"] == "rich_text"
    ]
    assert order == ["Chips top", "AI high", "AI high older", "AI low"]


def test_times_are_shown_in_the_subscription_time_zone():
    d = digest([item(1, "政府のAI戦略", hours=1)])
    assert "Tue 24 Nov 2026 09:00 JST" in d.messages[0].blocks[0]["text"]["text"]
    assert "11/24 08:00 JST" in d.text
    d_utc = digest([item(1, "政府のAI戦略", hours=1)], timezone="UTC")
    assert "11/23 23:00 UTC" in d_utc.text


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("経産省、ラピダスに追加支援を決定", "【速報】経産省、ラピダスに追加支援を決定", True),
        (
            "Japan approves ¥800 billion for Rapidus",
            "Japan approves ¥800 billion for Rapidus - Reuters",
            True,
        ),
        ("政府、AI推進法案を閣議決定", "政府、AI推進法案を閣議決定（共同）", True),
        ("政府、半導体に補助金", "政府、量子に補助金", False),
        ("METI approves subsidy for chipmaking", "METI publishes guidelines on AI safety", False),
    ],
)
def test_near_duplicate_titles(a, b, same):
    assert (similarity(a, b) >= 0.55) is same


def test_near_duplicates_only_within_a_few_days():
    stories = group_stories(
        [
            item(1, "経産省、ラピダスに追加支援を決定", 90),
            item(2, "経産省、ラピダスに追加支援を決定 - 共同", 80, hours=2, source="Kyodo"),
        ]
    )
    assert len(stories) == 1 and stories[0].sources == [("Kyodo", "https://ex.jp/2")]
    apart = group_stories(
        [
            item(1, "経産省、ラピダスに追加支援を決定", 90),
            item(2, "経産省、ラピダスに追加支援を決定", 80, hours=24 * 5),
        ]
    )
    assert len(apart) == 2


def test_escaping_and_safe_urls():
    assert escape_mrkdwn("a & <b> | *c*") == "a &amp; &lt;b&gt; | *c*"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://ex.jp/a?b=1|2") == "https://ex.jp/a?b=1|2"
    d = digest([DigestItem(1, "bad link", "javascript:alert(1)", "", "Wire", NOW, 80, ("ai",))])
    first = next(b for b in d.messages[0].blocks if b["type"] == "rich_text")["elements"][0][
        "elements"
    ][0]
    assert first == {"type": "text", "text": "bad link", "style": {"bold": True}}  # no link at all


def test_empty_digest_says_so():
    d = digest([])
    assert "No new flagged articles." in json.dumps(d.messages[0].blocks, ensure_ascii=False)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "0 9 * * 0",
            datetime(2026, 11, 21, 10, tzinfo=TOKYO),
            datetime(2026, 11, 22, 9, tzinfo=TOKYO),
        ),  # 0 = Sunday
        (
            "0 9 * * 7",
            datetime(2026, 11, 21, 10, tzinfo=TOKYO),
            datetime(2026, 11, 22, 9, tzinfo=TOKYO),
        ),  # 7 = Sunday
        (
            "0 9,17 * * 1-5",
            datetime(2026, 11, 21, 10, tzinfo=TOKYO),
            datetime(2026, 11, 23, 9, tzinfo=TOKYO),
        ),
        (
            "0 9,17 * * mon-fri",
            datetime(2026, 11, 23, 9, 30, tzinfo=TOKYO),
            datetime(2026, 11, 23, 17, tzinfo=TOKYO),
        ),
    ],
)
def test_cron_reads_like_crontab(expression, after, expected):
    assert next_run(expression, "Asia/Tokyo", after) == expected


def _days(expression: str, start: datetime, n: int = 7) -> list[str]:
    fires, at = [], start
    for _ in range(n):
        at = next_run(expression, "Asia/Tokyo", at)
        fires.append(at.strftime("%a %d"))
    return fires


# 2026-11-22 is a Sunday
SUNDAY = datetime(2026, 11, 22, 0, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        # every day of the week, 0 to 6 and 0 to 7: both every day (once each)
        ("0 9 * * 0-6", ["Sun 22", "Mon 23", "Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28"]),
        ("0 9 * * 0-7", ["Sun 22", "Mon 23", "Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28"]),
        # a step in the weekday field counts from Sunday: Sun, Tue, Thu, Sat
        ("0 9 * * */2", ["Sun 22", "Tue 24", "Thu 26", "Sat 28", "Sun 29", "Tue 01", "Thu 03"]),
        ("0 9 * * 1-5/2", ["Mon 23", "Wed 25", "Fri 27", "Mon 30", "Wed 02", "Fri 04", "Mon 07"]),
        ("0 9 * * 6,0", ["Sun 22", "Sat 28", "Sun 29", "Sat 05", "Sun 06", "Sat 12", "Sun 13"]),
        # day of month and day of week both restricted: either one fires (crontab(5))
        ("0 9 1 * mon", ["Mon 23", "Mon 30", "Tue 01", "Mon 07", "Mon 14", "Mon 21", "Mon 28"]),
        # only the day of month restricted: the weekday does not matter
        ("0 9 1,15 * *", ["Tue 01", "Tue 15", "Fri 01", "Fri 15", "Mon 01", "Mon 15", "Mon 01"]),
    ],
)
def test_weekday_and_day_of_month_fields_follow_crontab(expression, days):
    assert _days(expression, SUNDAY) == days


def test_six_fields_lead_with_seconds():
    after = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TOKYO)
    assert next_run("*/10 * * * * *", "Asia/Tokyo", after) == after.replace(second=10)


def test_the_apscheduler_trigger_fires_at_or_after_now_then_after_each_fire():
    trigger = cron_trigger("0 9 * * 1-5", "Asia/Tokyo")
    nine = datetime(2026, 11, 23, 9, tzinfo=TOKYO)  # a Monday
    assert trigger.get_next_fire_time(None, nine) == nine  # exactly now: now
    assert trigger.get_next_fire_time(None, nine + timedelta(milliseconds=300)) == nine.replace(
        day=24
    )
    assert trigger.get_next_fire_time(nine, nine) == nine.replace(day=24)
    friday = datetime(2026, 11, 27, 9, tzinfo=TOKYO)
    assert trigger.get_next_fire_time(friday, friday) == datetime(2026, 11, 30, 9, tzinfo=TOKYO)
    # another zone: the trigger answers in its own zone whatever zone "now" is in
    assert trigger.get_next_fire_time(None, nine.astimezone(UTC)) == nine


def test_daylight_saving_gaps_and_repeats_fire_once():
    # New York, 2026-03-08: 02:00-03:00 does not exist; 2026-11-01: 01:00-02:00 happens twice
    spring = next_run("30 2 * * *", "America/New_York", datetime(2026, 3, 7, 12, tzinfo=UTC))
    assert spring is not None and spring.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    after = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    first = next_run("30 1 * * *", "America/New_York", after)
    second = next_run("30 1 * * *", "America/New_York", first)
    assert first is not None and second is not None
    assert (second - first) > timedelta(hours=23)  # not again an hour later


def test_schedules_explain_themselves():
    assert explain("0 9 * * 1-5") == "At 09:00 on Monday through Friday"


def test_invalid_cron():
    # sat-sun wraps around the week: crontab refuses it too (write 6,0 or sat,sun)
    bad_ones = ("0 9 * *", "61 9 * * *", "0 9 * * funday", "0 9 * * 8", "0 9 * * sat-sun", "")
    for bad in bad_ones:
        with pytest.raises(ValueError, match="cron expression"):
            cron_trigger(bad, "Asia/Tokyo")


def test_tokyo_0900_digest_covers_articles_seen_before_it(make_config, tmp_path, feed_server):
    """Articles first seen at 08:59 JST are in the 09:00 digest; one at 09:01 is in the next."""
    from tests import feeds
    from tests.test_poll import Clock, poll

    titles = distinct_titles(2)
    config_dir = make_config(
        [{"name": "Wire", "url": feed_server.route("/f.xml", body=b"")}],
        {
            "subscriptions": [
                {"name": "jp", "channel": "#jp-tech-policy", "schedule": "0 9 * * mon-fri"}
            ]
        },
    )
    nine = datetime(2026, 11, 24, 9, 0, tzinfo=TOKYO).astimezone(UTC)

    def serve(n: int) -> None:
        feed_server.route(
            "/f.xml",
            body=feeds.rss(
                [
                    feeds.item(
                        t, f"https://ex.jp/{i}", guid=str(i), published=nine - timedelta(hours=1)
                    )
                    for i, t in enumerate(titles[:n])
                ]
            ),
        )

    serve(1)
    poll(config_dir, tmp_path / "data", Clock(nine - timedelta(minutes=1)))
    config = load_config(config_dir)
    store = SqliteStorage(tmp_path / "data")
    out = __import__("io").StringIO()
    sub = config.bot.subscriptions[0]
    outcome = run_subscription(
        config, store, Matcher(config.keywords), sub, Terminal(out), clock=lambda: nine
    )
    printed = out.getvalue()
    assert outcome.articles == 1 and titles[0] in printed
    assert (
        "Tue 24 Nov 2026 09:00 JST" in printed and "11/24 08:00 JST" in printed
    )  # published 08:00
    store.close()
    serve(2)
    poll(config_dir, tmp_path / "data", Clock(nine + timedelta(minutes=1)), force=True)
    store = SqliteStorage(tmp_path / "data")
    out2 = __import__("io").StringIO()
    outcome = run_subscription(
        config,
        store,
        Matcher(config.keywords),
        sub,
        Terminal(out2),
        clock=lambda: nine + timedelta(hours=8),
    )
    assert (
        outcome.articles == 1 and titles[1] in out2.getvalue() and titles[0] not in out2.getvalue()
    )
    store.close()


def _grouped_naively(items: list[DigestItem]) -> list[tuple[int, tuple[int, ...]]]:
    """The definition: each item joins the first story whose lead is close and similar."""
    from bot.digest.stories import NEAR_DUPLICATE_SIMILARITY, NEAR_DUPLICATE_WINDOW

    ordered = sorted(items, key=lambda i: (-i.score, -i.published.timestamp(), i.article_id))
    stories: list[list[DigestItem]] = []
    for item in ordered:
        for story in stories:
            close = abs(item.published - story[0].published) <= NEAR_DUPLICATE_WINDOW
            if close and similarity(item.title, story[0].title) >= NEAR_DUPLICATE_SIMILARITY:
                story.append(item)
                break
        else:
            stories.append([item])
    return [(s[0].article_id, tuple(o.article_id for o in s[1:])) for s in stories]


@pytest.mark.parametrize("seed", range(6))
def test_indexed_grouping_equals_comparing_every_pair(seed):
    rng = random.Random(seed)
    words = [
        "Japan",
        "govt",
        "chip",
        "subsidy",
        "Rapidus",
        "AI",
        "law",
        "Diet",
        "政府",
        "半導体",
        "補助金",
        "経産省",
        "法案",
        "成立",
        "【速報】",
    ]
    base = datetime(2026, 11, 1, tzinfo=UTC)
    items = [
        DigestItem(
            i,
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))),
            f"https://x.example/{i}",
            "",
            "Wire",
            base + timedelta(hours=rng.randint(0, 200)),
            rng.randint(40, 100),
            ("ai",),
        )
        for i in range(400)
    ]
    got = [(s.lead.article_id, tuple(o.article_id for o in s.others)) for s in group_stories(items)]
    assert got == _grouped_naively(items)
