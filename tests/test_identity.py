"""The identity decider as a pure function: what storage knows in, intents out. No database:
each case is a table row of (what is known, the batch) -> the intents expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest.identity import (
    Alias,
    Edit,
    Insert,
    Known,
    KnownArticle,
    Seen,
    TakeMatch,
    decide,
    fingerprint,
    is_site_root,
    links_to_look_up,
    without_tokens,
)
from bot.models import Article, DateSource, Match

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
WINDOW = timedelta(days=2)
YES = Match(flagged=True, score=80, topics=("ai",), reasons=())
NO = Match(flagged=False, score=10, topics=(), reasons=())
NOTHING = Known()


def art(
    entry_id: str,
    title: str = "政府、AI戦略を改定",
    link: str = "https://example.go.jp/news/1",
    *,
    feed: str = "meti",
    age: timedelta = timedelta(hours=1),
    date_source: DateSource = "published",
    content: str = "h1",
) -> Article:
    return Article(
        feed=feed,
        entry_id=entry_id,
        title=title,
        link=link,
        canonical_link=link,
        summary="",
        published=NOW - age,
        date_source=date_source,
        updated=None,
        language="ja",
        content_hash=content,
    )


def run(
    articles: list[Article],
    known: Known = NOTHING,
    *,
    feed: str = "meti",
    first_poll: bool = False,
    matches: dict[str, Match] | None = None,
) -> list[object]:
    return list(
        decide(
            feed,
            articles,
            known,
            now=NOW,
            first_poll=first_poll,
            backlog_window=WINDOW,
            matches=matches or {},
        )
    )


def kinds(intents: list[object]) -> list[str]:
    return [type(i).__name__ for i in intents]


# -- new, backlog ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_poll", "age", "date_source", "backlog"),
    [
        (False, timedelta(hours=1), "published", False),
        (False, timedelta(days=30), "published", False),  # later polls: never backlog
        (True, timedelta(hours=1), "published", False),  # first poll, recent: new
        (True, timedelta(days=3), "published", True),  # first poll, older than the window
        (True, timedelta(0), "first_seen", True),  # first poll, undated: cannot tell
        (False, timedelta(0), "first_seen", False),
    ],
)
def test_unknown_entries_are_inserted_and_backlog_only_on_a_first_poll(
    first_poll, age, date_source, backlog
):
    [intent] = run([art("a", age=age, date_source=date_source)], first_poll=first_poll)
    assert isinstance(intent, Insert) and intent.backlog is backlog


def test_an_insert_carries_its_match_and_fingerprint():
    a = art("a")
    [intent] = run([a], matches={"a": YES})
    assert isinstance(intent, Insert)
    assert intent.match == YES and intent.fingerprint == fingerprint(a) is not None


# -- known entries -----------------------------------------------------------------------


def test_a_known_entry_unchanged_is_only_seen():
    known = Known(by_entry={"a": KnownArticle(7, "meti", "h1", flagged=False)})
    assert run([art("a")], known) == [Seen(7)]


def test_a_known_entry_with_new_content_is_an_edit_never_new():
    known = Known(by_entry={"a": KnownArticle(7, "meti", "h1", flagged=False)})
    a = art("a", title="政府、AI戦略を再改定", content="h2")
    assert run([a], known, matches={"a": YES}) == [Edit(7, a, YES), Seen(7)]


# -- the same story from another feed --------------------------------------------------------


@pytest.mark.parametrize(
    ("stored_flagged", "match", "expected"),
    [
        (False, YES, ["Alias", "TakeMatch", "Seen"]),  # this copy flags it: the story is
        (True, YES, ["Alias", "Seen"]),
        (False, NO, ["Alias", "Seen"]),
        (True, NO, ["Alias", "Seen"]),  # a weaker copy never unflags it
    ],
)
def test_same_canonical_link_in_another_feed_is_the_same_story(stored_flagged, match, expected):
    other = KnownArticle(3, "wire", "zz", flagged=stored_flagged)
    known = Known(by_link={"https://example.go.jp/news/1": [other]})
    intents = run([art("m1")], known, matches={"m1": match})
    assert kinds(intents) == expected
    assert intents[0] == Alias(3, "m1", "https://example.go.jp/news/1")
    # another feed's content never counts as an edit of this feed's copy
    assert not any(isinstance(i, Edit) for i in intents)
    if "TakeMatch" in expected:
        assert intents[1] == TakeMatch(3, match)


def test_a_site_home_page_link_never_joins_stories():
    other = KnownArticle(3, "wire", "zz", flagged=False)
    known = Known(by_link={"https://example.go.jp/": [other]})
    [intent] = run([art("m1", link="https://example.go.jp/")], known)
    assert isinstance(intent, Insert)
    assert links_to_look_up([art("x", link="https://example.go.jp/")]) == []


# -- GUID churn in one feed ---------------------------------------------------------------------


def test_a_new_id_for_a_stored_article_of_this_feed_is_churn_when_the_old_id_is_gone():
    a = art("new-guid")
    old = KnownArticle(5, "meti", "h1", flagged=False, entry_ids=frozenset({"old-guid"}))
    known = Known(by_fingerprint={fingerprint(a) or "": [old]})
    assert run([a], known) == [Alias(5, "new-guid", a.link), Seen(5)]


def test_two_entries_alike_in_one_batch_are_two_articles_not_churn():
    # the old entry is still in this batch: two genuinely different entries
    a, b = art("one"), art("two")
    old = KnownArticle(5, "meti", "h1", flagged=False, entry_ids=frozenset({"one"}))
    known = Known(by_entry={"one": old}, by_fingerprint={fingerprint(b) or "": [old]})
    assert kinds(run([a, b], known)) == ["Seen", "Insert"]


def test_churn_prefers_another_feeds_copy_then_this_feeds_oldest():
    a = art("x")
    mine = KnownArticle(5, "meti", "h1", flagged=False, entry_ids=frozenset({"gone"}))
    theirs = KnownArticle(9, "wire", "h9", flagged=False)
    known = Known(
        by_link={a.canonical_link: [theirs]}, by_fingerprint={fingerprint(a) or "": [mine]}
    )
    assert run([a], known)[0] == Alias(9, "x", a.link)


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_of_a_dated_entry_is_title_and_date():
    a = art("a")
    assert fingerprint(a) == fingerprint(art("b", link="https://elsewhere/2"))
    assert fingerprint(a) != fingerprint(art("c", age=timedelta(hours=2)))
    # width and case variants of the same title are the same
    assert fingerprint(art("d", title="ＡＩ")) == fingerprint(art("e", title="ai"))


def test_fingerprint_of_an_undated_entry_ignores_session_tokens_in_its_link():
    base = "https://news.example.jp/a?id=123"
    one = art("1", link=base + "&sid=a8f3k2m9q7w1e5r4t6", date_source="first_seen")
    two = art("2", link=base + "&sid=zz93kd8s7a6q5w4e3r", date_source="first_seen")
    other = art("3", link="https://news.example.jp/a?id=124", date_source="first_seen")
    assert fingerprint(one) == fingerprint(two) != fingerprint(other)
    assert fingerprint(art("4", title="")) is None
    assert fingerprint(art("5", link="", date_source="first_seen")) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.jp/p?id=123", "https://a.jp/p?id=123"),
        ("https://a.jp/p?id=123&t=1732950000123", "https://a.jp/p?id=123"),
        ("https://a.jp/p?s=Ab3dEf6hIj9kLm2nOp", "https://a.jp/p"),
        ("https://a.jp/p?lang=en&sid=Ab3dEf6hIj9kLm2nOp", "https://a.jp/p?lang=en"),
        ("https://a.jp/p?word=administration", "https://a.jp/p?word=administration"),
    ],
)
def test_without_tokens_keeps_identity_and_drops_session_values(url, expected):
    assert without_tokens(url) == expected


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://a.jp", True),
        ("https://a.jp/", True),
        ("https://a.jp/news/1", False),
        ("https://a.jp/?p=1", False),
    ],
)
def test_site_root(url, root):
    assert is_site_root(url) is root
