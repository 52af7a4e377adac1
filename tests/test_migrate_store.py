"""``python -m bot migrate-store --to postgresql://...``: a SQLite store copied into a real
PostgreSQL (tests/pgtest.py), compared through the storage interface, call for call."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg

from bot.storage import Storage
from bot.storage.postgres import PostgresStorage
from bot.storage.sqlite import SqliteStorage
from bot.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from tests.test_storage_contract import (
    BEFORE_APP_STORE,
    DAY,
    FLAGGED,
    NOT_FLAGGED,
    NOW,
    PAYLOADS,
    URL,
    app_data,
    app_feed,
    app_sub,
    art,
    entry,
    matched,
    put,
    vote,
)


def fill(data_dir: Path, *, app: bool = True) -> None:
    """A store with something of everything: feeds' health and validators, a story from
    two feeds, an edit, backlog, a subscription's ledger, a sent digest, a pending one,
    a parked one and its released articles, admin notices, a lease and a heartbeat; and
    (``app``) what the Slack app keeps."""
    s = SqliteStorage(data_dir)
    try:
        s.feed_state("f", URL)
        s.feed_state("wire", "https://wire.example/rss")
        s.record_success(
            "f",
            now=NOW,
            next_poll=NOW + DAY,
            not_before=None,
            etag='"v1"',
            last_modified="Sat, 21 Nov 2026 00:00:00 GMT",
            body_hash="abc",
            title="Feed F",
            warnings=["encoding: Shift_JIS"],
            had_new=True,
        )
        s.record_failure("wire", now=NOW, kind="http", message="HTTP 503", next_poll=NOW + DAY)
        put(s, "f", [art("old", age_hours=100)], first=True)  # backlog
        ids = matched(s, 3)
        put(s, "f", [art("quiet")], matches={"quiet": NOT_FLAGGED})
        # the same story in the wire feed, and an edit of one of f's entries
        put(s, "wire", [art("w1", "m story 0", "https://ex.jp/m0", feed="wire")])
        put(s, "f", [art("m1", "m story 1 (updated)", "https://ex.jp/m1")], now=NOW + DAY)
        s.ensure_subscription("jp@C1", start=NOW - DAY)
        sent = s.create_digest(
            "jp@C1", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[0]]
        )
        s.record_sent(sent, 0, channel_id="C1", ts="1.0001", now=NOW)
        s.record_sent(sent, 1, channel_id="C1", ts="1.0002", now=NOW)
        s.finish_digest("jp@C1", sent, now=NOW, channel_id="C1")
        s.create_digest("jp@C1", kind="alert", now=NOW, payloads=PAYLOADS[:1], article_ids=[ids[1]])
        parked = s.create_digest(
            "jp@C1", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[2]]
        )
        s.record_digest_failure(parked, code="invalid_blocks", message="no")
        s.park_digest(parked)
        s.record_delivery_error("jp@C1", code="ratelimited", message="slow down", now=NOW)
        s.record_notice("failing:wire", now=NOW)
        s.acquire_lease("poll:f", "replica-1", now=NOW, ttl=timedelta(minutes=5))
        s.heartbeat(NOW)
        if app:
            app_data(s)
    finally:
        s.close()


def snapshot_core(s: Storage) -> dict[str, object]:
    """What the interface shows of the bot's own data (a store from before the Slack
    app's tables has all of it)."""
    return {
        "feeds": s.all_feeds(),
        "warnings": s.feed_warnings("f"),
        "counts": s.entry_counts(),
        "articles": s.articles(),
        "arrivals": s.arrival_times("f"),
        "status": s.subscription_status("jp@C1"),
        "outbox": s.outbox(),
        "pending": s.pending_digests("jp@C1"),
        "solo": s.solo_articles("jp@C1"),
        "undelivered": [a.id for a in s.undelivered("jp@C1", since=NOW - DAY)],
        "channel": s.channel_id("jp@C1"),
        "delivered": s.last_delivered("jp@C1"),
        "notice_due": s.notice_due("failing:wire", now=NOW, repeat_after=DAY),
    }


def snapshot(s: Storage) -> dict[str, object]:
    """Everything the interface shows."""
    return {
        **snapshot_core(s),
        "app_subscriptions": s.app_subscriptions(),
        "app_feeds": s.app_feeds(),
        "feedback": s.feedback(),
        "feedback_counts": [s.feedback_counts(v.article_id, v.subscription) for v in s.feedback()],
        "muted": s.muted_feeds(),
        "audit": s.audit(),
        "setting": s.workspace_setting("T1", "language"),
    }


