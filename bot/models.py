"""Typed records passed between the stages. All frozen: stages return new records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

DateSource = Literal["published", "updated", "first_seen"]


@dataclass(frozen=True)
class Article:
    """One feed entry, parsed and cleaned. Times are aware UTC datetimes."""

    feed: str
    entry_id: str
    title: str
    link: str
    canonical_link: str
    summary: str
    published: datetime
    date_source: DateSource
    updated: datetime | None
    language: str
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    content_hash: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    """What parsing one response produced."""

    title: str
    version: str
    encoding: str
    articles: tuple[Article, ...]
    warnings: tuple[str, ...] = ()


FullTextOutcome = Literal[
    # the page's main text was read
    "ok",
    # read, but it held no main text, or it is a paywall, a cookie or consent wall, not HTML
    "empty",
    "paywall",
    "cookie_wall",
    "not_html",
    # not read: robots.txt disallows it, the URL guard refused it, the cycle's budget was
    # spent, or the request failed (the detail says how: HTTP 403, a timeout ...)
    "robots",
    "refused",
    "budget",
    "failed",
]


@dataclass(frozen=True)
class FullText:
    """What fetching an entry's article page gave: never blocks the entry, which is stored
    and decided on its feed text whatever happens here."""

    outcome: FullTextOutcome
    fetched_at: datetime
    text: str = ""
    #: the fetch error, the URL refused, the HTTP status
    detail: str = ""


FetchStatus = Literal["ok", "not_modified"]


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP request for a feed."""

    url: str
    status: FetchStatus
    final_url: str = ""
    http_status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    #: set when the server answered with a permanent redirect (301/308): the new URL
    moved_to: str | None = None
    #: seconds the server asked us to wait (Retry-After) or may cache (max-age)
    retry_after: float | None = None
    max_age: float | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class FeedState:
    """A feed's stored health and HTTP cache validators."""

    name: str
    url: str
    config_url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    first_polled: datetime | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_new: datetime | None = None
    last_error_kind: str | None = None
    last_error_message: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    #: no poll before this (backoff after errors, Retry-After, Cache-Control max-age)
    not_before: datetime | None = None


# -- what the matcher decided -------------------------------------------------------------


@dataclass(frozen=True)
class TermScore:
    """One term found in an article: where, how often, and what it added to its group."""

    term: str
    where: str  # title, lede, body, tail, boilerplate, feed, model
    count: int
    contribution: float


@dataclass(frozen=True)
class GroupScore:
    """A keyword group's score in one article, and whether it counts as present."""

    group: str
    kind: str
    score: float
    present: bool
    terms: tuple[TermScore, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "group": self.group,
            "kind": self.kind,
            "score": round(self.score, 2),
            "present": self.present,
            "terms": [
                {
                    "term": t.term,
                    "where": t.where,
                    "count": t.count,
                    "contribution": round(t.contribution, 2),
                }
                for t in self.terms
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupScore:
        return cls(
            group=str(data["group"]),
            kind=str(data.get("kind", "other")),
            score=float(data["score"]),
            present=bool(data["present"]),
            terms=tuple(
                TermScore(
                    str(t["term"]), str(t["where"]), int(t["count"]), float(t["contribution"])
                )
                for t in data.get("terms", ())
            ),
        )


@dataclass(frozen=True)
class Match:
    """The matcher's decision about one article, as stored with it and sent to digests."""

    flagged: bool
    score: int
    topics: tuple[str, ...]
    reasons: tuple[GroupScore, ...]
