"""Full text for thin entries: which entries get their article page fetched (a pure gate),
and the whole path over real HTTP on 127.0.0.1: robots.txt, the pace per host, the budget
per cycle, the URL guard, walls and failures recorded on the entry, the decision made again
on the title and the main text, below and above the worker-pool threshold."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.ingest.fulltext import display_width, is_thin, own_text, wants_full_text
from bot.ingest.poll import PROCESS_POOL_MIN_FEEDS, Poller
from bot.models import Article, GroupScore, Match
from bot.storage.sqlite import SqliteStorage
from tests import feeds

NOW = datetime.now(UTC).replace(microsecond=0)

THIN = "総務相、閣議後に会見"  # an actor, nothing decided: a thin candidate
OFF_TOPIC = "大谷翔平が2本塁打"  # no topic, no actor
BODY = (
    "総務省は10日、生成AIの開発事業者向けのガイドライン案を公表し、意見募集を始めた。"
    "AI事業者ガイドラインの改定は、偽情報対策や著作権への対応を盛り込む。"
)


def article(title: str, summary: str = "") -> Article:
    return Article(
        feed="f",
        entry_id="e",
        title=title,
        link="https://example.jp/a",
        canonical_link="https://example.jp/a",
        summary=summary,
        published=NOW,
        date_source="published",
        updated=None,
        language="ja",
    )


def match(*kinds: str, flagged: bool = False) -> Match:
    return Match(
        flagged=flagged,
        score=50 if flagged else 0,
        topics=(),
        reasons=tuple(GroupScore(k, k, 1.0, True, ()) for k in kinds),
    )


# -- the gate ---------------------------------------------------------------------------


def test_width_counts_japanese_twice_and_the_title_is_not_the_entry_s_own_text():
    assert display_width("AI") == 2 and display_width("政府") == 4
    assert own_text(article("総務省が指針", "総務省が指針 ")) == ""
    assert own_text(article("総務省が指針", "総務省が指針。詳細は")) == "。詳細は"
    assert is_thin(article("t", "あ" * 99), 200)  # 198 columns
    assert not is_thin(article("t", "あ" * 100), 200)
    assert is_thin(article("t", "a" * 199), 200)
    assert not is_thin(article("t", "a" * 200), 200)


@pytest.mark.parametrize(
    ("summary", "found", "tags", "mode", "wanted"),
    [
        ("", match("actor"), (), "auto", True),  # headline only, an actor: fetch
        ("", match("topic"), (), "auto", True),
        ("", match("action", "other"), (), "auto", False),  # no topic, no actor
        ("", None, (), "auto", False),
        ("", None, ("jp-gov",), "auto", True),  # an official feed's entry is a candidate
        ("", match("actor", flagged=True), (), "auto", False),  # decided already
        ("あ" * 150, match("actor"), (), "auto", False),  # enough text of its own
        ("", match("actor"), (), "never", False),
        ("あ" * 150, None, (), "always", True),
        ("", match("actor", flagged=True), (), "always", True),
    ],
)
def test_which_new_entries_get_their_page(summary, found, tags, mode, wanted):
    assert (
        wants_full_text(article(THIN, summary), found, mode=mode, thin_below=200, feed_tags=tags)
        is wanted
    )


# -- end to end ------------------------------------------------------------------------


def page(text: str, title: str = THIN) -> bytes:
    """An article page as news sites make them: navigation, a sidebar of other stories, the
    article, a footer."""
    paragraphs = "".join(f"<p>{p}。</p>" for p in text.split("。") if p)
    return f"""<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>{title} | ニュース</title></head><body>
