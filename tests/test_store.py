"""Storage identity rules: each story stored once, edits are not new, backlog on first poll."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import StorageError
from bot.ingest.parse import _content_hash
from bot.models import Article
from bot.store import Store

NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)


def art(
    entry_id: str,
    title: str = "t",
    link: str = "",
    *,
    feed: str = "f",
    summary: str = "s",
    age_hours: float = 1,
    canonical: str | None = None,
) -> Article:
    link = link or f"https://ex.jp/{entry_id}"
    canonical = canonical or link
    return Article(
        feed=feed,
        entry_id=entry_id,
        title=title,
        link=link,
        canonical_link=canonical,
        summary=summary,
        published=NOW - timedelta(hours=age_hours),
        date_source="published",
        updated=None,
        language="ja",
        content_hash=_content_hash(title, summary, canonical),
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.close()


def put(store, feed, articles, *, first=False, now=NOW):
    return store.store_articles(feed, articles, now=now, first_poll=first, backlog_window=WINDOW)


def test_new_then_seen_then_edited(store):
    r = put(store, "f", [art("1", "A"), art("2", "B")])
    assert (len(r.new), r.unchanged) == (2, 0)
    r = put(store, "f", [art("1", "A"), art("2", "B")])
    assert (len(r.new), r.unchanged, len(r.edited)) == (0, 2, 0)
    r = put(store, "f", [art("1", "A (corrected)", summary="new text"), art("2", "B")])
    assert (len(r.new), len(r.edited)) == (0, 1)
    [edited] = [a for a in store.articles() if a.article.entry_id == "1"]
    assert edited.article.title == "A (corrected)" and edited.edited_at == NOW
    assert store.count_articles() == 2


def test_guid_churn_with_same_canonical_link_is_not_new(store):
    put(
        store,
        "f",
        [art("guid-1", "A", "https://ex.jp/a?utm_source=rss", canonical="https://ex.jp/a")],
    )
    r = put(
        store,
        "f",
        [art("guid-1-v2", "A", "https://ex.jp/a?utm_source=twitter", canonical="https://ex.jp/a")],
    )
    assert r.new == ()
    assert store.count_articles() == 1
    # and the new guid is now known too: no second lookup by link needed
    r = put(store, "f", [art("guid-1-v2", "A", "https://ex.jp/a", canonical="https://ex.jp/a")])
    assert r.new == () and r.unchanged == 1


def test_guid_and_link_churn_with_same_title_and_date_is_not_new(store):
    put(store, "f", [art("g1", "同じ記事", "https://ex.jp/a")])
    r = put(store, "f", [art("g2", "同じ記事", "https://ex.jp/a-renamed")])
    assert r.new == () and store.count_articles() == 1


def test_two_live_items_sharing_a_link_stay_two_articles(store):
    r = put(
        store,
        "f",
        [
            art("1", "First", "https://ex.jp/press/list"),
            art("2", "Second", "https://ex.jp/press/list"),
        ],
    )
    assert len(r.new) == 2


def test_items_linking_to_the_site_root_are_not_merged_across_feeds(store):
    put(store, "a", [art("1", "One", "https://ex.jp/", feed="a")])
    r = put(store, "b", [art("9", "Other", "https://ex.jp/", feed="b")])
    assert len(r.new) == 1


def test_same_story_from_another_feed_is_one_article_with_two_sources(store):
    put(store, "wire", [art("w1", "Japan chip subsidy", "https://news.ex/x", feed="wire")])
    r = put(store, "agg", [art("a1", "Japan chip subsidy - Agg", "https://news.ex/x", feed="agg")])
    assert r.new == () and r.edited == ()
    [stored] = store.articles()
    assert stored.sources == ("wire", "agg")
    assert stored.article.title == "Japan chip subsidy"


def test_first_poll_backlog(store):
    year = [art(f"old{i}", age_hours=24 * i + 49) for i in range(365)]
    fresh = [art("new1", age_hours=1), art("new2", age_hours=47)]
    r = put(store, "f", fresh + year, first=True)
    assert len(r.new) == 2 and r.backlog == 365
    assert {a.article.entry_id for a in store.articles(include_backlog=False)} == {"new1", "new2"}
    # after the first poll, an old-dated entry that appears is genuinely new to us
    r = put(store, "f", [art("late", age_hours=100)])
    assert len(r.new) == 1


def test_undated_entries_on_first_poll_are_backlog(store):
    undated = replace(art("u"), date_source="first_seen", published=NOW)
    r = put(store, "f", [undated], first=True)
    assert r.backlog == 1 and r.new == ()


def test_restart_keeps_everything(tmp_path):
    s = Store(tmp_path)
    put(s, "f", [art("1"), art("2")])
    s.close()
    s = Store(tmp_path)
    r = put(s, "f", [art("1"), art("2")])
    assert r.new == () and s.count_articles() == 2
    assert s.schema_version >= 1
    s.close()


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    db.execute("PRAGMA user_version=999")
    db.close()
    with pytest.raises(StorageError, match="newer than this bot"):
        Store(tmp_path)


def test_wal_mode(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_batch_is_rolled_back(store):
    bad = art("2")
    object.__setattr__(bad, "title", None)  # NOT NULL violation mid-batch
    # raw sqlite3 errors never leave the store: a StorageError that keeps the cause
    with pytest.raises(StorageError) as caught:
        put(store, "f", [art("1"), bad])
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert store.count_articles() == 0


@pytest.mark.parametrize(
    "query",
    [
        # the batched lookups of store_articles, and the per-candidate one
        "SELECT id FROM articles WHERE canonical_link IN (?,?)",
        "SELECT id FROM articles WHERE fingerprint IN (?,?) AND feed=?",
        "SELECT e.entry_id, a.id FROM entries e JOIN articles a ON a.id = e.article_id WHERE e.feed=? AND e.entry_id IN (?,?)",
        "SELECT entry_id FROM entries WHERE article_id=? AND feed=?",
    ],
)
def test_identity_lookups_use_an_index(store, query):
    # Every stored entry runs these; a table scan makes a poll quadratic in history size.
    plan = " ".join(
        str(tuple(r))
        for r in store.db.execute(
            "EXPLAIN QUERY PLAN " + query, ("x", "y", "z")[: query.count("?")]
        )
    )
    assert "SCAN" not in plan, plan


def test_migration_from_version_1_keeps_articles(tmp_path):
    import bot.store as store_module

    # Build a version-1 database with the first migration only, as an old install would have.
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    for statement in store_module._MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version=1")
    db.execute(
        "INSERT INTO articles(feed, entry_id, canonical_link, title, link, summary, published,"
        " date_source, language, content_hash, first_seen, last_seen) VALUES"
        " ('f','1','https://ex.jp/1','t','https://ex.jp/1','s','2026-11-20T00:00:00+00:00',"
        " 'published','ja','h','2026-11-20T00:00:00+00:00','2026-11-20T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    s = Store(tmp_path)
    assert s.schema_version == len(store_module._MIGRATIONS)
    [old] = s.articles()
    assert old.article.title == "t" and old.extra["flagged"] == 0 and old.extra["score"] is None
    s.close()
