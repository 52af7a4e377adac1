"""Polling end to end over real HTTP on 127.0.0.1: what gets stored, and feed health."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.ingest.poll import PROCESS_POOL_MIN_FEEDS, Poller
from bot.storage.sqlite import SqliteStorage
from tests import feeds

NOW = datetime.now(UTC).replace(microsecond=0)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def poll(config_dir: Path, data_dir: Path, clock=None, force=False):
    config = load_config(config_dir)
    store = SqliteStorage(data_dir)
    try:
        poller = Poller(config, store, clock=clock or Clock(), rng=random.Random(1))
        outcomes = asyncio.run(poller.poll(force=force))
        return (
            {o.feed: o for o in outcomes},
            store.articles(),
            {s.name: s for s in store.all_feeds()},
        )
    finally:
        store.close()


def recent_rss(
    n: int = 3, prefix: str = "item", guid_prefix: str = "g", link_suffix: str = ""
) -> bytes:
    return feeds.rss(
        [
            feeds.item(
                f"{prefix} {i}",
                f"https://gen.example.com/{prefix}/{i}{link_suffix}",
                guid=f"{guid_prefix}{i}",
                published=NOW - timedelta(hours=i + 1),
                description=f"body {i}",
            )
            for i in range(n)
        ]
    )


def test_every_format_and_encoding_is_stored(feed_server, make_config, tmp_path, run_bot):
    specs = {
        "rss10": ("/rss10.rdf", feeds.load("rss10_dcdate.rdf"), "application/rdf+xml"),
        "rss20": ("/rss20.xml", feeds.load("rss20.xml"), "application/rss+xml"),
        "atom10": ("/atom.xml", feeds.load("atom10.xml"), "application/atom+xml"),
        "atom03": ("/atom03.xml", feeds.load("atom03.xml"), "application/atom+xml"),
        "sjis": ("/sjis.xml", feeds.load("ja_news.xml", "cp932", ""), "text/xml"),
        "eucjp": ("/euc.xml", feeds.load("ja_news.xml", "euc_jp", "EUC-JP"), "application/rss+xml"),
        "json": (
            "/feed.json",
            (feeds.DATA / "jsonfeed.json").read_bytes(),
            "application/feed+json",
        ),
        "malformed": ("/broken.xml", feeds.load("malformed.xml"), "application/rss+xml"),
    }
    config = make_config(
        [
            {"name": name, "url": feed_server.route(path, body=body, content_type=ctype)}
            for name, (path, body, ctype) in specs.items()
        ]
    )
    outcomes, articles, health = poll(config, tmp_path / "data")
    assert {name: o.status for name, o in outcomes.items()} == dict.fromkeys(specs, "ok")
    by_feed: dict[str, set[str]] = {}
    for a in articles:
        for source in a.sources:
            by_feed.setdefault(source, set()).add(a.article.title)
    assert by_feed["sjis"] == {
        "政府、生成ＡＩの安全性評価に関する指針を公表",
        "総務省、５Ｇ基地局の整備に補助金",
    }
    # the EUC-JP feed carries the same two stories (same links): stored once, two sources
    assert by_feed["eucjp"] == by_feed["sjis"]
    assert len([a for a in articles if set(a.sources) == {"sjis", "eucjp"}]) == 2
    assert by_feed["rss10"] == {
        "次世代半導体の量産に向けた追加支援を決定しました",
        "サイバーセキュリティ産業振興戦略を公表します",
    }
    assert (
        len(by_feed["rss20"]) == 3 and len(by_feed["atom10"]) == 2 and len(by_feed["atom03"]) == 1
    )
    assert len(by_feed["json"]) == 2 and len(by_feed["malformed"]) == 2
    # relative link resolved against the URL we fetched
    rss20_links = {a.article.link for a in articles if a.article.feed == "rss20"}
    assert f"http://127.0.0.1:{feed_server.port}/japan-ai-guidelines" in rss20_links
    # the malformed feed's warning is kept on its health record, and shown by `feeds`
    store = SqliteStorage(tmp_path / "data")
    assert any("not well-formed" in w for w in store.feed_warnings("malformed"))
    store.close()
    shown = run_bot("--config", str(config), "--data-dir", str(tmp_path / "data"), "feeds").out
    assert "warning: not well-formed" in shown
    assert all(h.consecutive_failures == 0 and h.last_success == NOW for h in health.values())


def test_conditional_get_304_costs_no_parsing(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/f.xml", body=recent_rss(), etag='"v1"', last_modified="Fri, 20 Nov 2026 00:00:00 GMT"
    )
    config = make_config([{"name": "f", "url": url}])
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["f"].new == 3
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["f"].status == "not_modified"
    second = feed_server.requests_to("/f.xml")[-1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Fri, 20 Nov 2026 00:00:00 GMT"
    assert health["f"].last_success is not None and health["f"].etag == '"v1"'


def test_same_body_without_validators_is_not_parsed_again(feed_server, make_config, tmp_path):
    url = feed_server.route("/f.xml", body=recent_rss())
    config = make_config([{"name": "f", "url": url}])
    poll(config, tmp_path / "d")
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["f"].status == "unchanged"
    feed_server.route("/f.xml", body=recent_rss(4))
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert outcomes["f"].status == "ok" and outcomes["f"].new == 1 and len(articles) == 4


def test_server_error_is_recorded_backed_off_and_retried(feed_server, make_config, tmp_path):
    bad = feed_server.route("/bad.xml", status=500, body=b"oops", content_type="text/plain")
    good = feed_server.route("/good.xml", body=recent_rss())
    config = make_config(
        [{"name": "bad", "url": bad}, {"name": "good", "url": good}],
        {"poll": {"backoff_base": "5m"}},
    )
    clock = Clock()
    outcomes, articles, health = poll(config, tmp_path / "d", clock)
    assert outcomes["bad"].status == "error" and outcomes["bad"].error_kind == "http"
    assert "HTTP 500" in outcomes["bad"].error_message
    assert outcomes["good"].new == 3 and len(articles) == 3  # one broken feed stops nothing
    h = health["bad"]
    assert h.consecutive_failures == 1 and h.last_error_kind == "http"
    assert NOW + timedelta(minutes=4) <= h.next_poll <= NOW + timedelta(minutes=6)
    # still backing off a minute later: skipped, not hammered
    clock.advance(minutes=1)
    outcomes, _, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["bad"].status == "skipped"
    assert len(feed_server.requests_to("/bad.xml")) == 1
    # after the backoff: retried, fails again, waits about twice as long
    clock.advance(minutes=5)
    outcomes, _, health = poll(config, tmp_path / "d", clock)
    assert outcomes["bad"].status == "error" and health["bad"].consecutive_failures == 2
    assert (
        clock.now + timedelta(minutes=8)
        <= health["bad"].next_poll
        <= clock.now + timedelta(minutes=12)
    )
    # recovery clears the error
    feed_server.route("/bad.xml", body=recent_rss(1, prefix="back"))
    clock.advance(minutes=15)
    outcomes, _, health = poll(config, tmp_path / "d", clock)
    assert outcomes["bad"].status == "ok" and health["bad"].consecutive_failures == 0
    assert health["bad"].last_error_kind is None


def test_429_retry_after_is_respected(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/rl.xml", status=429, headers={"retry-after": "120"}, content_type="text/plain"
    )
    config = make_config([{"name": "rl", "url": url}])
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["rl"].error_kind == "rate_limited"
    assert "120" in outcomes["rl"].error_message
    assert health["rl"].next_poll == NOW + timedelta(seconds=120)


def test_retry_after_is_capped(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/rl.xml", status=503, headers={"retry-after": "99999999"}, content_type="text/plain"
    )
    config = make_config([{"name": "rl", "url": url}], {"fetch": {"max_server_delay": "1h"}})
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["rl"].error_kind == "unavailable"
    assert health["rl"].next_poll == NOW + timedelta(hours=1)


def test_cache_control_max_age_delays_the_next_poll(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/c.xml", body=recent_rss(), headers={"cache-control": "public, max-age=7200"}
    )
    config = make_config([{"name": "c", "url": url, "interval": "15m"}])
    clock = Clock()
    _, _, health = poll(config, tmp_path / "d", clock)
    assert health["c"].next_poll == NOW + timedelta(hours=2)
    clock.advance(minutes=30)
    outcomes, _, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["c"].status == "skipped"
    outcomes, _, _ = poll(config, tmp_path / "d", clock, force=True)
    assert outcomes["c"].status == "unchanged"


@pytest.mark.slow
def test_slow_server_hits_the_deadline(feed_server, make_config, tmp_path):
    slow = feed_server.route("/slow.xml", body=recent_rss(), delay=3)
    trickle = feed_server.route("/trickle.xml", body=recent_rss(), trickle=0.05)
    fine = feed_server.route("/fine.xml", body=recent_rss())
    config = make_config(
        [
            {"name": "slow", "url": slow},
            {"name": "trickle", "url": trickle},
            {"name": "fine", "url": fine},
        ],
        {"fetch": {"deadline": "1s", "read_timeout": "10s"}},
    )
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["slow"].error_kind == "timeout"
    # the trickling server sends a byte every 50 ms, so only the overall deadline stops it
    assert (
        outcomes["trickle"].error_kind == "timeout"
        and "deadline" in outcomes["trickle"].error_message
    )
    assert outcomes["fine"].status == "ok"
    assert health["trickle"].consecutive_failures == 1


def test_read_timeout(feed_server, make_config, tmp_path):
    url = feed_server.route("/hang.xml", body=recent_rss(), delay=2)
    config = make_config([{"name": "hang", "url": url}], {"fetch": {"read_timeout": "0.5s"}})
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert (
        outcomes["hang"].error_kind == "timeout"
        and "waiting for data" in outcomes["hang"].error_message
    )


def test_200_mb_response_is_cut_off_at_the_limit(feed_server, make_config, tmp_path):
    huge = feed_server.route("/huge.xml", stream_bytes=200 * 1024 * 1024)
    declared = feed_server.route("/declared.xml", body=b"x" * (2 * 1024 * 1024))
    config = make_config(
        [{"name": "huge", "url": huge}, {"name": "declared", "url": declared}],
        {"fetch": {"max_body_mb": 1}},
    )
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["huge"].error_kind == "too_large"
    assert "1 MB limit" in outcomes["huge"].error_message
    assert (
        outcomes["declared"].error_kind == "too_large"
        and "declared" in outcomes["declared"].error_message
    )
    assert health["huge"].consecutive_failures == 1


def test_html_page_instead_of_a_feed(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/moved", body=feeds.load("html_page.html"), content_type="text/html; charset=utf-8"
    )
    config = make_config([{"name": "page", "url": url}])
    outcomes, articles, health = poll(config, tmp_path / "d")
    assert outcomes["page"].error_kind == "not_a_feed"
    assert "HTML page" in health["page"].last_error_message
    assert articles == []


def test_permanent_redirect_updates_the_stored_url_temporary_does_not(
    feed_server, make_config, tmp_path
):
    new = feed_server.route("/new.xml", body=recent_rss())
    old = feed_server.route("/old.xml", status=301, location=new)
    temp_target = feed_server.route("/temp-target.xml", body=recent_rss(2, prefix="t"))
    temp = feed_server.route("/temp.xml", status=302, location=temp_target)
    config = make_config([{"name": "moved", "url": old}, {"name": "temp", "url": temp}])
    outcomes, _, health = poll(config, tmp_path / "d")
    assert outcomes["moved"].new == 3 and any(
        "moved permanently" in w for w in outcomes["moved"].warnings
    )
    assert health["moved"].url == new and health["moved"].config_url == old
    assert health["temp"].url == temp
    # next poll goes straight to the new address
    poll(config, tmp_path / "d", force=True)
    assert len(feed_server.requests_to("/old.xml")) == 1
    assert len(feed_server.requests_to("/new.xml")) == 2


def test_gzip_and_user_agent(feed_server, make_config, tmp_path):
    url = feed_server.route("/gz.xml", body=recent_rss(), gzip=True)
    config = make_config([{"name": "gz", "url": url}])
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["gz"].new == 3
    request = feed_server.requests_to("/gz.xml")[0]
    assert (
        "gzip" in request.headers["accept-encoding"] and "br" in request.headers["accept-encoding"]
    )
    assert request.headers["user-agent"].startswith("jp-techpolicy-bot/")


@pytest.mark.slow
def test_per_host_concurrency_limit(feed_server, make_config, tmp_path):
    config = make_config(
        [
            {
                "name": f"f{i}",
                "url": feed_server.route(
                    f"/f{i}.xml", body=recent_rss(1, prefix=f"p{i}"), delay=0.3
                ),
            }
            for i in range(6)
        ],
        {"fetch": {"per_host_concurrency": 2, "max_concurrency": 10}},
    )
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert all(o.status == "ok" for o in outcomes.values())
    assert feed_server.max_active == 2


def test_guid_churn_and_tracking_parameters_do_not_duplicate(feed_server, make_config, tmp_path):
    url = feed_server.route("/f.xml", body=recent_rss(3))
    config = make_config([{"name": "f", "url": url}])
    poll(config, tmp_path / "d")
    feed_server.route(
        "/f.xml",
        body=recent_rss(3, guid_prefix="churned-", link_suffix="?utm_source=rss&fbclid=abc"),
    )
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert outcomes["f"].new == 0 and len(articles) == 3


def test_same_story_in_two_feeds_is_stored_once_with_both_sources(
    feed_server, make_config, tmp_path
):
    a = feed_server.route("/a.xml", body=recent_rss(2))
    b = feed_server.route(
        "/b.xml", body=recent_rss(2, guid_prefix="other-", link_suffix="?utm_medium=social")
    )
    config = make_config([{"name": "a", "url": a}, {"name": "b", "url": b}])
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert outcomes["a"].new + outcomes["b"].new == 2
    assert len(articles) == 2 and all(set(x.sources) == {"a", "b"} for x in articles)


def test_first_poll_of_a_year_of_backlog_then_a_new_item(feed_server, make_config, tmp_path):
    old = [
        feeds.item(
            f"old {d}",
            f"https://gen.example.com/old/{d}",
            guid=f"old{d}",
            published=NOW - timedelta(days=d),
        )
        for d in range(3, 368)
    ]
    recent = [
        feeds.item(
            "fresh",
            "https://gen.example.com/fresh",
            guid="fresh",
            published=NOW - timedelta(hours=2),
        )
    ]
    url = feed_server.route("/year.xml", body=feeds.rss(recent + old))
    config = make_config([{"name": "year", "url": url}])
    clock = Clock()
    outcomes, articles, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["year"].new == 1 and outcomes["year"].backlog == 365
    assert [a.article.title for a in articles if not a.backlog] == ["fresh"]
    newer = [
        feeds.item(
            "newer",
            "https://gen.example.com/newer",
            guid="newer",
            published=NOW + timedelta(minutes=5),
        )
    ]
    feed_server.route("/year.xml", body=feeds.rss(newer + recent + old))
    clock.advance(minutes=10)
    outcomes, _, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["year"].new == 1 and outcomes["year"].backlog == 0


def test_edit_updates_and_is_not_new(feed_server, make_config, tmp_path):
    url = feed_server.route("/e.xml", body=recent_rss(2))
    config = make_config([{"name": "e", "url": url}])
    poll(config, tmp_path / "d")
    edited = recent_rss(2).replace(b"body 0", b"body 0 (corrected figures)")
    feed_server.route("/e.xml", body=edited)
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert (outcomes["e"].new, outcomes["e"].edited) == (0, 1)
    assert {a.article.summary for a in articles} == {"body 0 (corrected figures)", "body 1"}


def test_poll_once_cli_summary_and_restart_adds_nothing(
    feed_server, make_config, tmp_path, run_bot
):
    ok = feed_server.route("/ok.xml", body=recent_rss(3), etag='"e1"')
    down = feed_server.route("/down.xml", status=500, content_type="text/plain")
    config = make_config([{"name": "ok-feed", "url": ok}, {"name": "down-feed", "url": down}])
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    first = run_bot(*args, "poll", "--once")
    assert first.code == 0, first.err
    assert "ok-feed" in first.out and "new 3" in first.out
    assert "down-feed" in first.out and "ERROR http: HTTP 500" in first.out
    assert "total: 2 feeds, 3 new articles" in first.out
    # a new process with the same data dir: nothing new, the 304 is used
    second = run_bot(*args, "poll", "--once")
    assert "not modified (304)" in second.out and "total: 2 feeds, 0 new articles" in second.out
    assert "skipped: backing off" in second.out
    listing = run_bot(*args, "articles", "--json")
    assert len(json.loads(listing.out)) == 3
    health = json.loads(run_bot(*args, "feeds", "--json").out)
    by_name = {h["name"]: h for h in health}
    assert by_name["down-feed"]["status"] == "failing"
    assert by_name["down-feed"]["last_error"]["kind"] == "http"
    assert by_name["down-feed"]["consecutive_failures"] == 1
    assert by_name["ok-feed"]["articles"] == 3 and by_name["ok-feed"]["next_poll"]
    assert by_name["ok-feed"]["warnings"] == []
    table = run_bot(*args, "feeds")
    assert "FEED" in table.out and "failing" in table.out and "HTTP 500" in table.out


def policy_rss(items: list[tuple[str, str, str]]) -> bytes:
    """(guid, title, link) items published an hour ago."""
    return feeds.rss(
        [feeds.item(t, link, guid=g, published=NOW - timedelta(hours=1)) for g, t, link in items]
    )


def test_polling_matches_new_articles_and_records_why(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/news.xml",
        body=policy_rss(
            [
                ("1", "政府、半導体の研究拠点に補助金", "https://n.example.jp/1"),
                ("2", "大谷翔平、MVPに選出", "https://n.example.jp/2"),
                ("3", "US expands chip export curbs on China", "https://n.example.jp/3"),
            ]
        ),
    )
    config = make_config([{"name": "news", "url": url, "language": "ja"}])
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert outcomes["news"].new == 3 and outcomes["news"].flagged == 1
    by_title = {a.article.title: a for a in articles}
    hit = by_title["政府、半導体の研究拠点に補助金"].match
    assert hit is not None and hit.flagged and hit.score > 50
    assert hit.topics == ("semiconductors",)
    reasons = {r.group: r for r in hit.reasons}
    assert reasons["jpgov"].terms[0].term == "政府"
    assert by_title["政府、半導体の研究拠点に補助金"].matched_at is not None
    assert not by_title["大谷翔平、MVPに選出"].flagged
    assert by_title["大谷翔平、MVPに選出"].match is not None  # matched, and said no
    assert not by_title["US expands chip export curbs on China"].flagged


def test_first_poll_backlog_is_not_matched(feed_server, make_config, tmp_path):
    old = feeds.item(
        "政府、AI戦略を改定",
        "https://o.example.jp/old",
        guid="old",
        published=NOW - timedelta(days=30),
    )
    new = feeds.item(
        "政府、量子技術に予算",
        "https://o.example.jp/new",
        guid="new",
        published=NOW - timedelta(hours=1),
    )
    url = feed_server.route("/o.xml", body=feeds.rss([new, old]))
    config = make_config([{"name": "o", "url": url}])
    _, articles, _ = poll(config, tmp_path / "d")
    by_title = {a.article.title: a for a in articles}
    assert (
        by_title["政府、AI戦略を改定"].backlog
        and by_title["政府、AI戦略を改定"].matched_at is None
        and by_title["政府、AI戦略を改定"].match is None
    )
    assert by_title["政府、量子技術に予算"].flagged


def test_ministry_feed_tag_upgrades_a_story_first_seen_elsewhere(
    feed_server, make_config, tmp_path
):
    # A press release title without "government" in it: only the ministry feed's tag
    # gives the context. The wire copy arrives first and is not flagged on its own.
    wire = feed_server.route(
        "/wire.xml",
        body=policy_rss([("w1", "半導体の研究拠点の公募を開始", "https://meti.example.go.jp/p/1")]),
    )
    config = make_config([{"name": "wire", "url": wire}])
    _, articles, _ = poll(config, tmp_path / "d")
    assert not articles[0].flagged
    ministry = feed_server.route(
        "/meti.xml",
        body=policy_rss(
            [
                (
                    "m1",
                    "半導体の研究拠点の公募を開始します",
                    "https://meti.example.go.jp/p/1?utm_source=rss",
                )
            ]
        ),
    )
    config = make_config(
        [{"name": "wire", "url": wire}, {"name": "meti", "url": ministry, "tags": ["jp-gov"]}]
    )
    outcomes, articles, _ = poll(config, tmp_path / "d", force=True)
    assert outcomes["meti"].new == 0  # the same story
    [story] = articles
    assert story.flagged and set(story.sources) == {"wire", "meti"}


def test_articles_cli_flagged_filter(feed_server, make_config, tmp_path, run_bot):
    url = feed_server.route(
        "/f.xml",
        body=policy_rss(
            [
                ("1", "政府、AI推進法案を閣議決定", "https://f.example.jp/1"),
                ("2", "紅葉が見頃", "https://f.example.jp/2"),
            ]
        ),
    )
    config = make_config([{"name": "f", "url": url}])
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert "(1 flagged)" in run_bot(*args, "poll", "--once").out
    listing = json.loads(run_bot(*args, "articles", "--flagged", "--json").out)
    assert [a["title"] for a in listing] == ["政府、AI推進法案を閣議決定"]
    assert listing[0]["topics"] == ["ai"] and listing[0]["reasons"]
    text = run_bot(*args, "articles").out
    assert "[FLAGGED" in text and "2 articles" in text


@pytest.mark.parametrize("feeds", [2, PROCESS_POOL_MIN_FEEDS])
def test_poll_timings_say_where_the_cycle_went(feeds, feed_server, make_config, tmp_path, run_bot):
    # below the pool threshold parsing runs in a thread (no workers_ready); from it, the
    # workers are started while the first requests are in flight
    urls = [feed_server.route(f"/t{i}.xml", body=recent_rss(3)) for i in range(feeds)]
    config = make_config(
        [{"name": f"t{i}", "url": u} for i, u in enumerate(urls)],
        {"poll": {"parse_workers": 2}},
    )
    result = run_bot("--config", str(config), "--data-dir", str(tmp_path / "data"), "poll",
                     "--once", "--timings")  # fmt: skip
    assert result.code == 0, result.err
    [line] = [x for x in result.err.splitlines() if x.startswith("timings: ")]
    times = json.loads(line.removeprefix("timings: "))
    assert set(times) == {"startup", "wall", "fetch", "parse", "match", "store", "workers_ready"}
    assert times["startup"] > 0 and times["wall"] > 0
    assert times["fetch"] > 0 and times["store"] > 0 and times["parse"] > 0
    if feeds >= PROCESS_POOL_MIN_FEEDS:
        assert 0 < times["workers_ready"] <= times["wall"]
    else:
        assert times["workers_ready"] is None