<nav><a href="/">トップ</a> <a href="/sports">スポーツ</a> <a href="/it">IT</a></nav>
<aside><h2>アクセスランキング</h2><ul><li><a href="/x">大谷翔平が2本塁打</a></li>
<li><a href="/y">新作ゲームの発売日決まる</a></li></ul></aside>
<main><article><h1>{title}</h1>{paragraphs}
<p>同省は来月末まで意見を受け付け、年度内の取りまとめを目指す。</p></article></main>
<footer>Copyright ニュース</footer></body></html>""".encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def serve_feed(feed_server, path: str, titles: list[str], *, descriptions=None) -> list[str]:
    """A feed of ``titles`` whose links point at pages on the same server; the links."""
    links = [feed_server.url(f"{path}/a{i}") for i in range(len(titles))]
    feed_server.route(
        f"{path}.xml",
        body=feeds.rss(
            [
                feeds.item(
                    t,
                    link,
                    guid=f"{path}-{i}",
                    published=NOW - timedelta(minutes=10 + i),
                    description=(descriptions or [""] * len(titles))[i],
                )
                for i, (t, link) in enumerate(zip(titles, links, strict=True))
            ]
        ),
    )
    return links


def run_poll(config_dir: Path, data_dir: Path):
    config = load_config(config_dir)
    store = SqliteStorage(data_dir)
    try:
        poller = Poller(config, store, clock=Clock(), rng=random.Random(1))
        outcomes = asyncio.run(poller.poll())
        return {o.feed: o for o in outcomes}, {a.article.title: a for a in store.articles()}
    finally:
        store.close()


LOCAL = {"fetch": {"allow_private_hosts": ["127.0.0.1"]}}


def paths(feed_server) -> list[str]:
    return [r.path for r in feed_server.requests]


def test_a_thin_candidate_is_decided_on_its_article_and_the_rest_are_not_fetched(
    feed_server, make_config, tmp_path
):
    links = serve_feed(
        feed_server,
        "/news",
        [THIN, OFF_TOPIC, "経産相が会見"],
        descriptions=["", "", "経済産業省は " + "詳しい説明。" * 40],
    )
    feed_server.route("/news/a0", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config([{"name": "News", "url": feed_server.url("/news.xml")}], LOCAL)

    outcomes, stored = run_poll(config, tmp_path / "data")

    thin = stored[THIN]
    assert thin.flagged and thin.decided_by == "full_text"
    assert thin.full_text is not None and thin.full_text.outcome == "ok"
    assert "ガイドライン案を公表" in thin.full_text.text
    assert "アクセスランキング" not in thin.full_text.text  # the sidebar is not the article
    assert outcomes["News"].full_texts == ("ok",)
    assert thin.id in outcomes["News"].flagged_ids
    # not candidates, or not thin: decided on the feed, their pages never requested
    assert stored[OFF_TOPIC].full_text is None and stored[OFF_TOPIC].decided_by == "feed"
    assert stored["経産相が会見"].full_text is None
    requested = paths(feed_server)
    assert "/news/a0" in requested
    assert "/news/a1" not in requested and "/news/a2" not in requested
    assert links[0].endswith("/news/a0")


def test_walls_403s_and_non_html_are_recorded_and_block_nothing(feed_server, make_config, tmp_path):
    titles = [f"総務相、閣議後に会見 {n}" for n in range(4)]
    serve_feed(feed_server, "/w", titles)
    feed_server.route("/w/a0", status=403, body=b"forbidden", content_type="text/html")
    feed_server.route(
        "/w/a1",
        body="""<html><body><main><article><h1>総務相</h1>
