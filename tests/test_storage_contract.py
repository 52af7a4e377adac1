"""The storage contract (bot.storage.base): every engine passes the same tests, call for call.

``storage`` is parametrized over the engines: SQLite in the test's temporary directory, and
PostgreSQL in a fresh database of the session's server (tests/pgtest.py). ``reopen`` opens
the same data again (a restart, or a second replica). The guarantees only one engine makes
follow at the end: SQLite's file, PostgreSQL's replicas sharing one database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bot.errors import StorageError
from bot.ingest.identity import Known, decide
from bot.ingest.parse import _content_hash
from bot.models import Article, FeedState, FullText, GroupScore, Match, TermScore
from bot.storage import (
    AppFeed,
    AppSubscription,
    AuditEntry,
    DeliveryFailure,
    DigestSummary,
    FeedbackVote,
    MutedFeed,
    OutboxDigest,
    OutboxMessage,
    PendingDigest,
    Storage,
    StoreResult,
    SubscriptionStatus,
    Verdict,
)
from bot.storage.postgres import PostgresStorage
from bot.storage.postgres.connection import Server, storage_error, without_password
from bot.storage.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from bot.storage.sqlite import SqliteStorage
from bot.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS

NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
URL = "https://www.example.jp/rss.xml"

FLAGGED = Match(
    flagged=True,
    score=7,
    topics=("半導体", "chips"),
    reasons=(
        GroupScore(
            "jpgov",
            "actor",
            2.5,
            True,
            (TermScore("経済産業省", "title", 1, 2.0), TermScore("METI", "lede", 2, 0.5)),
        ),
        GroupScore("tech", "topic", 1.25, True),
    ),
)
NOT_FLAGGED = Match(
    flagged=False, score=1, topics=(), reasons=(GroupScore("tech", "topic", 0.5, False),)
)
PAYLOADS = [
    {
        "text": "ダイジェスト (1/2)",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*半導体* に補助金"}}],
    },
    {"text": "(2/2)", "blocks": []},
]


# -- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Storage]]:
    """Opens the test's database with the engine under test; each call is another handle
    on the same data (a restart, or another replica)."""
    make: Callable[[], Storage]
    if request.param == "sqlite":
        make = partial(SqliteStorage, tmp_path / "data")
    else:
        make = partial(PostgresStorage, request.getfixturevalue("pg_url"))
    opened: list[Storage] = []

    def open_one() -> Storage:
        storage = make()
        opened.append(storage)
        return storage

    yield open_one
    for storage in opened:
        storage.close()


@pytest.fixture
def storage(reopen: Callable[[], Storage]) -> Storage:
    return reopen()


def art(
    entry_id: str,
    title: str = "",
    link: str = "",
    *,
    feed: str = "f",
    summary: str = "s",
    age_hours: float = 1,
    canonical: str | None = None,
) -> Article:
    # Entries of one feed with the same title and date are one story (GUID churn): by
    # default each entry gets a title of its own.
    title = title or f"story {entry_id}"
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


def put(
    storage: Storage,
    feed: str,
    articles: Sequence[Article],
    *,
    first: bool = False,
    now: datetime = NOW,
    matches: Mapping[str, Match] | None = None,
) -> StoreResult:
    """Store a batch as bot.ingest.poll does: through the real decider."""
    decider = partial(
        decide,
        feed,
        articles,
        now=now,
        first_poll=first,
        backlog_window=WINDOW,
        matches=matches or {},
    )
    return storage.store_batch(feed, articles, decider, now=now)


def matched(storage: Storage, count: int, *, now: datetime = NOW, prefix: str = "m") -> list[int]:
    """``count`` new flagged articles (first seen ``now``); their ids."""
    articles = [art(f"{prefix}{i}", f"{prefix} story {i}") for i in range(count)]
    result = put(storage, "f", articles, now=now, matches={a.entry_id: FLAGGED for a in articles})
    assert len(result.new) == count
    return list(result.new)


def ids_of(articles: Sequence[Any]) -> list[str]:
    return [a.article.entry_id for a in articles]


def raw(storage: Storage, query: str) -> list[tuple[Any, ...]]:
    """Rows read behind the interface (for what no method returns, like the heartbeat)."""
    if isinstance(storage, SqliteStorage):
        return [tuple(row) for row in storage.db.execute(query)]
    assert isinstance(storage, PostgresStorage)
    with storage.db.pool.connection() as conn:
        cursor = conn.execute(query.encode())
        return [tuple(row.values()) for row in cursor] if cursor.description else []


def as_time(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls on threads of their own, at once; their results (or their error)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result(timeout=30) for f in futures]


def due(storage: Storage, key: str, now: datetime = NOW) -> bool:
    return storage.notice_due(key, now=now, repeat_after=DAY)


# -- feeds ------------------------------------------------------------------------------


def test_feed_state_is_created_on_first_use(storage: Storage) -> None:
    state = storage.feed_state("nhk", URL)
    assert state == FeedState(name="nhk", url=URL, config_url=URL)
    assert storage.feed_state("nhk", URL) == state
    assert storage.all_feeds() == [state]
    assert storage.feed_warnings("nhk") == []
    assert storage.feed_warnings("unknown") == []


def test_a_success_records_health_and_validators(storage: Storage) -> None:
    storage.feed_state("f", URL)
    # times are kept to the second by both engines
    storage.record_success(
        "f",
        now=NOW + timedelta(microseconds=654321),
        next_poll=NOW + 15 * timedelta(minutes=1),
        not_before=NOW + HOUR,
        url="https://www.example.jp/new.xml",
        etag='W/"v1"',
        last_modified="Sat, 21 Nov 2026 00:00:00 GMT",
        body_hash="abc",
        title="NHK ニュース",
        warnings=["文字コードを推定しました", "second"],
        had_new=True,
    )
    expected = FeedState(
        name="f",
        url="https://www.example.jp/new.xml",
        config_url=URL,
        etag='W/"v1"',
        last_modified="Sat, 21 Nov 2026 00:00:00 GMT",
        body_hash="abc",
        first_polled=NOW,
        last_attempt=NOW,
        last_success=NOW,
        last_new=NOW,
        next_poll=NOW + 15 * timedelta(minutes=1),
        not_before=NOW + HOUR,
    )
    state = storage.feed_state("f", URL)
    assert state == expected
    assert state.last_success is not None and state.last_success.tzinfo == UTC
    assert storage.feed_warnings("f") == ["文字コードを推定しました", "second"]

    # Validators only when asked; no URL, title or warnings given: the stored ones stay.
    later = NOW + 2 * HOUR
    storage.record_success(
        "f",
        now=later,
        next_poll=later + HOUR,
        not_before=None,
        etag="ignored",
        update_validators=False,
    )
    assert storage.feed_state("f", URL) == replace(
        expected, last_attempt=later, last_success=later, next_poll=later + HOUR, not_before=None
    )
    assert storage.feed_warnings("f") == ["文字コードを推定しました", "second"]

    # Validators saved as given (None clears them); an empty warning list clears them.
    storage.record_success(
        "f", now=later, next_poll=later + HOUR, not_before=None, etag=None, warnings=[]
    )
    state = storage.feed_state("f", URL)
    assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
    assert state.first_polled == NOW and state.last_new == NOW
    assert storage.feed_warnings("f") == []


def test_a_changed_feed_url_resets_the_url_and_validators(storage: Storage) -> None:
    storage.feed_state("f", URL)
    storage.record_success(
        "f",
        now=NOW,
        next_poll=NOW + HOUR,
        not_before=NOW + HOUR,
        url="https://www.example.jp/moved.xml",
        etag="e",
        last_modified="lm",
        body_hash="h",
    )
    new = "https://feeds.example.jp/rss"
    state = storage.feed_state("f", new)
    assert (state.url, state.config_url) == (new, new)
    assert (state.etag, state.last_modified, state.body_hash, state.not_before) == (None,) * 4
    # its history is kept
    assert (state.first_polled, state.last_success, state.next_poll) == (NOW, NOW, NOW + HOUR)
    assert storage.all_feeds() == [state]


def test_failures_are_counted_until_a_success(storage: Storage) -> None:
    storage.feed_state("f", URL)
    minute = timedelta(minutes=1)
    assert (
        storage.record_failure(
            "f", now=NOW, kind="timeout", message="read timed out", next_poll=NOW + 5 * minute
        )
        == 1
    )
    assert (
        storage.record_failure(
            "f", now=NOW + 5 * minute, kind="http", message="HTTP 503", next_poll=NOW + 15 * minute
        )
        == 2
    )
    state = storage.feed_state("f", URL)
    assert state == FeedState(
        name="f",
        url=URL,
        config_url=URL,
        last_attempt=NOW + 5 * minute,
        last_error_kind="http",
        last_error_message="HTTP 503",
        last_error_at=NOW + 5 * minute,
        consecutive_failures=2,
        next_poll=NOW + 15 * minute,
        not_before=NOW + 15 * minute,
    )
    storage.record_success("f", now=NOW + HOUR, next_poll=NOW + 2 * HOUR, not_before=None)
    state = storage.feed_state("f", URL)
    assert state.consecutive_failures == 0
    assert (state.last_error_kind, state.last_error_message) == (None, None)
    assert state.last_error_at == NOW + 5 * minute  # when it last failed stays on record
    assert storage.record_failure("f", now=NOW, kind="k", message="m", next_poll=NOW) == 1
    assert storage.record_failure("unknown", now=NOW, kind="k", message="m", next_poll=NOW) == 0
    assert [f.name for f in storage.all_feeds()] == ["f"]


def test_feeds_are_listed_in_code_point_order(storage: Storage) -> None:
    for name in ["b", "日経", "ä", "a", "B", "a-2"]:
        storage.feed_state(name, f"https://ex.jp/{len(name)}")
    assert [f.name for f in storage.all_feeds()] == ["B", "a", "a-2", "b", "ä", "日経"]


def test_entry_counts_count_every_feeds_entries(storage: Storage) -> None:
    assert storage.entry_counts() == {}
    put(
        storage,
        "wire",
        [art("w1", "Story", "https://news.ex/x", feed="wire"), art("w2", feed="wire")],
    )
    put(storage, "agg", [art("a1", "Story", "https://news.ex/x", feed="agg")])
    assert storage.entry_counts() == {"wire": 2, "agg": 1}
    assert storage.count_articles() == 2


# -- storing batches (ported from the old tests/test_store.py) ------------------------------


def test_new_then_seen_then_edited(storage: Storage) -> None:
    r = put(storage, "f", [art("1", "A"), art("2", "B")])
    assert (len(r.new), r.unchanged, r.backlog, r.edited) == (2, 0, 0, ())
    first_id = r.new[0]
    r = put(storage, "f", [art("1", "A"), art("2", "B")], now=NOW + HOUR)
    assert (r.new, r.unchanged, r.edited) == ((), 2, ())
    r = put(
        storage,
        "f",
        [art("1", "A (corrected)", summary="new text"), art("2", "B")],
        now=NOW + 2 * HOUR,
    )
    assert (r.new, r.edited, r.unchanged) == ((), (first_id,), 1)
    [edited] = [a for a in storage.articles() if a.article.entry_id == "1"]
    assert edited.article.title == "A (corrected)" and edited.article.summary == "new text"
    # an edit is never news: first seen when it was first seen
    assert (edited.edited_at, edited.first_seen, edited.id) == (NOW + 2 * HOUR, NOW, first_id)
    assert storage.count_articles() == 2


def test_guid_churn_with_same_canonical_link_is_not_new(storage: Storage) -> None:
    put(
        storage,
        "f",
        [art("guid-1", "A", "https://ex.jp/a?utm_source=rss", canonical="https://ex.jp/a")],
    )
    r = put(
        storage,
        "f",
        [art("guid-1-v2", "A", "https://ex.jp/a?utm_source=twitter", canonical="https://ex.jp/a")],
    )
    assert r.new == ()
    assert storage.count_articles() == 1
    # and the new guid is now known too: no second lookup by link needed
    r = put(storage, "f", [art("guid-1-v2", "A", "https://ex.jp/a", canonical="https://ex.jp/a")])
    assert r.new == () and r.unchanged == 1
    assert storage.entry_counts() == {"f": 2}


def test_guid_and_link_churn_with_same_title_and_date_is_not_new(storage: Storage) -> None:
    put(storage, "f", [art("g1", "同じ記事", "https://ex.jp/a")])
    r = put(storage, "f", [art("g2", "同じ記事", "https://ex.jp/a-renamed")])
    assert r.new == () and storage.count_articles() == 1


def test_two_live_items_sharing_a_link_stay_two_articles(storage: Storage) -> None:
    r = put(
        storage,
        "f",
        [
            art("1", "First", "https://ex.jp/press/list"),
            art("2", "Second", "https://ex.jp/press/list"),
        ],
    )
    assert len(r.new) == 2
    # and again on the next poll: each is known by its own entry id
    r = put(
        storage,
        "f",
        [
            art("1", "First", "https://ex.jp/press/list"),
            art("2", "Second", "https://ex.jp/press/list"),
        ],
    )
    assert (r.new, r.unchanged) == ((), 2)


def test_items_linking_to_the_site_root_are_not_merged_across_feeds(storage: Storage) -> None:
    put(storage, "a", [art("1", "One", "https://ex.jp/", feed="a")])
    r = put(storage, "b", [art("9", "Other", "https://ex.jp/", feed="b")])
    assert len(r.new) == 1


def test_same_story_from_another_feed_is_one_article_with_two_sources(storage: Storage) -> None:
    put(storage, "wire", [art("w1", "Japan chip subsidy", "https://news.ex/x", feed="wire")])
    r = put(
        storage,
        "agg",
        [
            art(
                "a1",
                "Japan chip subsidy - Agg",
                "https://news.ex/x?ref=agg",
                canonical="https://news.ex/x",
                feed="agg",
            )
        ],
        now=NOW + HOUR,
    )
    assert r.new == () and r.edited == () and r.unchanged == 1
    [stored] = storage.articles()
    assert stored.sources == ("wire", "agg")
    assert stored.links == (("wire", "https://news.ex/x"), ("agg", "https://news.ex/x?ref=agg"))
    assert stored.article.title == "Japan chip subsidy"
    # the second feed's next poll knows its entry
    r = put(
        storage, "agg", [art("a1", "Japan chip subsidy - Agg", "https://news.ex/x", feed="agg")]
    )
    assert (r.new, r.unchanged) == ((), 1)


def test_first_poll_backlog(storage: Storage) -> None:
    year = [art(f"old{i}", age_hours=24 * i + 49) for i in range(365)]
    fresh = [art("new1", age_hours=1), art("new2", age_hours=47)]
    r = put(storage, "f", fresh + year, first=True)
    assert len(r.new) == 2 and r.backlog == 365
    assert {a.article.entry_id for a in storage.articles(include_backlog=False)} == {"new1", "new2"}
    assert storage.count_articles() == 367
    [newest] = storage.articles(limit=1)
    assert newest.article.entry_id == "new1" and not newest.backlog
    assert all(a.backlog for a in storage.articles() if a.article.entry_id.startswith("old"))
    # after the first poll, an old-dated entry that appears is genuinely new to us
    r = put(storage, "f", [art("late", age_hours=100)])
    assert len(r.new) == 1 and r.backlog == 0


def test_undated_entries_on_first_poll_are_backlog(storage: Storage) -> None:
    undated = replace(art("u"), date_source="first_seen", published=NOW)
    r = put(storage, "f", [undated], first=True)
    assert r.backlog == 1 and r.new == ()
    [stored] = storage.articles()
    assert stored.backlog and stored.article.date_source == "first_seen"


def test_a_failed_batch_is_rolled_back(storage: Storage) -> None:
    bad = art("2")
    object.__setattr__(bad, "title", None)  # NOT NULL violation mid-batch
    # database errors never leave the storage raw: a StorageError that keeps the cause
    with pytest.raises(StorageError) as caught:
        put(storage, "f", [art("1"), bad])
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError | psycopg.IntegrityError)
    assert storage.count_articles() == 0
    assert storage.entry_counts() == {}
    # nothing is left locked: the next batch goes in
    assert len(put(storage, "f", [art("1")]).new) == 1


def test_a_decider_that_fails_stores_nothing(storage: Storage) -> None:
    def broken(known: Known) -> list[Any]:
        raise ValueError("a bug in the decider")

    with pytest.raises(ValueError, match="a bug"):
        storage.store_batch("f", [art("1")], broken, now=NOW)
    assert storage.count_articles() == 0
    assert len(put(storage, "f", [art("1")]).new) == 1


def test_the_decider_is_shown_what_is_known(storage: Storage) -> None:
    put(storage, "wire", [art("w1", "Story", "https://news.ex/x", feed="wire")])
    put(storage, "f", [art("1", "Mine"), art("2", "Churned", "https://ex.jp/c")])
    seen: list[Known] = []

    def spy(known: Known) -> list[Any]:
        seen.append(known)
        return []

    batch = [
        art("1", "Mine"),  # known entry
        art("9", "Story", "https://news.ex/x"),  # another feed's story, by link
        art("8", "Churned", "https://ex.jp/c2"),  # this feed's story, by fingerprint
    ]
    assert storage.store_batch("f", batch, spy, now=NOW) == StoreResult()
    [known] = seen
    ids = {a.article.entry_id: a.id for a in storage.articles()}
    assert set(known.by_entry) == {"1"}
    assert known.by_entry["1"].id == ids["1"] and known.by_entry["1"].feed == "f"
    assert [k.id for k in known.by_link["https://news.ex/x"]] == [ids["w1"]]
    assert known.by_link["https://news.ex/x"][0].entry_ids == frozenset()  # none of this feed's
    [churned] = [v for v in known.by_fingerprint.values()]
    assert [k.id for k in churned] == [ids["2"]] and churned[0].entry_ids == frozenset({"2"})


# -- matches -----------------------------------------------------------------------------


def test_a_stored_article_comes_back_as_it_was_given(storage: Storage) -> None:
    article = replace(
        art("1", "半導体に補助金 — 経産省", summary="経済産業省は２１日、…"),
        authors=("山田 太郎", "Jane Doe"),
        tags=("経済", "tech"),
        updated=NOW - timedelta(minutes=30, microseconds=-250_000),
        language="ja",
    )
    put(storage, "f", [article], matches={"1": FLAGGED}, now=NOW + timedelta(microseconds=999))
    [stored] = storage.articles()
    # times to the second, aware, in UTC
    assert stored.article == replace(article, updated=NOW - timedelta(minutes=30))
    assert (stored.first_seen, stored.matched_at, stored.edited_at) == (NOW, NOW, None)
    assert stored.match == FLAGGED and stored.flagged
    assert stored.backlog is False
    assert stored.sources == ("f",) and stored.links == (("f", article.link),)
    for value in (stored.first_seen, stored.matched_at, stored.article.published):
        assert value is not None and value.tzinfo == UTC


def test_an_unmatched_article_has_no_match(storage: Storage) -> None:
    put(storage, "f", [art("1"), art("2")], matches={"2": NOT_FLAGGED})
    by_entry = {a.article.entry_id: a for a in storage.articles()}
    assert by_entry["1"].match is None and by_entry["1"].matched_at is None
    assert not by_entry["1"].flagged
    assert by_entry["2"].match == NOT_FLAGGED and by_entry["2"].matched_at == NOW
    assert not by_entry["2"].flagged


def test_another_feeds_flagged_copy_gives_the_story_its_match(storage: Storage) -> None:
    put(
        storage,
        "wire",
        [art("w1", "Chip", "https://news.ex/x", feed="wire")],
        matches={"w1": NOT_FLAGGED},
    )
    storage.ensure_subscription("s", start=NOW)
    [article] = storage.undelivered("s", since=NOW)
    storage.skip("s", [article.id])
    assert storage.undelivered("s", since=NOW) == []
    r = put(
        storage,
        "agg",
        [art("a1", "Chip (Agg)", "https://news.ex/x", feed="agg")],
        matches={"a1": FLAGGED},
        now=NOW + HOUR,
    )
    assert (r.new, r.edited, r.unchanged) == ((), (), 1)
    [stored] = storage.articles()
    assert stored.match == FLAGGED and stored.matched_at == NOW + HOUR
    assert storage.flagged_among([article.id]) == (article.id,)
    # passed over before, looked at again now that its match changed
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [article.id]


def test_an_edit_with_a_new_match_is_looked_at_again_unless_already_sent(storage: Storage) -> None:
    put(storage, "f", [art("1", "A"), art("2", "B")], matches={"1": NOT_FLAGGED, "2": NOT_FLAGGED})
    storage.ensure_subscription("s", start=NOW)
    one, two = (a.id for a in storage.undelivered("s", since=NOW))
    storage.skip("s", [one])
    storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[two])
    r = put(
        storage,
        "f",
        [art("1", "A", summary="more"), art("2", "B", summary="more")],
        matches={"1": FLAGGED, "2": FLAGGED},
        now=NOW + HOUR,
    )
    assert r.edited == (one, two) and r.new == ()
    assert all(a.match == FLAGGED and a.matched_at == NOW + HOUR for a in storage.articles())
    # the skipped one comes back; the one in a digest stays there
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [one]
    assert storage.digest_article_ids(storage.outbox()[0].id) == [two]


def test_an_edit_without_a_match_keeps_the_old_one(storage: Storage) -> None:
    put(storage, "f", [art("1", "A")], matches={"1": FLAGGED})
    r = put(storage, "f", [art("1", "A", summary="edited")], now=NOW + HOUR)
    assert len(r.edited) == 1
    [stored] = storage.articles()
    assert stored.match == FLAGGED and stored.matched_at == NOW


def test_full_text_is_kept_and_its_decision_outlives_feed_edits(storage: Storage) -> None:
    put(storage, "f", [art("1", "A"), art("2", "B")], matches={"1": NOT_FLAGGED, "2": NOT_FLAGGED})
    storage.ensure_subscription("s", start=NOW)
    one, two = (a.id for a in storage.undelivered("s", since=NOW))
    storage.skip("s", [one, two])
    page = FullText(
        "ok", NOW + HOUR, text="総務省は生成AIの指針案を公表した。\n\n意見募集は来月まで。"
    )
    storage.record_full_text(one, page, FLAGGED, now=NOW + HOUR)
    storage.record_full_text(two, FullText("failed", NOW + HOUR, detail="HTTP 403"), None, now=NOW)
    first, second = sorted(storage.articles(), key=lambda a: a.id)
    assert first.full_text == page and first.decided_by == "full_text"
    assert first.match == FLAGGED and first.matched_at == NOW + HOUR
    assert second.full_text == FullText("failed", NOW + HOUR, detail="HTTP 403")
    assert second.decided_by == "feed" and second.match == NOT_FLAGGED
    # the decision changed: the subscription that had passed it over looks at it again
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [one]
    # an edit of the thin feed text, matched again on that text, does not undo it
    put(
        storage,
        "f",
        [art("1", "A", summary="edited"), art("2", "B", summary="edited")],
        matches={"1": NOT_FLAGGED, "2": FLAGGED},
        now=NOW + 2 * HOUR,
    )
    first, second = sorted(storage.articles(), key=lambda a: a.id)
    assert first.match == FLAGGED and first.decided_by == "full_text" and first.full_text == page
    assert second.match == FLAGGED and second.decided_by == "feed"


# -- reading articles ---------------------------------------------------------------------


def test_articles_filters_and_order(storage: Storage) -> None:
    # ids in this order: old, b, c, a; b and c share their publication time
    put(
        storage,
        "f",
        [art("old", age_hours=100), art("b", age_hours=3), art("c", age_hours=3), art("a")],
        first=True,
        matches={"a": FLAGGED, "c": NOT_FLAGGED, "old": FLAGGED},
    )
    assert ids_of(storage.articles()) == ["a", "c", "b", "old"]  # newest first, then newest id
    ids = {a.article.entry_id: a.id for a in storage.articles()}
    assert ids["old"] < ids["b"] < ids["c"] < ids["a"]
    assert ids_of(storage.articles(limit=2)) == ["a", "c"]
    assert ids_of(storage.articles(limit=0)) == ["a", "c", "b", "old"]  # 0 is no limit
    assert ids_of(storage.articles(since=NOW - 3 * HOUR)) == ["a", "c", "b"]  # inclusive
    assert ids_of(storage.articles(since=NOW - 3 * HOUR + timedelta(seconds=1))) == ["a"]
    assert ids_of(storage.articles(include_backlog=False)) == ["a", "c", "b"]
    assert ids_of(storage.articles(flagged_only=True)) == ["a", "old"]
    assert ids_of(storage.articles(flagged_only=True, include_backlog=False)) == ["a"]
    assert ids_of(storage.articles(ids=[ids["old"], ids["b"], 999_999])) == ["b", "old"]
    assert ids_of(storage.articles(ids=iter([ids["c"]]))) == ["c"]
    assert storage.articles(ids=[]) == []
    assert ids_of(storage.articles(ids=[ids["a"], ids["b"]], since=NOW - 2 * HOUR)) == ["a"]
    assert storage.articles(since=NOW + HOUR) == []


def test_flagged_among(storage: Storage) -> None:
    r = put(
        storage,
        "f",
        [art("1"), art("2"), art("3"), art("4")],
        matches={"1": FLAGGED, "2": NOT_FLAGGED, "3": FLAGGED},
    )
    one, two, three, four = r.new
    assert storage.flagged_among(r.new) == (one, three)
    assert storage.flagged_among([three, 12345, one]) == (one, three)  # in id order
    assert storage.flagged_among([two, four]) == ()
    assert storage.flagged_among([]) == ()


def test_arrival_times_are_the_newest_new_articles_first_seen(storage: Storage) -> None:
    put(storage, "f", [art("old", age_hours=100)], first=True)  # backlog: not an arrival
    put(storage, "f", [art("1", "one")], now=NOW + HOUR)
    put(
        storage,
        "f",
        [art("2", "two"), art("3", "three")],
        now=NOW + 2 * HOUR + timedelta(microseconds=5),
    )
    put(storage, "g", [art("x", "other", feed="g")], now=NOW + 3 * HOUR)
    assert storage.arrival_times("f") == [NOW + 2 * HOUR, NOW + 2 * HOUR, NOW + HOUR]
    assert storage.arrival_times("f", limit=1) == [NOW + 2 * HOUR]
    assert storage.arrival_times("g") == [NOW + 3 * HOUR]
    assert storage.arrival_times("unknown") == []
    assert all(t.tzinfo == UTC for t in storage.arrival_times("f"))


# -- the ledger ---------------------------------------------------------------------------


def test_a_subscription_starts_once(storage: Storage) -> None:
    assert storage.subscription_start("s") is None
    assert storage.subscription_status("s") is None
    assert storage.ensure_subscription("s", start=NOW + timedelta(microseconds=7)) == NOW
    assert storage.ensure_subscription("s", start=NOW + DAY) == NOW
    assert storage.subscription_start("s") == NOW
    assert storage.subscription_status("s") == SubscriptionStatus(
        started_at=NOW,
        last_delivered_at=None,
        last_digest=None,
        pending_digests=0,
        pending_articles=0,
        pending_messages=0,
        last_error=None,
    )


def test_undelivered_is_matched_new_articles_nobody_took(storage: Storage) -> None:
    put(storage, "f", [art("backlog", age_hours=100)], first=True, matches={"backlog": FLAGGED})
    put(storage, "f", [art("early")], now=NOW - HOUR, matches={"early": FLAGGED})
    put(
        storage,
        "f",
        [art("a"), art("b"), art("c"), art("unmatched")],
        matches={"a": FLAGGED, "b": NOT_FLAGGED, "c": FLAGGED},
    )
    storage.ensure_subscription("s", start=NOW)
    got = storage.undelivered("s", since=NOW)  # first seen at ``since`` counts
    assert ids_of(got) == ["a", "b", "c"]
    a, b, c = (x.id for x in got)
    assert ids_of(storage.undelivered("s", since=NOW - 2 * HOUR)) == ["early", "a", "b", "c"]
    storage.skip("s", [b])
    storage.skip("s", [b])  # twice is fine
    storage.skip("s", [])
    storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[a])
    storage.skip("s", [a])  # passing over an article already in a digest changes nothing
    assert [x.id for x in storage.undelivered("s", since=NOW)] == [c]
    assert storage.digest_article_ids(storage.outbox()[0].id) == [a]
    # every subscription keeps its own ledger
    assert ids_of(storage.undelivered("t", since=NOW)) == ["a", "b", "c"]
    assert storage.undelivered("s", since=NOW + timedelta(seconds=1)) == []


def test_a_digest_goes_from_the_outbox_to_sent(storage: Storage) -> None:
    ids = matched(storage, 3)
    storage.ensure_subscription("s", start=NOW - HOUR)
    digest = storage.create_digest(
        "s", kind="digest", now=NOW + HOUR, payloads=PAYLOADS, article_ids=[ids[2], ids[0]]
    )
    [pending] = storage.pending_digests("s")
    assert pending == PendingDigest(
        digest,
        "s",
        "digest",
        NOW + HOUR,
        0,
        2,
        (OutboxMessage(0, PAYLOADS[0], None, None), OutboxMessage(1, PAYLOADS[1], None, None)),
    )
    assert storage.pending_digests("other") == []
    assert storage.digest_article_ids(digest) == [ids[0], ids[2]]
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [ids[1]]
    status = storage.subscription_status("s")
    assert status is not None
    assert (status.pending_digests, status.pending_articles, status.pending_messages) == (1, 2, 2)

    storage.start_attempt(digest)
    storage.record_sent(digest, 0, channel_id="C1", ts="1700000000.000100", now=NOW + 2 * HOUR)
    [pending] = storage.pending_digests("s")
    assert pending.attempts == 1
    assert pending.messages == (
        OutboxMessage(0, PAYLOADS[0], "C1", "1700000000.000100", sent=True),
        OutboxMessage(1, PAYLOADS[1], None, None, sent=False),
    )
    status = storage.subscription_status("s")
    assert status is not None and status.pending_messages == 1
    # a webhook gives no ts: the message is marked sent all the same
    storage.record_sent(digest, 1, channel_id="sent", ts=None, now=NOW + 2 * HOUR)
    assert all(m.sent for m in storage.pending_digests("s")[0].messages)
    storage.finish_digest("s", digest, now=NOW + 2 * HOUR, channel_id="C1")

    assert storage.pending_digests("s") == []
    assert storage.outbox() == []
    assert storage.last_delivered("s") == NOW + 2 * HOUR
    assert storage.last_delivered("s", "alert") is None
    assert storage.last_delivered("other") is None
    assert storage.channel_id("s") == "C1"
    assert storage.subscription_status("s") == SubscriptionStatus(
        started_at=NOW - HOUR,
        last_delivered_at=NOW + 2 * HOUR,
        last_digest=DigestSummary(digest, "digest", 2, NOW + 2 * HOUR),
        pending_digests=0,
        pending_articles=0,
        pending_messages=0,
        last_error=None,
    )


def test_pending_digests_come_in_order_with_their_messages(storage: Storage) -> None:
    ids = matched(storage, 2)
    storage.ensure_subscription("s", start=NOW)
    storage.ensure_subscription("t", start=NOW)
    first = storage.create_digest(
        "s", kind="alert", now=NOW, payloads=PAYLOADS[:1], article_ids=[ids[0]]
    )
    other = storage.create_digest("t", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=ids)
    second = storage.create_digest("s", kind="digest", now=NOW + HOUR, payloads=[], article_ids=[])
    pending = storage.pending_digests("s")
    assert [(p.id, p.kind, p.articles, len(p.messages)) for p in pending] == [
        (first, "alert", 1, 1),
        (second, "digest", 0, 0),
    ]
    assert [p.id for p in storage.pending_digests("t")] == [other]
    assert first < other < second


def test_last_created_counts_digests_sent_or_not(storage: Storage) -> None:
    storage.ensure_subscription("s", start=NOW)
    assert storage.last_created("s") is None
    storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[])
    pending = storage.create_digest(
        "s", kind="digest", now=NOW + HOUR, payloads=PAYLOADS, article_ids=[]
    )
    storage.create_digest("s", kind="alert", now=NOW + 2 * HOUR, payloads=[], article_ids=[])
    assert pending in [d.id for d in storage.pending_digests("s")]  # not sent
    assert storage.last_created("s") == NOW + HOUR
    assert storage.last_created("s", "alert") == NOW + 2 * HOUR
    assert storage.last_created("other") is None


def test_last_delivered_is_the_latest_sent_digest_of_a_kind(storage: Storage) -> None:
    storage.ensure_subscription("s", start=NOW)
    made = [
        storage.create_digest("s", kind=kind, now=NOW, payloads=[], article_ids=[])
        for kind in ("alert", "digest", "digest", "digest")
    ]
    storage.finish_digest("s", made[0], now=NOW + HOUR, channel_id=None)
    storage.finish_digest("s", made[1], now=NOW + 3 * HOUR, channel_id=None)
    storage.finish_digest("s", made[2], now=NOW + 2 * HOUR, channel_id=None)
    assert storage.last_delivered("s") == NOW + 3 * HOUR
    assert storage.last_delivered("s", "alert") == NOW + HOUR
    assert storage.last_delivered("s", kind="weekly") is None
    status = storage.subscription_status("s")
    # the last one finished, not the latest time
    assert status is not None and status.last_digest == DigestSummary(
        made[2], "digest", 0, NOW + 2 * HOUR
    )
    assert status.last_delivered_at == NOW + 2 * HOUR
    assert [d.id for d in storage.outbox()] == [made[3]]


def test_the_channel_is_remembered(storage: Storage) -> None:
    assert storage.channel_id("s") is None
    storage.ensure_subscription("s", start=NOW)
    assert storage.channel_id("s") is None
    storage.remember_channel("s", "C1")
    assert storage.channel_id("s") == "C1"
    digest = storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[])
    storage.finish_digest("s", digest, now=NOW, channel_id=None)  # keeps the known one
    assert storage.channel_id("s") == "C1"
    storage.remember_channel("unknown", "C9")  # no subscription: nothing to remember
    assert storage.channel_id("unknown") is None


def test_a_delivery_error_is_kept_until_a_digest_goes_through(storage: Storage) -> None:
    storage.ensure_subscription("s", start=NOW)
    storage.record_delivery_error("s", code="not_in_channel", message="invite the bot", now=NOW)
    status = storage.subscription_status("s")
    assert status is not None
    assert status.last_error == DeliveryFailure("not_in_channel", "invite the bot", NOW)
    storage.record_delivery_error("s", code="ratelimited", message="429", now=NOW + HOUR)
    status = storage.subscription_status("s")
    assert status is not None and status.last_error == DeliveryFailure(
        "ratelimited", "429", NOW + HOUR
    )
    digest = storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[])
    storage.finish_digest("s", digest, now=NOW + 2 * HOUR, channel_id="C1")
    status = storage.subscription_status("s")
    assert status is not None and status.last_error is None
    storage.record_delivery_error("unknown", code="x", message="y", now=NOW)
    assert storage.subscription_status("unknown") is None


def test_create_digest_is_all_or_nothing(storage: Storage) -> None:
    ids = matched(storage, 2)
    storage.ensure_subscription("s", start=NOW)
    first = storage.create_digest(
        "s", kind="digest", now=NOW, payloads=PAYLOADS[:1], article_ids=[ids[0]]
    )
    # ids[0] already belongs to a digest
    with pytest.raises(StorageError):
        storage.create_digest(
            "s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[1], ids[0]]
        )
    with pytest.raises(StorageError):  # no such subscription
        storage.create_digest(
            "nobody", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[1]]
        )
    assert [d.id for d in storage.outbox()] == [first]
    status = storage.subscription_status("s")
    assert status is not None and (status.pending_digests, status.pending_messages) == (1, 1)
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [ids[1]]
    assert [a.id for a in storage.undelivered("nobody", since=NOW)] == ids


def test_create_digest_is_all_or_nothing_inside_a_transaction(storage: Storage) -> None:
    ids = matched(storage, 2)
    storage.ensure_subscription("s", start=NOW)
    first = storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[ids[0]])
    with storage.transaction():
        with pytest.raises(StorageError):
            storage.create_digest(
                "s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[1], ids[0]]
            )
        storage.record_notice("after", now=NOW)
    assert [d.id for d in storage.outbox()] == [first]
    assert not due(storage, "after")


def test_a_refused_digest_is_parked_and_its_articles_released(storage: Storage) -> None:
    ids = matched(storage, 3)
    storage.ensure_subscription("s", start=NOW)
    digest = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=ids)
    assert storage.record_digest_failure(digest, code="invalid_blocks", message="bad") == 1
    assert storage.record_digest_failure(digest, code="invalid_blocks", message="worse") == 2
    [entry] = storage.outbox()
    assert (entry.status, entry.failures, entry.last_error) == (
        "pending",
        2,
        "invalid_blocks: worse",
    )

    assert storage.park_digest(digest) == (3, 0)
    assert storage.outbox() == [
        OutboxDigest(
            id=digest,
            subscription="s",
            kind="digest",
            status="parked",
            created_at=NOW,
            attempts=0,
            failures=2,
            last_error="invalid_blocks: worse",
            articles=0,
            messages_sent=0,
        )
    ]
    assert storage.pending_digests("s") == []
    assert storage.digest_article_ids(digest) == []
    assert storage.solo_articles("s") == set(ids)
    assert storage.solo_articles("other") == set()
    # released into the next digest
    assert [a.id for a in storage.undelivered("s", since=NOW)] == ids

    # each goes out alone; one refused again stays parked, with its digest
    alone = storage.create_digest(
        "s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[0]]
    )
    assert storage.park_digest(alone) == (0, 1)
    assert storage.digest_article_ids(alone) == [ids[0]]
    assert [a.id for a in storage.undelivered("s", since=NOW)] == ids[1:]
    assert [(d.id, d.status, d.articles) for d in storage.outbox()] == [
        (digest, "parked", 0),
        (alone, "parked", 1),
    ]
    # an article parked alone once more than it was parked with others still goes alone
    assert storage.solo_articles("s") == set(ids)


def test_a_digest_of_articles_never_parked_is_released_whole(storage: Storage) -> None:
    [only] = matched(storage, 1)
    storage.ensure_subscription("s", start=NOW)
    digest = storage.create_digest(
        "s", kind="alert", now=NOW, payloads=PAYLOADS, article_ids=[only]
    )
    assert storage.park_digest(digest) == (1, 0)  # first time: released, not kept
    assert [a.id for a in storage.undelivered("s", since=NOW)] == [only]
    empty = storage.create_digest("s", kind="digest", now=NOW, payloads=[], article_ids=[])
    assert storage.park_digest(empty) == (0, 0)


def test_the_outbox_lists_digests_not_delivered(storage: Storage) -> None:
    ids = matched(storage, 4)
    storage.ensure_subscription("s", start=NOW)
    storage.ensure_subscription("t", start=NOW)
    d1 = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[0]])
    d2 = storage.create_digest(
        "t", kind="alert", now=NOW + HOUR, payloads=PAYLOADS, article_ids=[ids[1]]
    )
    d3 = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[2]])
    d4 = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[ids[3]])
    storage.start_attempt(d1)
    storage.record_sent(d1, 0, channel_id="C1", ts="1.1", now=NOW)
    storage.finish_digest("s", d3, now=NOW, channel_id="C1")
    storage.set_digest_status(d4, "dropped")
    assert [d.id for d in storage.outbox()] == [d1, d2, d4]
    assert [d.id for d in storage.outbox("s")] == [d1, d4]
    assert storage.outbox("nobody") == []
    assert storage.outbox("s")[0] == OutboxDigest(
        id=d1,
        subscription="s",
        kind="digest",
        status="pending",
        created_at=NOW,
        attempts=1,
        failures=0,
        last_error=None,
        articles=1,
        messages_sent=1,
    )
    assert storage.outbox("t")[0].created_at == NOW + HOUR


def test_a_dropped_digest_keeps_its_articles_and_can_be_retried(storage: Storage) -> None:
    ids = matched(storage, 2)
    storage.ensure_subscription("s", start=NOW)
    digest = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=ids)
    storage.record_digest_failure(digest, code="msg_too_long", message="too long")
    storage.set_digest_status(digest, "dropped")
    [entry] = storage.outbox()
    assert (entry.status, entry.failures, entry.last_error) == (
        "dropped",
        0,
        "msg_too_long: too long",
    )
    assert storage.pending_digests("s") == []
    assert storage.digest_article_ids(digest) == ids
    assert storage.undelivered("s", since=NOW) == []
    status = storage.subscription_status("s")
    assert status is not None and status.pending_digests == 0
    storage.set_digest_status(digest, "pending")
    assert [p.id for p in storage.pending_digests("s")] == [digest]


def test_a_replaced_digest_is_pending_again_with_its_new_messages(storage: Storage) -> None:
    ids = matched(storage, 2)
    storage.ensure_subscription("s", start=NOW)
    digest = storage.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=ids)
    storage.record_digest_failure(digest, code="invalid_blocks", message="bad")
    storage.set_digest_status(digest, "dropped")
    storage.replace_digest(digest, [{"text": "re-rendered", "blocks": [{"type": "divider"}]}])
    [pending] = storage.pending_digests("s")
    assert pending.messages == (
        OutboxMessage(0, {"text": "re-rendered", "blocks": [{"type": "divider"}]}, None, None),
    )
    assert pending.articles == 2
    [entry] = storage.outbox()
    assert (entry.status, entry.failures, entry.last_error) == ("pending", 0, None)
    assert storage.digest_article_ids(digest) == ids


# -- notices, heartbeat, leases ---------------------------------------------------------------


def test_a_notice_is_due_again_after_its_interval(storage: Storage) -> None:
    week = timedelta(days=7)
    assert storage.notice_due("k", now=NOW, repeat_after=week)
    storage.record_notice("k", now=NOW)
    assert not storage.notice_due("k", now=NOW + DAY, repeat_after=week)
    assert storage.notice_due("k", now=NOW + DAY, repeat_after=DAY)  # exactly: due
    assert not storage.notice_due("k", now=NOW + DAY - timedelta(seconds=1), repeat_after=DAY)
    assert storage.notice_due("other", now=NOW, repeat_after=week)
    storage.record_notice("k", now=NOW + week)
    assert not storage.notice_due("k", now=NOW + week + DAY, repeat_after=week)


def test_the_heartbeat_is_one_row(storage: Storage) -> None:
    assert raw(storage, "SELECT id, at FROM heartbeat") == []
    storage.heartbeat(NOW)
    storage.heartbeat(NOW + timedelta(minutes=1, microseconds=5))
    [(row_id, at)] = raw(storage, "SELECT id, at FROM heartbeat")
    assert row_id == 1 and as_time(at) == NOW + timedelta(minutes=1)


def test_leases(storage: Storage) -> None:
    ttl = timedelta(minutes=10)
    minute = timedelta(minutes=1)
    assert storage.acquire_lease("poll", "a", now=NOW, ttl=ttl)  # free
    assert not storage.acquire_lease("poll", "b", now=NOW + 5 * minute, ttl=ttl)  # a's
    assert storage.acquire_lease("poll", "a", now=NOW + 5 * minute, ttl=ttl)  # renewed
    assert not storage.acquire_lease("poll", "b", now=NOW + 14 * minute, ttl=ttl)
    assert storage.acquire_lease("poll", "b", now=NOW + 15 * minute, ttl=ttl)  # expired now
    assert not storage.acquire_lease("poll", "a", now=NOW + 16 * minute, ttl=ttl)
    storage.release_lease("poll", "a")  # not a's: nothing happens
    assert not storage.acquire_lease("poll", "a", now=NOW + 16 * minute, ttl=ttl)
    assert storage.acquire_lease("deliver", "a", now=NOW + 16 * minute, ttl=ttl)  # another
    storage.release_lease("poll", "b")
    assert storage.acquire_lease("poll", "a", now=NOW + 16 * minute, ttl=ttl)
    storage.release_lease("nothing", "a")


# -- the Slack app's store: subscriptions, feeds, feedback, mutes, audit, settings ------------

MINUTE = timedelta(minutes=1)
JST = timezone(timedelta(hours=9))


def app_sub(
    name: str, *, at: datetime = NOW, rule: str | None = None, team: str | None = None
) -> AppSubscription:
    return AppSubscription(
        name=name,
        channel_id=f"C-{name}",
        rule=rule,
        schedule="0 9 * * 1-5",
        created_by="U1",
        created_at=at,
        team_id=team,
    )


def app_feed(
    name: str, url: str = "", *, at: datetime = NOW, tags: tuple[str, ...] = ()
) -> AppFeed:
    return AppFeed(
        name=name, url=url or f"https://{name}.example/rss", tags=tags, added_by="U1", added_at=at
    )


def vote(
    article_id: int, user: str, verdict: Verdict, *, sub: str = "jp", at: datetime = NOW
) -> FeedbackVote:
    return FeedbackVote(
        article_id=article_id, subscription=sub, user_id=user, verdict=verdict, at=at
    )


def entry(i: int, *, channel: str | None = "C1", at: datetime | None = None) -> AuditEntry:
    return AuditEntry(
        at=at or NOW + i * MINUTE,
        user_id=f"U{i}",
        action="subscribe",
        target=f"s{i}",
        detail=f"detail {i}" if i % 2 else "",
        channel_id=channel,
    )


def test_app_subscriptions_are_unique_by_name_and_listed_oldest_first(storage: Storage) -> None:
    assert storage.app_subscriptions() == []
    b = app_sub("b", at=NOW + HOUR, rule="chips", team="T1")
    a = app_sub("a", at=NOW)
    c = app_sub("c", at=NOW + HOUR)  # the same second as b, added after it
    assert storage.add_app_subscription(b)
    assert storage.add_app_subscription(a)
    assert storage.add_app_subscription(c)
    assert storage.app_subscriptions() == [a, b, c]
    # a name taken: refused, and the subscription of that name unchanged
    assert not storage.add_app_subscription(replace(a, channel_id="C9", created_at=NOW + DAY))
    assert storage.app_subscriptions() == [a, b, c]
    assert storage.remove_app_subscription("b")
    assert not storage.remove_app_subscription("b")
    assert not storage.remove_app_subscription("nobody")
    assert storage.app_subscriptions() == [a, c]
    # the name is free again
    again = replace(b, created_at=NOW + DAY)
    assert storage.add_app_subscription(again)
    assert storage.app_subscriptions() == [a, c, again]


def test_app_feeds_refuse_a_name_or_url_taken(storage: Storage) -> None:
    assert storage.app_feeds() == []
    nikkei = app_feed("nikkei", tags=("jp", "経済"))
    wire = app_feed("wire", at=NOW + HOUR)
    assert storage.add_app_feed(wire)
    assert storage.add_app_feed(nikkei)
    listed = storage.app_feeds()
    assert listed == [nikkei, wire]
    assert listed[0].tags == ("jp", "経済") and listed[1].tags == ()
    assert not storage.add_app_feed(replace(nikkei, url="https://other.example/rss"))  # name
    assert not storage.add_app_feed(replace(wire, name="wire2", added_at=NOW + DAY))  # url
    assert storage.app_feeds() == [nikkei, wire]
    assert storage.remove_app_feed("nikkei")
    assert not storage.remove_app_feed("nikkei")
    assert not storage.remove_app_feed("nobody")
    assert storage.app_feeds() == [wire]
    # wire still holds its URL; nikkei's name and URL are free again
    assert not storage.add_app_feed(replace(wire, name="wire2"))
    back = replace(nikkei, added_at=NOW + DAY)
    assert storage.add_app_feed(back)
    assert storage.app_feeds() == [wire, back]


def test_a_repeated_click_counts_once_and_a_changed_verdict_replaces_the_vote(
    storage: Storage,
) -> None:
    a1, a2 = matched(storage, 2)
    assert storage.feedback_counts(a1, "jp") == {}
    first = vote(a1, "U1", "relevant")
    assert storage.record_feedback(first)
    # the same click again: nothing changes, not even the time
    assert not storage.record_feedback(replace(first, at=NOW + HOUR))
    assert storage.feedback() == [first]
    assert storage.feedback_counts(a1, "jp") == {"relevant": 1}
    # the other button: the verdict and its time are replaced
    changed = replace(first, verdict="not_relevant", at=NOW + 2 * HOUR)
    assert storage.record_feedback(changed)
    assert storage.feedback() == [changed]
    assert storage.feedback_counts(a1, "jp") == {"not_relevant": 1}
    assert not storage.record_feedback(replace(changed, at=NOW + 3 * HOUR))
    assert storage.feedback() == [changed]
    # other people, subscriptions and stories are counted apart
    assert storage.record_feedback(vote(a1, "U2", "relevant", at=NOW + HOUR))
    assert storage.record_feedback(vote(a1, "U3", "relevant", at=NOW + HOUR))
    assert storage.record_feedback(vote(a1, "U1", "relevant", sub="eu"))
    assert storage.record_feedback(vote(a2, "U1", "not_relevant"))
    assert storage.feedback_counts(a1, "jp") == {"relevant": 2, "not_relevant": 1}
    assert storage.feedback_counts(a1, "eu") == {"relevant": 1}
    assert storage.feedback_counts(a2, "jp") == {"not_relevant": 1}
    assert storage.feedback_counts(a2, "eu") == {}
    assert len(storage.feedback()) == 5


def test_feedback_is_newest_first_and_filtered(storage: Storage) -> None:
    a1, a2, a3 = matched(storage, 3)
    v1 = vote(a1, "U1", "relevant", at=NOW)
    v2 = vote(a2, "U1", "not_relevant", sub="eu", at=NOW + HOUR)
    v3 = vote(a3, "U2", "relevant", at=NOW + HOUR)  # the same second as v2, recorded after
    v4 = vote(a1, "U2", "not_relevant", at=NOW + 2 * HOUR)
    for v in (v1, v2, v3, v4):
        assert storage.record_feedback(v)
    assert storage.feedback() == [v4, v3, v2, v1]
    assert storage.feedback(subscription="jp") == [v4, v3, v1]
    assert storage.feedback(subscription="eu") == [v2]
    assert storage.feedback(subscription="nobody") == []
    assert storage.feedback(article_ids=[a1, a2]) == [v4, v2, v1]
    assert storage.feedback(subscription="jp", article_ids=iter([a1, a2])) == [v4, v1]
    assert storage.feedback(article_ids=[]) == []
    assert storage.feedback(article_ids=[a3 + 1000]) == []
    # a changed verdict is the newest vote, also among votes of the same second
    v1b = replace(v1, verdict="not_relevant", at=NOW + 2 * HOUR)
    assert storage.record_feedback(v1b)
    assert storage.feedback() == [v1b, v4, v3, v2]


def test_feedback_is_on_stored_stories_and_goes_with_them(storage: Storage) -> None:
    a1, a2 = matched(storage, 2)
    with pytest.raises(StorageError):  # no such story
        storage.record_feedback(vote(a2 + 1000, "U1", "relevant"))
    with pytest.raises(StorageError):  # no such verdict
        storage.record_feedback(vote(a1, "U1", "maybe"))  # type: ignore[arg-type]
    assert storage.feedback() == []
    keep = vote(a2, "U1", "relevant")
    assert storage.record_feedback(vote(a1, "U1", "relevant"))
    assert storage.record_feedback(keep)
    # deleting a story deletes its votes, and nothing else
    raw(storage, f"DELETE FROM articles WHERE id = {a1}")
    assert storage.feedback() == [keep]
    assert [a.id for a in storage.articles()] == [a2]


def test_muting_a_feed_for_a_subscription(storage: Storage) -> None:
    assert storage.muted_feeds() == []
    m1 = MutedFeed("jp", "wire", "U1", NOW)
    m2 = MutedFeed("eu", "wire", "U2", NOW + HOUR)
    m3 = MutedFeed("jp", "nikkei", "U1", NOW + HOUR)
    for m in (m1, m2, m3):
        assert storage.mute_feed(m)
    # already muted: refused, the first mute kept
    assert not storage.mute_feed(replace(m1, muted_by="U9", muted_at=NOW + DAY))
    assert storage.muted_feeds() == [m1, m2, m3]
    assert storage.muted_feeds(None) == [m1, m2, m3]
    assert storage.muted_feeds("jp") == [m1, m3]
    assert storage.muted_feeds("nobody") == []
    assert storage.unmute_feed("jp", "wire")
    assert not storage.unmute_feed("jp", "wire")
    assert not storage.unmute_feed("fr", "wire")
    assert storage.muted_feeds("jp") == [m3]
    assert storage.muted_feeds("eu") == [m2]  # the same feed, another subscription
    again = replace(m1, muted_at=NOW + DAY)
    assert storage.mute_feed(again)
    assert storage.muted_feeds("jp") == [m3, again]


def test_the_audit_log_is_newest_first_limited_and_filtered(storage: Storage) -> None:
    assert storage.audit() == []
    entries = [entry(i, channel="C1" if i % 2 == 0 else "C2") for i in range(6)]
    entries.append(entry(6, channel=None, at=entries[-1].at))  # the same second, after it
    for e in entries:
        storage.record_audit(e)
    newest = entries[::-1]
    assert storage.audit() == newest
    assert storage.audit(limit=2) == newest[:2]
    assert storage.audit(channel_id="C1") == [e for e in newest if e.channel_id == "C1"]
    assert storage.audit(channel_id="C2", limit=1) == [entries[5]]
    assert storage.audit(channel_id="C9") == []
    # 50 unless told
    for i in range(7, 60):
        storage.record_audit(entry(i))
    assert len(storage.audit()) == 50
    assert storage.audit()[0] == entry(59)


def test_app_times_are_utc_to_the_second(storage: Storage) -> None:
    in_tokyo = (NOW + timedelta(microseconds=250_000)).astimezone(JST)
    storage.record_audit(entry(1, at=in_tokyo))
    assert storage.add_app_subscription(app_sub("s", at=in_tokyo))
    [logged] = storage.audit()
    [sub] = storage.app_subscriptions()
    for when in (logged.at, sub.created_at):
        assert when == NOW and when.utcoffset() == timedelta(0)
    # ordered by the instant, not by the text of a local time
    storage.record_audit(entry(2, at=(NOW + HOUR).astimezone(timezone(-timedelta(hours=5)))))
    assert [e.target for e in storage.audit()] == ["s2", "s1"]


def test_workspace_settings_are_one_value_per_team_and_key(storage: Storage) -> None:
    assert storage.workspace_setting("T1", "language") is None
    storage.set_workspace_setting("T1", "language", "ja")
    storage.set_workspace_setting("T2", "language", "en")
    storage.set_workspace_setting("T1", "digest_hour", "9")
    assert storage.workspace_setting("T1", "language") == "ja"
    storage.set_workspace_setting("T1", "language", "en")  # replaced
    assert storage.workspace_setting("T1", "language") == "en"
    assert storage.workspace_setting("T2", "language") == "en"
    assert storage.workspace_setting("T1", "digest_hour") == "9"
    assert storage.workspace_setting("T3", "language") is None
    assert raw(storage, "SELECT COUNT(*) FROM workspace_settings") == [(3,)]


def app_data(storage: Storage) -> list[int]:
    """Something of everything the Slack app keeps; the ids of the stories voted on."""
    ids = matched(storage, 2, prefix="app")
    assert storage.add_app_subscription(app_sub("jp", rule="chips", team="T1"))
    assert storage.add_app_feed(app_feed("nikkei", tags=("jp", "経済")))
    assert storage.record_feedback(vote(ids[0], "U1", "relevant"))
    assert storage.record_feedback(vote(ids[0], "U2", "not_relevant", at=NOW + HOUR))
    assert storage.record_feedback(vote(ids[1], "U1", "relevant", sub="eu"))
    assert storage.mute_feed(MutedFeed("jp", "wire", "U1", NOW))
    storage.record_audit(entry(1))
    storage.record_audit(entry(2, channel=None))
    storage.set_workspace_setting("T1", "language", "ja")
    return ids


def app_snapshot(storage: Storage, ids: Sequence[int]) -> tuple[Any, ...]:
    return (
        storage.app_subscriptions(),
        storage.app_feeds(),
        storage.feedback(),
        storage.feedback_counts(ids[0], "jp"),
        storage.muted_feeds(),
        storage.audit(),
        storage.workspace_setting("T1", "language"),
    )


def test_the_apps_data_survives_reopening(reopen: Callable[[], Storage]) -> None:
    storage = reopen()
    ids = app_data(storage)
    before = app_snapshot(storage, ids)
    assert before[3] == {"relevant": 1, "not_relevant": 1}
    storage.close()
    storage = reopen()
    assert app_snapshot(storage, ids) == before
    # and what makes a name, a URL, a vote or a mute taken is kept too
    assert not storage.add_app_subscription(app_sub("jp"))
    assert not storage.add_app_feed(app_feed("other", "https://nikkei.example/rss"))
    assert not storage.record_feedback(vote(ids[0], "U1", "relevant", at=NOW + DAY))
    assert not storage.mute_feed(MutedFeed("jp", "wire", "U2", NOW + DAY))
    assert app_snapshot(storage, ids) == before


#: the last schema version before the Slack app's tables, per engine
BEFORE_APP_STORE = {"sqlite": 7, "postgres": 3}


def test_a_store_from_before_the_app_tables_is_upgraded_and_keeps_its_data(
    reopen: Callable[[], Storage], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = request.node.callspec.params["reopen"]
    version = BEFORE_APP_STORE[engine]
    # the bot as it was: it knows the migrations up to ``version`` only
    if engine == "sqlite":
        monkeypatch.setattr("bot.storage.sqlite.connection.MIGRATIONS", SQLITE_MIGRATIONS[:version])
        current = len(SQLITE_MIGRATIONS)
    else:
        monkeypatch.setattr("bot.storage.postgres.schema.MIGRATIONS", PG_MIGRATIONS[:version])
        current = len(PG_MIGRATIONS)
    old = reopen()
    assert old.schema_version == version  # type: ignore[attr-defined]
    with pytest.raises(StorageError):
        old.app_feeds()  # no such table yet
    ids = matched(old, 2)
    old.ensure_subscription("jp", start=NOW)
    old.record_notice("k", now=NOW)
    articles = old.articles()
    old.close()

    monkeypatch.undo()  # the bot upgraded
    storage = reopen()
    assert storage.schema_version == current  # type: ignore[attr-defined]
    assert storage.articles() == articles
    assert storage.subscription_start("jp") == NOW and not due(storage, "k")
    assert storage.app_subscriptions() == [] and storage.feedback() == []
    assert storage.record_feedback(vote(ids[0], "U1", "relevant"))
    assert storage.feedback_counts(ids[0], "jp") == {"relevant": 1}
    storage.close()
    assert reopen().schema_version == current  # type: ignore[attr-defined]


# -- transactions -----------------------------------------------------------------------------


def test_a_transaction_commits_everything_or_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError, match="boom"), storage.transaction():
        storage.record_notice("a", now=NOW)
        with storage.transaction():
            storage.record_notice("b", now=NOW)
            put(storage, "f", [art("1")])
        raise RuntimeError("boom")
    assert due(storage, "a") and due(storage, "b")
    assert storage.count_articles() == 0
    with storage.transaction():
        storage.record_notice("a", now=NOW)
        with storage.transaction():
            storage.record_notice("b", now=NOW)
            put(storage, "f", [art("1")])
        assert not due(storage, "b")  # its own writes are seen inside
    assert not due(storage, "a") and not due(storage, "b")
    assert storage.count_articles() == 1


def test_an_inner_transaction_commits_with_the_outer_one(reopen: Callable[[], Storage]) -> None:
    storage, other = reopen(), reopen()
    with storage.transaction():
        with storage.transaction():
            storage.record_notice("k", now=NOW)
        assert not due(storage, "k")
        assert due(other, "k")  # nothing committed before the outer one ends
    assert not due(other, "k")


def test_an_inner_failure_caught_inside_keeps_the_outer_transaction(storage: Storage) -> None:
    with storage.transaction():
        storage.record_notice("before", now=NOW)
        with pytest.raises(KeyError), storage.transaction():
            storage.record_notice("inner", now=NOW)
            raise KeyError("caught by the caller")
        storage.record_notice("after", now=NOW)
    # a nested block joins the outer transaction in a savepoint: when it raises, its own
    # writes are undone and the outer transaction carries on
    assert not due(storage, "before") and not due(storage, "after")
    assert due(storage, "inner")


def test_a_failed_call_inside_a_transaction_does_not_spoil_it(storage: Storage) -> None:
    with storage.transaction():
        storage.record_notice("before", now=NOW)
        with pytest.raises(StorageError):  # no such subscription
            storage.create_digest("nobody", kind="digest", now=NOW, payloads=[], article_ids=[])
        storage.record_notice("after", now=NOW)
    assert not due(storage, "before") and not due(storage, "after")
    assert storage.outbox() == []


# -- reopening ---------------------------------------------------------------------------------


def test_reopening_keeps_everything(reopen: Callable[[], Storage]) -> None:
    storage = reopen()
    storage.feed_state("f", URL)
    storage.record_success(
        "f", now=NOW, next_poll=NOW + HOUR, not_before=None, etag="e", warnings=["w"], had_new=True
    )
    storage.record_failure("g", now=NOW, kind="k", message="m", next_poll=NOW)
    batch = [art("1", "半導体"), art("2")]
    put(storage, "f", batch, matches={"1": FLAGGED})
    put(storage, "agg", [art("a1", "半導体", "https://ex.jp/1", feed="agg")])
    storage.ensure_subscription("s", start=NOW)
    [flagged] = storage.undelivered("s", since=NOW)
    digest = storage.create_digest(
        "s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[flagged.id]
    )
    storage.record_sent(digest, 0, channel_id="C1", ts="1.1", now=NOW)
    storage.record_delivery_error("s", code="ratelimited", message="429", now=NOW)
    storage.record_notice("k", now=NOW)
    storage.heartbeat(NOW)
    assert storage.acquire_lease("poll", "a", now=NOW, ttl=HOUR)

    def snapshot(s: Storage) -> tuple[Any, ...]:
        return (
            s.all_feeds(),
            s.feed_warnings("f"),
            s.entry_counts(),
            s.articles(),
            s.pending_digests("s"),
            s.outbox(),
            s.subscription_status("s"),
            s.channel_id("s"),
            s.count_articles(),
            s.arrival_times("f"),
        )

    before = snapshot(storage)
    storage.close()
    storage = reopen()
    assert snapshot(storage) == before
    assert storage.schema_version >= 1  # type: ignore[attr-defined]
    assert not due(storage, "k")
    assert not storage.acquire_lease("poll", "b", now=NOW, ttl=HOUR)
    r = put(storage, "f", batch)
    assert r.new == () and r.unchanged == 2 and storage.count_articles() == 2


def test_a_closed_storage_refuses_calls(storage: Storage) -> None:
    storage.close()
    with pytest.raises(StorageError):
        storage.count_articles()


def test_a_newer_schema_is_refused(reopen: Callable[[], Storage]) -> None:
    storage = reopen()
    if isinstance(storage, SqliteStorage):
        storage.db.execute("PRAGMA user_version=999")
    else:
        raw(storage, "INSERT INTO schema_version (version) VALUES (999)")
    storage.close()
    with pytest.raises(StorageError, match="newer than this bot"):
        reopen()


def test_where_it_is_and_whether_it_is_shared(storage: Storage, tmp_path: Path) -> None:
    if isinstance(storage, SqliteStorage):
        assert (storage.location, storage.shared) == (str(tmp_path / "data" / "bot.sqlite3"), False)
    else:
        assert storage.location.startswith("postgresql://") and storage.shared is True


LOOKUPS = {
    # the batched lookups of store_batch: every stored entry runs them, and a table scan
    # makes a poll quadratic in history size
    "by canonical link": (
        "SELECT id FROM articles WHERE canonical_link IN ('x', 'y') ORDER BY id",
        "SELECT id FROM articles WHERE canonical_link = ANY(ARRAY['x', 'y']) ORDER BY id",
    ),
    "by fingerprint": (
        "SELECT id FROM articles WHERE fingerprint IN ('x', 'y') AND feed = 'f' ORDER BY id",
        "SELECT id FROM articles WHERE fingerprint = ANY(ARRAY['x', 'y']) AND feed = 'f'",
    ),
    "by entry": (
        "SELECT e.entry_id, a.id FROM entries e JOIN articles a ON a.id = e.article_id"
        " WHERE e.feed = 'f' AND e.entry_id IN ('x', 'y')",
        "SELECT e.entry_id, a.id FROM entries e JOIN articles a ON a.id = e.article_id"
        " WHERE e.feed = 'f' AND e.entry_id = ANY(ARRAY['x', 'y'])",
    ),
    "entries of candidates": (
        "SELECT entry_id FROM entries WHERE feed = 'f' AND article_id IN (1, 2)",
        "SELECT entry_id FROM entries WHERE feed = 'f' AND article_id = ANY(ARRAY[1, 2])",
    ),
    "sources of articles": (
        "SELECT feed, link FROM entries WHERE article_id IN (1, 2)",
        "SELECT feed, link FROM entries WHERE article_id = ANY(ARRAY[1, 2])",
    ),
}


@pytest.mark.parametrize("lookup", list(LOOKUPS))
def test_identity_lookups_use_an_index(storage: Storage, lookup: str) -> None:
    sqlite_query, pg_query = LOOKUPS[lookup]
    if isinstance(storage, SqliteStorage):
        plan = " ".join(str(r) for r in raw(storage, "EXPLAIN QUERY PLAN " + sqlite_query))
        assert "SCAN" not in plan, plan
    else:
        assert isinstance(storage, PostgresStorage)
        # The test tables are tiny, where a scan is cheapest: forbid it, and a plan that
        # still scans means no index serves the query.
        with storage.db.pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")
            rows = conn.execute(("EXPLAIN " + pg_query).encode()).fetchall()
        plan = " ".join(str(v) for r in rows for v in r.values())
        assert "Seq Scan" not in plan, plan


# -- SQLite only ----------------------------------------------------------------------------


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    try:
        assert storage.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        storage.close()


def test_sqlite_migration_from_version_1_keeps_articles(tmp_path: Path) -> None:
    # A version-1 database with the first migration only, as an old install would have.
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    for statement in SQLITE_MIGRATIONS[0].split(";"):
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
    storage = SqliteStorage(tmp_path)
    try:
        assert storage.schema_version == len(SQLITE_MIGRATIONS)
        [old] = storage.articles()
        assert old.article.title == "t" and old.match is None and not old.flagged
        assert old.first_seen == NOW - DAY and old.sources == ()
    finally:
        storage.close()


# -- PostgreSQL only: replicas on one database ------------------------------------------------


def _slow(decider: Callable[[Known], Any]) -> Callable[[Known], Any]:
    """A decider that takes its time: widens the gap between gathering and applying."""

    def run(known: Known) -> Any:
        time.sleep(0.2)
        return decider(known)

    return run


def test_replicas_storing_the_same_story_at_once_store_it_once(pg_url: str) -> None:
    one, two = PostgresStorage(pg_url), PostgresStorage(pg_url)
    start = threading.Barrier(2)

    def store(storage: Storage, feed: str, entry: str) -> StoreResult:
        batch = [art(entry, "Japan chip subsidy", "https://news.ex/x", feed=feed)]
        decider = partial(
            decide, feed, batch, now=NOW, first_poll=False, backlog_window=WINDOW, matches={}
        )
        start.wait()
        return storage.store_batch(feed, batch, _slow(decider), now=NOW)

    try:
        results = together(lambda: store(one, "wire", "w1"), lambda: store(two, "agg", "a1"))
        assert sorted(len(r.new) for r in results) == [0, 1]
        assert sorted(r.unchanged for r in results) == [0, 1]
        assert one.count_articles() == 1
        [stored] = two.articles()
        assert sorted(stored.sources) == ["agg", "wire"]
    finally:
        one.close()
        two.close()


def test_replicas_racing_for_a_lease_get_one_winner(pg_url: str) -> None:
    replicas = [PostgresStorage(pg_url) for _ in range(2)]
    ttl = timedelta(minutes=10)
    try:
        for round_ in range(3):
            name = f"deliver-{round_}"
            if round_ == 2:  # an expired lease, taken over by everyone at once
                assert replicas[0].acquire_lease(name, "dead", now=NOW - ttl, ttl=ttl)
            start = threading.Barrier(8)

            def race(owner: int, name: str = name, start: threading.Barrier = start) -> bool:
                start.wait()
                return replicas[owner % 2].acquire_lease(name, f"r{owner}", now=NOW, ttl=ttl)

            won = together(*(partial(race, i) for i in range(8)))
            assert won.count(True) == 1, won
            winner = f"r{won.index(True)}"
            assert raw(replicas[0], f"SELECT owner FROM leases WHERE name = '{name}'") == [
                (winner,)
            ]
    finally:
        for replica in replicas:
            replica.close()


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    start = threading.Barrier(4)

    def open_and_close() -> int:
        start.wait()
        storage = PostgresStorage(pg_url)
        storage.close()
        return storage.schema_version

    assert together(*[open_and_close] * 4) == [len(PG_MIGRATIONS)] * 4
    storage = PostgresStorage(pg_url)
    try:
        assert raw(storage, "SELECT version FROM schema_version ORDER BY version") == [
            (n,) for n in range(1, len(PG_MIGRATIONS) + 1)
        ]
    finally:
        storage.close()


def test_replicas_selecting_for_one_subscription_queue_each_article_once(pg_url: str) -> None:
    one, two = PostgresStorage(pg_url), PostgresStorage(pg_url)
    ids = matched(one, 3)
    one.ensure_subscription("s", start=NOW)
    start = threading.Barrier(2)

    def select_and_queue(storage: Storage) -> list[int]:
        # as bot.app.delivery does: selection and the new digest in one transaction
        start.wait()
        with storage.transaction():
            chosen = [a.id for a in storage.undelivered("s", since=NOW)]
            time.sleep(0.2)  # rendering
            if chosen:
                storage.create_digest(
                    "s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=chosen
                )
        return chosen

    try:
        chosen = together(partial(select_and_queue, one), partial(select_and_queue, two))
        assert sorted(chosen, key=len) == [[], ids]
        [digest] = one.outbox()
        assert one.digest_article_ids(digest.id) == ids
    finally:
        one.close()
        two.close()


def test_pending_digests_are_handed_to_one_transaction_at_a_time(pg_url: str) -> None:
    one, two = PostgresStorage(pg_url), PostgresStorage(pg_url)
    one.ensure_subscription("s", start=NOW)
    made = [
        one.create_digest("s", kind="digest", now=NOW, payloads=PAYLOADS, article_ids=[])
        for _ in range(2)
    ]
    holding, release = threading.Event(), threading.Event()

    def hold() -> list[int]:
        with one.transaction():
            got = [p.id for p in one.pending_digests("s")]
            holding.set()
            release.wait(10)
        return got

    try:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(hold)
            assert holding.wait(10)
            try:
                assert two.pending_digests("s") == []
            finally:
                release.set()
            assert held.result(10) == made
        assert [p.id for p in two.pending_digests("s")] == made
    finally:
        one.close()
        two.close()


def test_a_transaction_belongs_to_its_thread(pg_url: str) -> None:
    storage = PostgresStorage(pg_url)
    try:
        with storage.transaction():
            storage.record_notice("k", now=NOW)
            # another thread's call does not join it: it sees nothing uncommitted
            assert together(lambda: due(storage, "k")) == [True]
            assert not due(storage, "k")
        assert together(lambda: due(storage, "k")) == [False]
    finally:
        storage.close()


# -- PostgreSQL only: errors that say what to do ----------------------------------------------


def _with_database(url: str, dbname: str, **changes: str) -> str:
    params = conninfo_to_dict(url)
    user, host = params.get("user", ""), params.get("host", "")
    password = changes.get("password")
    userinfo = f"{changes.get('user', user)}{':' + password if password else ''}@"
    return f"postgresql://{userinfo}/{dbname}?host={host}"


def test_location_hides_the_password(pg_url: str) -> None:
    dbname = str(conninfo_to_dict(pg_url)["dbname"])
    # the test server trusts local users: any password opens it
    storage = PostgresStorage(_with_database(pg_url, dbname, password="s3cret"))
    try:
        assert "s3cret" not in storage.location
        assert storage.location.startswith(f"postgresql://postgres@/{dbname}?host=")
    finally:
        storage.close()
    assert (
        without_password("postgresql://bot:pw@db.internal:5433/news?password=pw&sslmode=require")
        == "postgresql://bot@db.internal:5433/news?sslmode=require"
    )
    assert without_password("postgresql://db.internal/news") == "postgresql://db.internal/news"
    assert "pw" not in without_password("host=db.internal dbname=news password=pw")


def test_an_unreachable_server_is_named_without_the_password() -> None:
    # port 1 on this machine: refused at once (nothing leaves the machine)
    with pytest.raises(StorageError) as caught:
        PostgresStorage("postgresql://bot:s3cret@127.0.0.1:1/news?connect_timeout=3")
    message = str(caught.value)
    assert "cannot reach the PostgreSQL server at 127.0.0.1:1" in message, message
    assert "s3cret" not in message


def test_a_missing_database_is_named(pg_url: str) -> None:
    with pytest.raises(StorageError) as caught:
        PostgresStorage(_with_database(pg_url, "no_such_db"))
    message = str(caught.value)
    assert "database 'no_such_db' does not exist" in message and "createdb" in message, message


def test_a_wrong_password_is_reported_as_such(pg_url: str, pg_server: Any) -> None:
    hba = Path(pg_server.pgdata) / "pg_hba.conf"
    rule = "local all bot_pw scram-sha-256\n"
    if rule not in hba.read_text():
        hba.write_text(rule + hba.read_text())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'bot_pw'").fetchone()
        if not exists:
            conn.execute("CREATE ROLE bot_pw LOGIN PASSWORD 'right'")
        conn.execute("SELECT pg_reload_conf()")
    dbname = str(conninfo_to_dict(pg_url)["dbname"])
    with pytest.raises(StorageError) as caught:
        PostgresStorage(_with_database(pg_url, dbname, user="bot_pw", password="wr0ng"))
    message = str(caught.value)
    assert "refused user 'bot_pw'" in message and "password" in message, message
    assert "wr0ng" not in message


def test_a_nul_character_is_refused_with_a_hint(pg_url: str) -> None:
    # PostgreSQL's text cannot hold U+0000 and SQLite's can. The parser replaces it in
    # entry ids (tests/test_parse.py); should one reach storage anyway, the error says so.
    storage = PostgresStorage(pg_url)
    try:
        with pytest.raises(StorageError, match="NUL character"):
            put(storage, "f", [art("1"), art("a\x00b")])
        assert storage.count_articles() == 0
    finally:
        storage.close()


def test_a_read_only_database_is_reported_as_such(pg_url: str) -> None:
    PostgresStorage(pg_url).close()  # migrated
    dbname = str(conninfo_to_dict(pg_url)["dbname"])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(dbname)
            )
        )
    storage = PostgresStorage(pg_url)  # a current schema opens without writing
    try:
        assert storage.count_articles() == 0
        with pytest.raises(StorageError, match="refuses writes"):
            storage.heartbeat(NOW)
    finally:
        storage.close()


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "db.internal" (10.0.0.5), port '
                '5432 failed: FATAL:  password authentication failed for user "bot"'
            ),
            "refused user 'bot': check the user name and password",
        ),
        (
            psycopg.errors.DiskFull("could not extend file: No space left on device"),
            "the database server's disk is full",
        ),
        (
            psycopg.errors.ReadOnlySqlTransaction(
                "cannot execute INSERT in a read-only transaction"
            ),
            "refuses writes",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "db.internal" (10.0.0.5), port 5432 '
                "failed: Connection refused"
            ),
            "cannot reach the PostgreSQL server at db.internal:5432",
        ),
        (
            psycopg.OperationalError("consuming input failed: server closed the connection"),
            "the connection to the server at db.internal:5432 was lost",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "db.internal" (10.0.0.5), port 5432 '
                'failed: FATAL:  role "bot" does not exist'
            ),
            "refused user 'bot'",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "db.internal" (10.0.0.5), port 5432 '
                'failed: FATAL:  database "news" does not exist'
            ),
            "database 'news' does not exist on db.internal:5432: create it",
        ),
        (
            psycopg.errors.UntranslatableCharacter("unsupported Unicode escape sequence"),
            "NUL character",
        ),
        (
            psycopg.errors.TooManyConnections("sorry, too many clients already"),
            "no connection left",
        ),
        (
            psycopg.errors.InsufficientPrivilege("permission denied for schema public"),
            "lacks a privilege",
        ),
    ],
    ids=[
        "auth",
        "disk_full",
        "read_only",
        "refused",
        "lost",
        "no_role",
        "no_database",
        "nul",
        "too_many",
        "privilege",
    ],
)
def test_errors_say_what_to_do(error: psycopg.Error, hint: str) -> None:
    server = Server.from_url("postgresql://bot:s3cret@db.internal/news")
    message = str(storage_error(server, error))
    assert hint in message, message
    assert message.startswith("postgresql://bot@db.internal/news: ")
    assert "s3cret" not in message
