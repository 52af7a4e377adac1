"""What is new: a pure decider from a feed's parsed entries and what storage knows, to
intents that storage applies (in the manner of lemon24/reader's ``_update`` decider).

    for each entry of the batch, in order:
        its (feed, entry id) is known            -> the known article
        else a stored article shares its canonical link (not a site's home page), or, in the
             same feed, its fingerprint (title and date; undated: title and tokenless link)
                                                   -> that article, if it is another feed's
                                                      (the same story elsewhere), or this
                                                      feed's and none of its entries is in
                                                      this batch (GUID churn); the new id
                                                      becomes an alias of it
        known article, this feed's, content changed -> Edit (never new)
        known article, another feed's, this entry flagged and it is not -> TakeMatch
        known article                              -> Seen
        otherwise                                  -> Insert: new, or backlog on a feed's
                                                      first poll (older than the window, or
                                                      undated)

No I/O: storage gathers ``Known`` for the batch, calls :func:`decide` and applies the
intents in the same transaction, so a rule change needs no database to test.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.models import Article, Match


@dataclass(frozen=True)
class KnownArticle:
    """A stored article as the decider needs it."""

    id: int
    feed: str
    content_hash: str
    flagged: bool
    #: this batch's feed's entry ids that point at it (for the churn test)
    entry_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Known:
    """What storage knows that bears on one feed's batch."""

    #: this feed's entry ids already seen -> their article
    by_entry: Mapping[str, KnownArticle] = field(default_factory=dict)
    #: canonical link -> stored articles with it, oldest first
    by_link: Mapping[str, Sequence[KnownArticle]] = field(default_factory=dict)
    #: fingerprint -> this feed's stored articles with it, oldest first
    by_fingerprint: Mapping[str, Sequence[KnownArticle]] = field(default_factory=dict)


@dataclass(frozen=True)
class Insert:
    article: Article
    fingerprint: str | None
    backlog: bool
    match: Match | None


@dataclass(frozen=True)
class Alias:
    """A new entry id of this feed for a stored article (another source, or GUID churn)."""

    article_id: int
    entry_id: str
    link: str


@dataclass(frozen=True)
class Edit:
    article_id: int
    article: Article
    match: Match | None


@dataclass(frozen=True)
class TakeMatch:
    """Another feed's copy flags a stored story its first copy did not."""

    article_id: int
    match: Match


@dataclass(frozen=True)
class Seen:
    article_id: int


Intent = Insert | Alias | Edit | TakeMatch | Seen


# A query value that is a session token or a cache-buster, not an identity: long random
# letters and digits, or a long run of digits (a timestamp). ``id=123`` is kept.
_VOLATILE_VALUE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_-]{16,}$|^\d{10,}$")


def without_tokens(url: str) -> str:
    page, _, query = url.partition("?")
    kept = [
        pair
        for pair in query.split("&")
        if pair and not _VOLATILE_VALUE.match(pair.partition("=")[2])
    ]
    return page + ("?" + "&".join(kept) if kept else "")


def fingerprint(article: Article) -> str | None:
    """Same feed, same fingerprint, new id: GUID churn. A dated entry is known by its title
    and date; an undated one by its title and its link without per-request tokens, so a
    guid and link that carry a session id (``?sid=...``) do not make it new on every poll."""
    if not article.title:
        return None
    title = unicodedata.normalize("NFKC", article.title).casefold()
    if article.date_source == "first_seen":
        if not article.canonical_link:
            return None
        page = without_tokens(article.canonical_link)
        return "u:" + hashlib.sha1(f"{title}\0{page}".encode()).hexdigest()
    key = f"{title}\0{article.published.isoformat()}"
    return hashlib.sha1(key.encode()).hexdigest()


def is_site_root(url: str) -> bool:
    """Feeds that point every item at their home page must not collapse into one article."""
    rest = url.split("://", 1)[-1]
    return "/" not in rest.rstrip("/") and "?" not in rest


def links_to_look_up(articles: Sequence[Article]) -> list[str]:
    """The canonical links storage should look up for a batch (never a site's home page)."""
    return [
        a.canonical_link
        for a in articles
        if a.canonical_link and not is_site_root(a.canonical_link)
    ]


def _same_story(
    feed: str, candidates: Sequence[KnownArticle], batch_ids: set[str]
) -> KnownArticle | None:
    for known in candidates:
        if known.feed != feed:
            return known
        # Same feed: churn only if the entry it replaces is gone from this batch.
        if not known.entry_ids & batch_ids:
            return known
    return None


def decide(
    feed: str,
    articles: Sequence[Article],
    known: Known,
    *,
    now: datetime,
    first_poll: bool,
    backlog_window: timedelta,
    matches: Mapping[str, Match],
) -> list[Intent]:
    """The intents for one feed's batch (see the module docstring). ``matches`` (by entry
    id) are kept for new and edited articles."""
    cutoff = now - backlog_window
    batch_ids = {a.entry_id for a in articles}
    intents: list[Intent] = []
    for article in articles:
        match = matches.get(article.entry_id)
        stored = known.by_entry.get(article.entry_id)
        if stored is None:
            mark = fingerprint(article)
            link = article.canonical_link
            candidates = [
                *(known.by_link.get(link, ()) if link and not is_site_root(link) else ()),
                *(known.by_fingerprint.get(mark, ()) if mark else ()),
            ]
            stored = _same_story(feed, candidates, batch_ids)
            if stored is not None:
                intents.append(Alias(stored.id, article.entry_id, article.link))
        if stored is None:
            backlog = first_poll and (
                article.date_source == "first_seen" or article.published < cutoff
            )
            intents.append(Insert(article, fingerprint(article), backlog, match))
            continue
        if stored.feed == feed and stored.content_hash != article.content_hash:
            intents.append(Edit(stored.id, article, match))
        elif stored.feed != feed and match is not None and match.flagged and not stored.flagged:
            intents.append(TakeMatch(stored.id, match))
        intents.append(Seen(stored.id))
    return intents