<p>この記事は有料会員限定です。有料会員になると続きをお読みいただけます。</p>
</article></main></body></html>""".encode(),
        content_type="text/html; charset=utf-8",
    )
    feed_server.route("/w/a2", body=b"%PDF-1.7 binary", content_type="application/pdf")
    feed_server.route("/w/a3", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config([{"name": "W", "url": feed_server.url("/w.xml")}], LOCAL)

    outcomes, stored = run_poll(config, tmp_path / "data")

    by_title = {t: stored[t] for t in titles}
    forbidden = by_title[titles[0]].full_text
    assert forbidden is not None and forbidden.outcome == "failed"
    assert "403" in forbidden.detail
    assert by_title[titles[1]].full_text.outcome == "paywall"
    assert by_title[titles[2]].full_text.outcome == "not_html"
    assert by_title[titles[3]].full_text.outcome == "ok" and by_title[titles[3]].flagged
    # every entry stored; those without text decided on their feed text (a teaser's lead,
    # if any, is text to decide on; the wall's own message never is)
    assert by_title[titles[0]].decided_by == by_title[titles[2]].decided_by == "feed"
    assert "続きをお読み" not in by_title[titles[1]].full_text.text
    assert sorted(outcomes["W"].full_texts) == ["failed", "not_html", "ok", "paywall"]
    assert outcomes["W"].status == "ok"


def test_robots_txt_is_read_once_per_host_and_obeyed(feed_server, make_config, tmp_path):
    titles = [f"デジタル相が会見 {n}" for n in range(3)]
    serve_feed(feed_server, "/r", titles)
    feed_server.route(
        "/robots.txt",
        body=b"User-agent: *\nDisallow: /r/a1\n\nUser-agent: jp-techpolicy-bot\nDisallow: /r/a2\n",
        content_type="text/plain",
    )
    for n in range(3):
        feed_server.route(f"/r/a{n}", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config([{"name": "R", "url": feed_server.url("/r.xml")}], LOCAL)

    _, stored = run_poll(config, tmp_path / "data")

    requested = paths(feed_server)
    assert requested.count("/robots.txt") == 1
    # our own group applies (RFC 9309: the most specific group, not '*' as well)
    assert "/r/a2" not in requested
    assert stored[titles[2]].full_text.outcome == "robots"
    assert "robots.txt" in stored[titles[2]].full_text.detail
    assert stored[titles[0]].full_text.outcome == "ok"
    assert stored[titles[1]].full_text.outcome == "ok"


def test_an_unreachable_robots_txt_allows_nothing(feed_server, make_config, tmp_path):
    serve_feed(feed_server, "/u", [THIN])
    feed_server.route("/robots.txt", status=503, body=b"down", content_type="text/plain")
    feed_server.route("/u/a0", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config([{"name": "U", "url": feed_server.url("/u.xml")}], LOCAL)

    _, stored = run_poll(config, tmp_path / "data")

    assert stored[THIN].full_text.outcome == "robots"
    assert "/u/a0" not in paths(feed_server)


def test_the_budget_caps_page_fetches_per_cycle_and_the_pace_spaces_them(
    feed_server, make_config, tmp_path
):
    titles = [f"文科相が会見 {n}" for n in range(4)]
    serve_feed(feed_server, "/b", titles)
    for n in range(4):
        feed_server.route(f"/b/a{n}", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config(
        [{"name": "B", "url": feed_server.url("/b.xml")}],
        {**LOCAL, "full_text": {"per_cycle": 2, "per_host_interval": "0.5s"}},
    )

    outcomes, stored = run_poll(config, tmp_path / "data")

    assert sorted(outcomes["B"].full_texts) == ["budget", "budget", "ok", "ok"]
    page_requests = [r for r in feed_server.requests if r.path.startswith("/b/a")]
    assert len(page_requests) == 2
    assert page_requests[1].at - page_requests[0].at >= 0.45
    assert sum(1 for t in titles if stored[t].full_text.outcome == "budget") == 2


def test_overlapping_polls_share_one_budget(feed_server, make_config, tmp_path):
    # The service's interval groups poll at the same time on one poller: the cap is the
    # cycle's, not each group's.
    for name in ("c", "d"):
        serve_feed(feed_server, f"/{name}", [f"文科相が会見 {name}{n}" for n in range(3)])
        for n in range(3):
            feed_server.route(
                f"/{name}/a{n}",
                body=page(BODY),
                content_type="text/html; charset=utf-8",
                # C's first page is slow: C's poll is still running when D's starts
                delay=2.0 if (name, n) == ("c", 0) else 0.0,
            )
    config_dir = make_config(
        [
            {"name": "C", "url": feed_server.url("/c.xml"), "interval": "5m"},
            {"name": "D", "url": feed_server.url("/d.xml"), "interval": "15m"},
        ],
        {**LOCAL, "full_text": {"per_cycle": 2, "per_host_interval": "0.2s"}},
    )
    config = load_config(config_dir)
    store = SqliteStorage(tmp_path / "data")
    try:
        poller = Poller(config, store, clock=Clock(), rng=random.Random(1))

        async def later(feed):
            # D starts once C has spent its budget (C's first page is on its way)
            while not any(r.path.startswith("/c/a") for r in feed_server.requests):
                await asyncio.sleep(0.05)
            return await poller.poll([feed])

        async def both() -> list:
            c, d = config.feeds
            return await asyncio.gather(poller.poll([c]), later(d))

        results = asyncio.run(both())
    finally:
        store.close()
    outcomes = [o for group in results for o in group]
    fetched = [r for r in feed_server.requests if r.path.startswith(("/c/a", "/d/a"))]
    assert len(fetched) == 2
    assert sorted(t for o in outcomes for t in o.full_texts).count("ok") == 2


def test_links_to_private_addresses_are_refused_unless_allowed(feed_server, make_config, tmp_path):
    serve_feed(feed_server, "/p", [THIN])
    feed_server.route("/p/a0", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config([{"name": "P", "url": feed_server.url("/p.xml")}])  # no allowance

    _, stored = run_poll(config, tmp_path / "data")

    assert stored[THIN].full_text.outcome == "refused"
    assert "/p/a0" not in paths(feed_server) and "/robots.txt" not in paths(feed_server)
    assert stored[THIN].decided_by == "feed"


@pytest.mark.parametrize(("mode", "fetched"), [("never", False), ("always", True)])
def test_full_text_per_feed(feed_server, make_config, tmp_path, mode, fetched):
    serve_feed(feed_server, "/m", [OFF_TOPIC])
    feed_server.route("/m/a0", body=page(BODY), content_type="text/html; charset=utf-8")
    config = make_config(
        [{"name": "M", "url": feed_server.url("/m.xml"), "full_text": mode}], LOCAL
    )

    _, stored = run_poll(config, tmp_path / "data")

    assert ("/m/a0" in paths(feed_server)) is fetched
    assert (stored[OFF_TOPIC].full_text is not None) is fetched


@pytest.mark.parametrize("feed_count", [PROCESS_POOL_MIN_FEEDS - 1, PROCESS_POOL_MIN_FEEDS + 1])
def test_full_text_below_and_above_the_worker_pool_threshold(
    feed_server, make_config, tmp_path, feed_count
):
    """Extraction runs where parsing runs: in a thread below the threshold, in the worker
    processes above it; the outcome must be the same."""
    specs = []
    for n in range(feed_count):
        serve_feed(feed_server, f"/f{n}", [f"{THIN} {n}"])
        feed_server.route(f"/f{n}/a0", body=page(BODY), content_type="text/html; charset=utf-8")
        specs.append({"name": f"F{n}", "url": feed_server.url(f"/f{n}.xml")})
    config = make_config(specs, {**LOCAL, "full_text": {"per_host_interval": "0.01s"}})

    outcomes, stored = run_poll(config, tmp_path / "data")

    assert all(o.full_texts == ("ok",) for o in outcomes.values()), outcomes
    assert all(stored[f"{THIN} {n}"].flagged for n in range(feed_count))
    assert all(stored[f"{THIN} {n}"].decided_by == "full_text" for n in range(feed_count))


def test_a_shift_jis_page_declared_only_in_meta_is_read(feed_server, make_config, tmp_path):
    serve_feed(feed_server, "/s", [THIN])
    markup = page(BODY).decode().replace('<meta charset="utf-8">', '<meta charset="Shift_JIS">')
    feed_server.route("/s/a0", body=markup.encode("cp932"), content_type="text/html")
    config = make_config([{"name": "S", "url": feed_server.url("/s.xml")}], LOCAL)

    _, stored = run_poll(config, tmp_path / "data")

    assert stored[THIN].full_text.outcome == "ok"
    assert "ガイドライン案を公表" in stored[THIN].full_text.text
    assert stored[THIN].decided_by == "full_text"


def test_a_redirect_from_an_allowed_host_to_a_forbidden_one_is_refused(
    feed_server, make_config, tmp_path
):
    from tests.feedserver import FeedServer

    other = FeedServer("127.0.0.2").start()  # loopback too, and not in the allowance
    try:
        other.route("/secret", body=page(BODY), content_type="text/html; charset=utf-8")
        serve_feed(feed_server, "/d", [THIN])
        feed_server.route("/d/a0", status=302, location=other.url("/secret"), body=b"")
        config = make_config([{"name": "D", "url": feed_server.url("/d.xml")}], LOCAL)

        _, stored = run_poll(config, tmp_path / "data")

        assert stored[THIN].full_text.outcome == "refused"
        assert "127.0.0.2" in stored[THIN].full_text.detail
        assert other.requests == []  # never connected to, let alone asked
        assert "/d/a0" in paths(feed_server)  # the allowed hop was made
    finally:
        other.stop()


def test_hostile_entry_links_are_refused_and_nothing_is_requested(
    feed_server, make_config, tmp_path
):
    port = feed_server.url("/").split(":")[2].split("/")[0]
    hostile = {
        "file": "file:///etc/passwd",
        "gopher": f"gopher://127.0.0.1:{port}/_GET",
        "localhost": f"http://localhost:{port}/h/page",  # a name that resolves to loopback
        "metadata": "http://169.254.169.254/latest/meta-data/",
    }
    titles = [f"{THIN} {name}" for name in hostile]
    feed_server.route(
        "/h.xml",
        body=feeds.rss(
            [
                feeds.item(t, link, guid=t, published=NOW - timedelta(minutes=5))
                for t, link in zip(titles, hostile.values(), strict=True)
            ]
        ),
    )
    feed_server.route("/h/page", body=page(BODY), content_type="text/html; charset=utf-8")
    # the feed's own host is trusted (configured), its content's links are not
    config = make_config([{"name": "H", "url": feed_server.url("/h.xml")}])

    _, stored = run_poll(config, tmp_path / "data")

    assert paths(feed_server) == ["/h.xml"]
    for title in titles:
        entry = stored[title]
        assert entry.decided_by == "feed"
        assert entry.full_text is None or entry.full_text.outcome == "refused", (
            title,
            entry.article.link,
            entry.full_text,
        )
    assert stored[f"{THIN} localhost"].full_text.outcome == "refused"
    assert stored[f"{THIN} metadata"].full_text.outcome == "refused"


def test_a_guarded_feed_is_fetched_through_the_url_guard_at_every_poll(
    feed_server, make_config, tmp_path
):
    # Feeds added from Slack are guarded: a redirect (or a DNS change) after they were
    # added must not reach an address the guard forbids; a configured feed is trusted.
    from tests.feedserver import FeedServer

    other = FeedServer("127.0.0.2").start()  # loopback too, and not in the allowance
    try:
        body = feeds.rss([feeds.item(THIN, "https://x.example/1")])
        inner = other.route("/inner.xml", body=body)
        configured = other.route("/configured.xml", body=body)
        feed_server.route("/moved.xml", status=301, location=inner)
        config = make_config(
            [
                {"name": "Guarded", "url": feed_server.url("/moved.xml"), "guarded": True},
                {"name": "Direct", "url": inner, "guarded": True},
                {"name": "Configured", "url": configured},
            ],
            LOCAL,
        )
        outcomes, _ = run_poll(config, tmp_path / "data")
        for name in ("Guarded", "Direct"):
            assert outcomes[name].error_kind == "refused", outcomes[name]
            assert "127.0.0.2" in str(outcomes[name].error_message)
        assert outcomes["Configured"].status == "ok"
        # the only request 127.0.0.2 saw is the configured feed's
        assert [r.path for r in other.requests] == ["/configured.xml"]
    finally:
        other.stop()
