"""Pages without a feed (``kind: page``), end to end over real HTTP on 127.0.0.1: what is
stored from a page, and that everything a feed has (backlog, conditional GET, unchanged
bodies, health, backoff, worker processes) holds for pages too."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.app.starter import export_opml
from bot.config import FeedConfig, load_config
from bot.ingest.pages import resolve_link
from bot.ingest.poll import PROCESS_POOL_MIN_FEEDS, Poller, uses_worker_processes
from bot.storage.sqlite import SqliteStorage
from tests import feeds, pages
from tests.conftest import ROOT
from tests.test_poll import Clock, poll, recent_rss

NOW = datetime.now(UTC).replace(microsecond=0)
# The commission's list (see news_list.html): the entry's link is in div.news-text, after a
# category label that is a link too.
NEWS_LIST = {"items": "ul.news-list li", "link": "div.news-text a", "date": "time.news-date"}


def page_source(name: str, url: str, page: dict[str, object], **extra: object) -> dict:
    return {"name": name, "url": url, "kind": "page", "page": page, "language": "ja", **extra}


def older(count: int) -> list[pages.Entry]:
    return [
        (f"令和5年度の取組 その{i}", f"/news/press/2023/{i:03d}/", pages.days_ago(NOW, 30 + i))
        for i in range(count)
    ]


FIRST = [
    (
        "生成AIサービスの利用に関する注意喚起を公表しました",
        "../news/press/2024/ai/",
        pages.today(NOW),
    ),
    ("第300回委員会を開催しました", "/aboutus/minutes/300/", pages.days_ago(NOW, 1)),
    ("年次報告を国会に提出しました", "/aboutus/report/2023/", pages.days_ago(NOW, 10)),
    ("システムメンテナンスのお知らせ", None, pages.days_ago(NOW, 3)),  # no link: skipped
]


def test_page_first_poll_backlog_then_a_new_item_then_an_edit(feed_server, make_config, tmp_path):
    path = "/information/index.html"
    url = feed_server.route(
        path, body=pages.news_list(FIRST + older(20)), content_type="text/html; charset=utf-8"
    )
    config = make_config([page_source("commission", url, NEWS_LIST, tags=["jp-gov"])])
    clock = Clock(NOW)

    outcomes, articles, health = poll(config, tmp_path / "d", clock)
    first = outcomes["commission"]
    assert (first.status, first.new, first.backlog) == ("ok", 2, 21)
    assert "1 item(s) without a link ('div.news-text a' with an http(s) href)" in first.warnings
    by_title = {a.article.title: a for a in articles}
    ai = by_title["生成AIサービスの利用に関する注意喚起を公表しました"]
    # relative to <base href="/information/">, not to the page's own path; never the
    # category link that comes first in the item
    assert ai.article.link == feed_server.url("/news/press/2024/ai/")
    assert (
        ai.article.entry_id
        == ai.article.canonical_link
        == f"https://127.0.0.1:{feed_server.port}/news/press/2024/ai/"
    )
    assert ai.article.published == pages.midnight(pages.today(NOW))
    assert ai.article.date_source == "published" and not ai.backlog
    assert by_title["年次報告を国会に提出しました"].backlog
    assert "報道発表" not in by_title and "システムメンテナンスのお知らせ" not in by_title
    assert health["commission"].last_success == NOW
    # matched like any jp-gov source: the tag gives government context
    assert ai.match is not None and ai.flagged

    # the next poll: one item appeared at the top
    clock.advance(minutes=30)
    newer = (
        "個人データの漏えい等事案に関する行政上の対応について",
        "/news/press/2024/leak/",
        pages.today(NOW),
    )
    feed_server.route(
        path,
        body=pages.news_list([newer, *FIRST, *older(20)]),
        content_type="text/html; charset=utf-8",
    )
    outcomes, articles, _ = poll(config, tmp_path / "d", clock, force=True)
    second = outcomes["commission"]
    assert (second.new, second.backlog, second.edited, second.seen) == (1, 0, 0, 23)

    # a title corrected on the page: an edit of the same entry (same link), never new
    clock.advance(minutes=30)
    corrected = [(t.replace("第300回", "第300回（臨時）"), h, d) for t, h, d in [newer, *FIRST]]
    feed_server.route(
        path, body=pages.news_list(corrected + older(20)), content_type="text/html; charset=utf-8"
    )
    outcomes, articles, _ = poll(config, tmp_path / "d", clock, force=True)
    third = outcomes["commission"]
    assert (third.new, third.edited) == (0, 1)
    assert "第300回（臨時）委員会を開催しました" in {a.article.title for a in articles}
    assert len(articles) == 24

    requests = feed_server.requests_to(path)
    assert len(requests) == 3
    assert requests[0].headers["accept"].startswith("text/html")


def test_page_conditional_get_and_unchanged_body(feed_server, make_config, tmp_path):
    body = pages.news_list(FIRST)
    tagged = feed_server.route(
        "/tagged.html",
        body=body,
        content_type="text/html",
        etag='"p1"',
        last_modified="Tue, 09 Apr 2024 01:00:00 GMT",
    )
    plain = feed_server.route("/plain.html", body=body, content_type="text/html")
    config = make_config(
        [page_source("tagged", tagged, NEWS_LIST), page_source("plain", plain, NEWS_LIST)]
    )
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["tagged"].status == "ok" and outcomes["plain"].status == "ok"
    outcomes, _, health = poll(config, tmp_path / "d", force=True)
    assert outcomes["tagged"].status == "not_modified"
    assert outcomes["plain"].status == "unchanged"
    second = feed_server.requests_to("/tagged.html")[-1]
    assert second.headers["if-none-match"] == '"p1"'
    assert second.headers["if-modified-since"] == "Tue, 09 Apr 2024 01:00:00 GMT"
    assert len(feed_server.requests_to("/tagged.html")) == 2
    assert len(feed_server.requests_to("/plain.html")) == 2
    assert health["tagged"].etag == '"p1"' and health["plain"].body_hash


@pytest.mark.parametrize(("codec", "label"), [("cp932", "Shift_JIS"), ("euc_jp", "EUC-JP")])
def test_page_in_a_japanese_encoding_declared_only_in_the_page(
    feed_server, make_config, tmp_path, codec, label
):
    entries = [
        (
            "第①回 AI戦略会議（令和６年度）を開催しました",
            "/cstp/ai/senryaku/1kai.html",
            pages.today(NOW),
        ),
        (
            "半導体・量子の研究開発の方針（案）",
            "/cstp/siryo/haihu/ryoshi.pdf",
            pages.days_ago(NOW, 1),
        ),
    ]
    if codec == "euc_jp":  # ① is CP932-only
        entries[0] = ("第1回 AI戦略会議（令和６年度）を開催しました", *entries[0][1:])
    body = pages.whatsnew_dl(entries, encoding=codec, label=label)
    # no charset in the header: only the page's XML declaration and <meta> say it
    url = feed_server.route("/cstp/whatsnew.html", body=body, content_type="text/html")
    config = make_config([page_source("council", url, {"items": "dl.topics dd", "date": "dt"})])
    outcomes, articles, _ = poll(config, tmp_path / "d")
    outcome = outcomes["council"]
    assert outcome.status == "ok" and outcome.new == 2
    assert not [w for w in outcome.warnings if w.startswith("encoding")]
    stored = {a.article.title: a.article for a in articles}
    assert set(stored) == {entries[0][0], entries[1][0]}
    assert stored[entries[1][0]].published == pages.midnight(pages.days_ago(NOW, 1))
    assert stored[entries[1][0]].link == feed_server.url("/cstp/siryo/haihu/ryoshi.pdf")


def test_a_redesigned_page_fails_clearly_while_other_sources_carry_on(
    feed_server, make_config, tmp_path, run_bot
):
    page = feed_server.route("/info.html", body=pages.news_list(FIRST), content_type="text/html")
    feed = feed_server.route("/feed.xml", body=recent_rss(3))
    # the site renamed its list: the selector of feeds.yaml finds nothing any more
    config = make_config(
        [
            page_source("redesigned", page, {**NEWS_LIST, "items": "ul.topics-list li"}),
            {"name": "feed", "url": feed},
        ],
        {"poll": {"backoff_base": "5m"}},
    )
    outcomes, articles, health = poll(config, tmp_path / "data", Clock(NOW))
    failed = outcomes["redesigned"]
    assert failed.status == "error" and failed.error_kind == "no_items"
    assert "'ul.topics-list li' matched nothing" in failed.error_message
    assert outcomes["feed"].new == 3 and len(articles) == 3
    state = health["redesigned"]
    assert state.consecutive_failures == 1 and state.last_error_kind == "no_items"
    assert NOW + timedelta(minutes=4) <= state.next_poll <= NOW + timedelta(minutes=6)
    # backing off like a failing feed: not fetched again a minute later
    outcomes, _, _ = poll(config, tmp_path / "data", Clock(NOW + timedelta(minutes=1)))
    assert outcomes["redesigned"].status == "skipped"
    assert len(feed_server.requests_to("/info.html")) == 1
    shown = json.loads(
        run_bot(
            "--config", str(config), "--data-dir", str(tmp_path / "data"), "feeds", "--json"
        ).out
    )
    row = {r["name"]: r for r in shown}["redesigned"]
    assert row["status"] == "failing" and row["last_error"]["kind"] == "no_items"
    assert "matched nothing" in row["last_error"]["message"]


def test_auto_mode_takes_the_dated_links_of_the_content_only(feed_server, make_config, tmp_path):
    dl_entries = [
        ("AI戦略会議（第10回）の開催について", "/cstp/ai/senryaku/10kai.html", pages.today(NOW)),
        ("量子未来産業創出戦略の改定", "/cstp/ryoshi/kaitei.pdf", pages.days_ago(NOW, 2)),
        ("（掲載予定）", None, pages.days_ago(NOW, 3)),
    ]
    table_entries = [
        (
            "重要経済安保情報保護法案が可決されました",
            "/internet/itdb_gian.nsf/html/gian/keika/1.htm",
            pages.days_ago(NOW, 1),
        ),
        (
            "本会議の開会について",
            "/internet/itdb_rchome.nsf/html/rchome/honkai.htm",
            pages.days_ago(NOW, 4),
        ),
    ]
    config = make_config(
        [
            page_source(
                "council",
                feed_server.route(
                    "/cstp/new.html", body=pages.whatsnew_dl(dl_entries), content_type="text/html"
                ),
                {"auto": True},
            ),
            page_source(
                "diet",
                feed_server.route(
                    "/internet/new.htm",
                    body=pages.diet_table(table_entries),
                    content_type="text/html; charset=utf-8",
                ),
                {"auto": True},
            ),
            page_source(
                "commission",
                feed_server.route(
                    "/information/",
                    body=pages.news_list(FIRST),
                    content_type="text/html; charset=utf-8",
                ),
                {"auto": True},
            ),
        ]
    )
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert all(o.status == "ok" for o in outcomes.values()), outcomes
    titles: dict[str, dict[str, datetime]] = {}
    for stored in articles:
        titles.setdefault(stored.article.feed, {})[stored.article.title] = stored.article.published
    # navigation, breadcrumbs, the sidebar's dated event, the footer's "last updated" link,
    # list links, PDF icons and category labels are not entries
    assert titles["council"] == {
        "AI戦略会議（第10回）の開催について": pages.midnight(pages.today(NOW)),
        "量子未来産業創出戦略の改定": pages.midnight(pages.days_ago(NOW, 2)),
    }
    # table rows, and a list under a date heading; not the side menu, nor the undated row
    assert titles["diet"] == {
        "重要経済安保情報保護法案が可決されました": pages.midnight(pages.days_ago(NOW, 1)),
        "本会議の開会について": pages.midnight(pages.days_ago(NOW, 4)),
        "本会議の審議予定": pages.midnight(pages.date(2024, 4, 5)),
    }
    assert set(titles["commission"]) == {t for t, h, _ in FIRST if h}


def test_auto_mode_on_a_page_without_dated_links_is_an_error(feed_server, make_config, tmp_path):
    url = feed_server.route(
        "/blank.html",
        body="<html><body><nav><a href='/a'>2024年4月9日 ホーム</a></nav><main><p><a href='/b'>一覧</a></p></main></body></html>".encode(),
        content_type="text/html",
    )
    config = make_config([page_source("blank", url, {"auto": True})])
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["blank"].error_kind == "no_items"
    assert "no dated link" in outcomes["blank"].error_message


def test_pages_are_parsed_in_worker_processes(feed_server, make_config, tmp_path):
    url = feed_server.route("/information/", body=pages.news_list(FIRST), content_type="text/html")
    bad = feed_server.route(
        "/bad.html", body=b"<html><body><p>no list</p></body></html>", content_type="text/html"
    )
    config_dir = make_config(
        [page_source("commission", url, NEWS_LIST), page_source("bad", bad, NEWS_LIST)]
    )
    config = load_config(config_dir)
    store = SqliteStorage(tmp_path / "d")
    poller = Poller(config, store, clock=Clock(NOW), rng=random.Random(1), keep_workers=True)
    try:
        outcomes = {o.feed: o for o in asyncio.run(poller.poll())}
    finally:
        poller.close()
        store.close()
    assert outcomes["commission"].new == 2
    assert outcomes["bad"].error_kind == "no_items"


def test_preview_page_with_selectors_auto_and_a_configured_source(
    feed_server, make_config, run_bot
):
    url = feed_server.route(
        "/information/index.html",
        body=pages.news_list(FIRST),
        content_type="text/html; charset=utf-8",
    )
    config = make_config([page_source("commission", url, NEWS_LIST)])
    base = ("--config", str(config), "preview-page")

    shown = run_bot(
        *base,
        url,
        "--items",
        "ul.news-list li",
        "--link",
        "div.news-text a",
        "--date",
        "time.news-date",
    )
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == url
    assert lines[1].startswith("3 entries · selectors items='ul.news-list li'")
    today = pages.today(NOW).isoformat()
    assert f"{today}        生成AIサービスの利用に関する注意喚起を公表しました" in lines
    assert f"                  {feed_server.url('/news/press/2024/ai/')}" in lines
    assert "warning: 1 item(s) without a link ('div.news-text a' with an http(s) href)" in lines
    assert "報道発表" not in shown.out  # the category link is not a title

    # without --link the first link of each item is its category label, the same in every
    # item: the preview shows it, and why only one entry is left
    naive = run_bot(*base, url, "--items", "ul.news-list li")
    assert naive.code == 0 and "1 entries" in naive.out and "報道発表" in naive.out
    assert "warning: 3 item(s) repeat an earlier item's link (first kept)" in naive.out
    assert "(no date)" in naive.out

    auto = run_bot(*base, url, "--auto", "--json")
    assert auto.code == 0, auto.err
    rows = json.loads(auto.out)
    assert [r["title"] for r in rows] == [t for t, h, _ in FIRST if h]
    assert rows[0]["date"] == today

    named = run_bot(*base, "--name", "commission")
    assert named.code == 0 and "3 entries" in named.out

    broken = run_bot(*base, url, "--items", "ul.news-list >> li")
    assert broken.code == 2 and "--items: invalid CSS selector" in broken.err
    nothing = run_bot(*base, url, "--items", "table.news tr")
    assert nothing.code == 1 and "matched nothing" in nothing.err
    feed = run_bot(*base, "--name", "nope")
    assert feed.code == 2 and "no source named 'nope'" in feed.err
    neither = run_bot(*base, url)
    assert neither.code == 2 and "--auto" in neither.err


def test_opml_export_leaves_page_sources_out(make_config):
    config = load_config(
        make_config(
            [
                {"name": "feed", "url": "https://x.example/feed.xml"},
                page_source("page", "https://x.example/news.html", {"auto": True}),
            ]
        )
    )
    opml = export_opml(config)
    assert "feed.xml" in opml and "news.html" not in opml
    assert "1 page source(s) without a feed left out" in opml


def test_feed_and_page_sources_side_by_side(feed_server, make_config, tmp_path):
    # A feed listed as a page (or the reverse) fails with the kind's own clear error.
    rss = feed_server.route(
        "/feed.xml",
        body=feeds.rss([feeds.item("x", "https://e.example/x", guid="x", published=NOW)]),
    )
    html = feed_server.route("/news.html", body=pages.news_list(FIRST), content_type="text/html")
    config = make_config(
        [
            page_source("rss-as-page", rss, NEWS_LIST),
            {"name": "page-as-feed", "url": html},
        ]
    )
    outcomes, _, _ = poll(config, tmp_path / "d")
    assert outcomes["rss-as-page"].error_kind == "no_items"
    assert outcomes["page-as-feed"].error_kind == "not_a_feed"
    assert (
        feed_server.requests_to("/news.html")[0].headers["accept"].startswith("application/rss+xml")
    )


# -- the shipped definitions ---------------------------------------------------------------

#: shipped page sources marked verified: true, and the stored copy each was checked against
SHIPPED_FIXTURES = {
    "Personal Information Protection Commission": (
        "ppc_information.html",
        [
            (
                "個人情報保護委員会 令和７年度年次報告の公表について",
                "/news/press/2026/260707",
                date(2026, 7, 7),
            ),
            (
                "令和８年度「個人情報を考える週間」について",
                "/news/press/2026/26%20622",
                date(2026, 6, 22),
            ),
            (
                "「個人情報に関するポスターコンクール」を開催します",
                "https://www.ppc.go.jp/news/press/2026/260601",
                date(2026, 6, 1),
            ),
        ],
    ),
}
# the official sources without a feed that issue 11 asks for
SHIPPED_BODIES = (
    "House of Representatives",
    "House of Councillors",
    "Personal Information Protection Commission",
    "National Cybersecurity Office (NCO)",
    "Cabinet Secretariat",
    "NEDO news",
    "CSTI (Council for Science, Technology and Innovation)",
)


def shipped() -> dict[str, FeedConfig]:
    return {feed.name: feed for feed in load_config(ROOT / "config").feeds}


def test_the_default_config_ships_a_page_source_for_each_official_body_without_a_feed():
    feeds = shipped()
    for name in SHIPPED_BODIES:
        assert feeds[name].kind == "page" and feeds[name].enabled, name
    # every definition marked verified has its stored copy and the test below
    verified = {name for name, feed in feeds.items() if feed.page and feed.page.verified}
    assert verified == set(SHIPPED_FIXTURES)
    # the NISC feed redirects to the NCO's site, which has no feed
    assert not feeds["NISC alerts"].enabled


@pytest.mark.parametrize("name", sorted(SHIPPED_FIXTURES))
def test_a_verified_definition_reads_its_stored_copy(name, feed_server, make_config, tmp_path):
    fixture, expected = SHIPPED_FIXTURES[name]
    source = shipped()[name]
    assert source.page is not None
    url = feed_server.route(
        "/information/",
        body=(pages.DATA / fixture).read_bytes(),
        content_type="text/html; charset=utf-8",
    )
    page = source.page.model_dump(exclude_defaults=True)
    config = make_config([page_source(name, url, page, tags=list(source.tags))])
    outcomes, articles, _ = poll(config, tmp_path / "d", Clock(NOW))
    outcome = outcomes[name]
    assert outcome.status == "ok" and not outcome.warnings, outcome
    stored = [
        (a.article.title, a.article.link, a.article.published, a.article.date_source)
        for a in articles
    ]
    assert sorted(stored, key=lambda row: row[2], reverse=True) == [
        (
            title,
            href if href.startswith("https://") else feed_server.url(href),
            pages.midnight(day),
            "published",
        )
        for title, href, day in expected
    ]


# -- configuration errors, bad inputs, production shape -------------------------------------


@pytest.mark.parametrize(
    ("page", "fragment"),
    [
        (
            {"items": "ul.news >> li"},
            "feeds[0].page.items ('Broken page'): invalid CSS selector 'ul.news >> li'",
        ),
        (
            {"items": "li", "date": "time[datetime"},
            "feeds[0].page.date ('Broken page'): invalid CSS selector 'time[datetime'",
        ),
        ({"items": "li", "link": "  "}, "feeds[0].page.link ('Broken page'): empty CSS selector"),
        (
            {"items": "li", "date": "dt", "date_format": "%Y年%m月%Q日"},
            "%Q is not a strptime directive",
        ),
        ({"items": "li", "date_format": "%Y/%m/%d"}, "date_format needs a 'date' selector"),
        ({"auto": True, "items": "li"}, "auto: true takes no selectors (remove items)"),
        ({"title": "a"}, "give 'items'"),
        (None, "a 'kind: page' source needs a page: block"),
    ],
)
def test_check_config_names_the_source_and_the_bad_selector(make_config, run_bot, page, fragment):
    source = {"name": "Broken page", "url": "https://x.example/news.html", "kind": "page"}
    if page is not None:
        source["page"] = page
    config = make_config([{"name": "fine", "url": "https://x.example/feed.xml"}, source][1:])
    result = run_bot("--config", str(config), "check-config")
    assert result.code == 2
    assert "feeds.yaml" in result.err and fragment in result.err, result.err


def test_a_page_block_on_a_feed_is_an_error(make_config, run_bot):
    config = make_config(
        [{"name": "feed", "url": "https://x.example/feed.xml", "page": {"auto": True}}]
    )
    result = run_bot("--config", str(config), "check-config")
    assert result.code == 2 and "'page:' is only for sources with 'kind: page'" in result.err


def test_garbage_from_a_page_source_is_one_bad_input(feed_server, make_config, tmp_path):
    rng = random.Random(11)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    config = make_config(
        [
            page_source(
                "binary",
                feed_server.route("/b.html", body=garbage, content_type="text/html"),
                NEWS_LIST,
            ),
            page_source(
                "binary-auto",
                feed_server.route(
                    "/b2.html", body=garbage, content_type="application/octet-stream"
                ),
                {"auto": True},
            ),
            page_source(
                "empty",
                feed_server.route("/e.html", body=b"", content_type="text/html"),
                NEWS_LIST,
            ),
            page_source(
                "good",
                feed_server.route("/information/", body=pages.news_list(FIRST)),
                NEWS_LIST,
            ),
        ]
    )
    outcomes, articles, health = poll(config, tmp_path / "d", Clock(NOW))
    for name in ("binary", "binary-auto", "empty"):
        assert outcomes[name].status == "error", outcomes[name]
        assert health[name].consecutive_failures == 1
    assert outcomes["binary"].error_kind == outcomes["binary-auto"].error_kind == "no_items"
    assert outcomes["empty"].error_kind == "empty"
    assert outcomes["good"].new == 2
    assert {a.article.feed for a in articles} == {"good"}


def test_page_sources_among_nine_sources_in_worker_processes(feed_server, make_config, tmp_path):
    """Production shape: from PROCESS_POOL_MIN_FEEDS sources a one-shot poll parses in
    worker processes; pages, a broken page and feeds share the pool."""
    feeds_ = [
        {
            "name": f"feed {i}",
            "url": feed_server.route(
                f"/feed{i}.xml", body=recent_rss(3, prefix=f"f{i}", guid_prefix=f"g{i}-")
            ),
        }
        for i in range(6)
    ]
    dl_entries = [
        ("AI戦略会議（第10回）の開催について", "/cstp/ai/10kai.html", pages.today(NOW)),
        ("量子未来産業創出戦略の改定", "/cstp/ryoshi/kaitei.pdf", pages.days_ago(NOW, 2)),
    ]
    sources = [
        *feeds_,
        page_source(
            "commission",
            feed_server.route("/information/", body=pages.news_list(FIRST)),
            NEWS_LIST,
        ),
        page_source(
            "council",
            feed_server.route("/cstp/new.html", body=pages.whatsnew_dl(dl_entries)),
            {"auto": True},
        ),
        page_source(
            "redesigned",
            feed_server.route("/gone.html", body=b"<html><body><p>moved</p></body></html>"),
            NEWS_LIST,
        ),
    ]
    assert len(sources) >= PROCESS_POOL_MIN_FEEDS
    config_dir = make_config(sources, {"poll": {"parse_workers": 2}})
    config = load_config(config_dir)
    assert uses_worker_processes(len(sources), config.bot.poll.parse_workers, service=False)
    outcomes, articles, _ = poll(config_dir, tmp_path / "d", Clock(NOW))
    assert all(outcomes[f"feed {i}"].new == 3 for i in range(6))
    # first poll: what is older than the backlog window is stored as backlog, as for feeds
    assert (outcomes["commission"].new, outcomes["commission"].backlog) == (2, 1)
    assert (outcomes["council"].new, outcomes["council"].backlog) == (1, 1)
    assert outcomes["redesigned"].error_kind == "no_items"
    titles = {a.article.title for a in articles if a.article.feed == "council"}
    assert titles == {title for title, _, _ in dl_entries}
    assert len(articles) == 6 * 3 + 2 + 2 + 1  # the commission's backlog item included


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("../press/a.html#top", "https://x.example/news/press/a.html"),
        ("/p 1.html", "https://x.example/p%201.html"),
        ("//cdn.example/a|b", "https://cdn.example/a%7Cb"),
        ("https://other.example/x?q=1#frag", "https://other.example/x?q=1"),
        ("#main", ""),
        ("javascript:void(0)", ""),
        ("mailto:info@x.example", ""),
        ("", ""),
    ],
)
def test_links_are_absolute_without_fragment(href, expected):
    assert resolve_link("https://x.example/news/list/index.html", href) == expected
