"""Typed records that cross the storage boundary (never rows, JSON text or connections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.models import Article, FullText, Match

DecidedBy = Literal["feed", "full_text"]


@dataclass(frozen=True)
class StoreResult:
    """What storing one feed's batch changed."""

    new: tuple[int, ...] = ()
    backlog: int = 0
    edited: tuple[int, ...] = ()
    unchanged: int = 0


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored: its id, where else it was seen, and the matcher's decision."""

    id: int
    article: Article
    first_seen: datetime
    edited_at: datetime | None
    backlog: bool
    #: every feed that carried it, first seen first
    sources: tuple[str, ...]
    #: (feed, link) for every feed that carried it, first seen first
    links: tuple[tuple[str, str], ...]
    #: None until matched (the backlog of a first poll is never matched)
    match: Match | None = None
    matched_at: datetime | None = None
    #: what the decision was made on: the feed's own text, or the title and the article's
    #: main text (full text)
    decided_by: DecidedBy = "feed"
    #: the article page, when it was fetched (or why it was not)
    full_text: FullText | None = None

    @property
    def flagged(self) -> bool:
        return self.match is not None and self.match.flagged


#: a message as the outbox keeps it: Slack's ``text`` and ``blocks``, or the ``terminal`` text
Message = Mapping[str, Any]


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    payload: Message
    channel_id: str | None
    ts: str | None
    sent: bool = False


@dataclass(frozen=True)
class PendingDigest:
    id: int
    subscription: str
    kind: str
    created_at: datetime
    attempts: int
    articles: int
    messages: tuple[OutboxMessage, ...]


@dataclass(frozen=True)
class OutboxDigest:
    """A digest in the outbox, as ``python -m bot outbox`` lists it."""

    id: int
    subscription: str
    kind: str
    status: str
    created_at: datetime
    attempts: int
    failures: int
    last_error: str | None
    articles: int
    messages_sent: int


@dataclass(frozen=True)
class DigestSummary:
    id: int
    kind: str
    articles: int
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeliveryFailure:
    code: str
    message: str
    at: datetime | None


@dataclass(frozen=True)
class SubscriptionStatus:
    """A subscription's ledger: since when it receives articles, what it got, what waits."""

    started_at: datetime
    last_delivered_at: datetime | None
    last_digest: DigestSummary | None
    pending_digests: int
    pending_articles: int
    pending_messages: int
    last_error: DeliveryFailure | None


# -- what the Slack app keeps ----------------------------------------------------------------

Verdict = Literal["relevant", "not_relevant"]


@dataclass(frozen=True)
class AppSubscription:
    """A subscription created from Slack (``/techpolicy subscribe``): it lives in the
    database beside those of bot.yaml (a name in bot.yaml wins)."""

    name: str
    channel_id: str
    #: a rule name from keywords.yaml, or a rule; None: the "default" rule
    rule: str | None
    #: five-field cron
    schedule: str
    created_by: str
    created_at: datetime
    team_id: str | None = None


@dataclass(frozen=True)
class AppFeed:
    """A feed added from Slack (``/techpolicy add-feed``), polled beside feeds.yaml's."""

    name: str
    url: str
    tags: tuple[str, ...]
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class FeedbackVote:
    """One person's judgement of one story in one subscription's digest. A person has one
    vote per (article, subscription): clicking again, or the other button, replaces it."""

    article_id: int
    subscription: str
    user_id: str
    verdict: Verdict
    at: datetime


@dataclass(frozen=True)
class MutedFeed:
    subscription: str
    feed: str
    muted_by: str
    muted_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """A change made from Slack: who, what, when."""

    at: datetime
    user_id: str
    #: subscribe, unsubscribe, add-feed, remove-feed, mute, unmute, language
    action: str
    target: str
    detail: str = ""
    channel_id: str | None = None