def test_migrate_store_copies_everything_once(tmp_path, pg_url, run_bot):
    data = tmp_path / "data"
    fill(data)
    sqlite = SqliteStorage(data)
    before = snapshot(sqlite)
    sqlite.close()

    first = run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url)
    assert first.code == 0, first.err
    assert "articles" in first.out and "copied" in first.out
    assert (pg_url.split("@")[-1] in first.out) or "postgresql://" in first.out

    pg = PostgresStorage(pg_url)
    try:
        assert snapshot(pg) == before
        # live state of a running service is not copied
        assert pg.acquire_lease("poll:f", "replica-2", now=NOW, ttl=timedelta(minutes=5))
        # ids go on after the copied ones: a new story is not given an old article's id
        new = put(pg, "f", [art("fresh")], now=NOW + 2 * DAY, matches={"fresh": FLAGGED}).new
        articles = before["articles"]
        assert isinstance(articles, list)
        assert new and new[0] > max(a.id for a in articles)
        # the Slack app's data came along, and its ids go on after the copied ones too
        assert before["feedback"] and before["audit"] and before["app_feeds"]
        assert pg.add_app_subscription(app_sub("later", at=NOW + DAY))
        assert pg.add_app_feed(app_feed("later", at=NOW + DAY))
        assert pg.record_feedback(vote(new[0], "U9", "relevant", at=NOW + DAY))
        pg.record_audit(entry(9, at=NOW + DAY))
        assert pg.audit()[0] == entry(9, at=NOW + DAY)
    finally:
        pg.close()


def test_running_it_again_changes_nothing(tmp_path, pg_url, run_bot):
    data = tmp_path / "data"
    fill(data)
    assert run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url).code == 0
    pg = PostgresStorage(pg_url)
    once = snapshot(pg)
    pg.close()
    again = run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url)
    assert again.code == 0, again.err
    assert "nothing to copy" in again.out
    pg = PostgresStorage(pg_url)
    try:
        assert snapshot(pg) == once
    finally:
        pg.close()


def test_it_refuses_a_database_that_has_moved_on_or_holds_another_store(tmp_path, pg_url, run_bot):
    data = tmp_path / "data"
    fill(data)
    assert run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url).code == 0
    # the replicas have written since: copying again could collide ids
    pg = PostgresStorage(pg_url)
    put(pg, "f", [art("written-by-a-replica")], now=NOW + 3 * DAY)
    pg.close()
    late = run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url)
    assert late.code == 1 and "written to since" in late.err

    # another SQLite store into the same (non-empty) database: refused, nothing copied
    other = tmp_path / "other"
    s = SqliteStorage(other)
    put(s, "g", [art("g1", feed="g")])
    s.close()
    with psycopg.connect(pg_url) as conn:
        before = conn.execute("SELECT count(*) FROM articles").fetchone()
    refused = run_bot("--data-dir", str(other), "migrate-store", "--to", pg_url)
    assert refused.code == 1 and "did not come from" in refused.err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == before


def test_it_says_what_is_missing(tmp_path, pg_url, run_bot):
    empty = run_bot("--data-dir", str(tmp_path / "nothing"), "migrate-store", "--to", pg_url)
    assert empty.code == 1 and "no SQLite store" in empty.err
    bad = run_bot("--data-dir", str(tmp_path), "migrate-store", "--to", "mysql://x")
    assert bad.code == 2 and "postgresql://" in bad.err


def test_a_store_from_before_the_app_tables_is_upgraded_then_copied(
    tmp_path, pg_url, run_bot, monkeypatch
):
    data = tmp_path / "data"
    version = BEFORE_APP_STORE["sqlite"]
    monkeypatch.setattr("bot.storage.sqlite.connection.MIGRATIONS", SQLITE_MIGRATIONS[:version])
    fill(data, app=False)
    old = SqliteStorage(data)
    assert old.schema_version == version
    before = snapshot_core(old)
    old.close()
    monkeypatch.undo()

    result = run_bot("--data-dir", str(data), "migrate-store", "--to", pg_url)
    assert result.code == 0, result.err
    upgraded = SqliteStorage(data)
    pg = PostgresStorage(pg_url)
    try:
        assert upgraded.schema_version == len(SQLITE_MIGRATIONS)
        assert snapshot(upgraded) == snapshot(pg)
        assert snapshot_core(pg) == before
        assert pg.app_subscriptions() == [] and pg.feedback() == []
    finally:
        upgraded.close()
        pg.close()
