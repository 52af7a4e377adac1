"""Typed records passed between the stages. All frozen: stages return new records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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
