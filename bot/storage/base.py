"""The storage interface: one protocol per concern, typed records in and out.

Engines (``bot.storage.sqlite``, ``bot.storage.postgres``) implement all of them; callers
hold :class:`Storage`, never an engine, a row or a connection. Every method may raise
:class:`~bot.errors.StorageError` (with what to do: disk full, damaged file, unreachable
server ...); schema migrations are transparent. Methods are synchronous and safe to call
from several threads: async code calls them through ``asyncio.to_thread`` so that a
database across a network never stalls the event loop.

Several processes may share one PostgreSQL database: what must happen once (polling a feed
in an interval, sending a subscription's digests, the admin report) is claimed with a
lease that expires, so a replica that dies leaves nothing locked for long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from bot.ingest.identity import Intent, Known
from bot.models import Article, FeedState, FullText, Match
from bot.storage.records import (
    AppFeed,
    AppSubscription,
    AuditEntry,
    FeedbackVote,
    Message,
    MutedFeed,
    OutboxDigest,
    PendingDigest,
    StoredArticle,
    StoreResult,
    SubscriptionStatus,
)

#: decides a batch from what storage knows (bot.ingest.identity.decide, with its settings)
Decider = Callable[[Known], Sequence[Intent]]


class FeedStore(Protocol):
    """Feeds' health and HTTP validators."""

    def feed_state(self, name: str, config_url: str) -> FeedState:
        """The stored state of ``name``, created on first use; if the configured URL changed
        since, the stored URL and validators are reset to it."""

    def all_feeds(self) -> list[FeedState]: ...

    def feed_warnings(self, name: str) -> list[str]: ...

    def entry_counts(self) -> dict[str, int]:
        """Entries seen per feed (for display)."""

    def record_success(
        self,
        name: str,
        *,
        now: datetime,
        next_poll: datetime,
        not_before: datetime | None,
        url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        title: str | None = None,
        warnings: Sequence[str] | None = None,
        had_new: bool = False,
        update_validators: bool = True,
    ) -> None:
        """A poll succeeded (200 or 304); validators are saved only here, after the batch."""

    def record_failure(
        self, name: str, *, now: datetime, kind: str, message: str, next_poll: datetime
    ) -> int:
        """A poll failed; returns the number of consecutive failures so far."""


class ArticleStore(Protocol):
    def store_batch(
        self, feed: str, articles: Sequence[Article], decide: Decider, *, now: datetime
    ) -> StoreResult:
        """In one transaction: gather what is known about the batch, let ``decide`` turn it
        into intents, apply them."""

    def articles(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        ids: Iterable[int] | None = None,
        include_backlog: bool = True,
        flagged_only: bool = False,
    ) -> list[StoredArticle]:
        """Stored articles, newest published first."""

    def flagged_among(self, ids: Sequence[int]) -> tuple[int, ...]: ...

    def record_full_text(
        self, article_id: int, full: FullText, match: Match | None, *, now: datetime
    ) -> None:
        """Keep what fetching the article page gave; with ``match``, the decision made on
        the title and that text replaces the feed-text one (and subscriptions that had
        passed the article over look at it again). Later edits of the feed's text do not
        undo it."""

    def arrival_times(self, feed: str, limit: int = 30) -> list[datetime]:
        """When the feed's most recent new (non-backlog) articles were first seen."""

    def count_articles(self) -> int: ...


class LedgerStore(Protocol):
    """Which subscription got which article, and the outbox of digests to send."""

    def ensure_subscription(self, key: str, *, start: datetime) -> datetime: ...

    def subscription_start(self, key: str) -> datetime | None: ...

    def undelivered(self, key: str, *, since: datetime) -> list[StoredArticle]:
        """Matched, non-backlog articles first seen since ``since`` that ``key`` has neither
        put in a digest nor passed over."""

    def skip(self, key: str, article_ids: Iterable[int]) -> None: ...

    def create_digest(
        self,
        key: str,
        *,
        kind: str,
        now: datetime,
        payloads: Sequence[Message],
        article_ids: Sequence[int],
    ) -> int:
        """Put a rendered digest in the outbox and give it its articles, atomically."""

    def pending_digests(self, key: str) -> list[PendingDigest]: ...

    def record_sent(
        self,
        digest_id: int,
        seq: int,
        *,
        channel_id: str | None,
        ts: str | None,
        now: datetime,
    ) -> None: ...

    def start_attempt(self, digest_id: int) -> None: ...

    def finish_digest(
        self, key: str, digest_id: int, *, now: datetime, channel_id: str | None
    ) -> None: ...

    def record_delivery_error(
        self, key: str, *, code: str, message: str, now: datetime
    ) -> None: ...

    def last_delivered(self, key: str, kind: str = "digest") -> datetime | None: ...

    def last_created(self, key: str, kind: str = "digest") -> datetime | None:
        """When the newest digest of ``kind`` was put in the outbox, sent or not (replicas
        use it so that one scheduled digest is built once)."""

    def channel_id(self, key: str) -> str | None: ...

    def remember_channel(self, key: str, channel_id: str) -> None: ...

    def subscription_status(self, key: str) -> SubscriptionStatus | None: ...

    def record_digest_failure(self, digest_id: int, *, code: str, message: str) -> int: ...

    def park_digest(self, digest_id: int) -> tuple[int, int]: ...

    def solo_articles(self, key: str) -> set[int]: ...

    def outbox(self, key: str | None = None) -> list[OutboxDigest]: ...

    def digest_article_ids(self, digest_id: int) -> list[int]: ...

    def set_digest_status(self, digest_id: int, status: str) -> None: ...

    def replace_digest(self, digest_id: int, payloads: Sequence[Message]) -> None: ...


class NoticeStore(Protocol):
    """Reports already sent to the admin destination."""

    def notice_due(self, key: str, *, now: datetime, repeat_after: timedelta) -> bool: ...

    def record_notice(self, key: str, *, now: datetime) -> None: ...


class LeaseStore(Protocol):
    """Claims that expire: what only one replica may do at a time."""

    def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        """True if ``owner`` now holds ``name`` (free, expired, or already its own)."""

    def release_lease(self, name: str, owner: str) -> None: ...


class AppStore(Protocol):
    """What the Slack app changes: subscriptions and feeds made from Slack, feedback on
    stories, muted sources, the audit log of changes, and per-workspace settings."""

    def app_subscriptions(self) -> list[AppSubscription]:
        """Oldest first."""

    def add_app_subscription(self, sub: AppSubscription) -> bool:
        """False (and nothing changed) if a subscription of that name exists."""

    def remove_app_subscription(self, name: str) -> bool:
        """False if there was none of that name."""

    def app_feeds(self) -> list[AppFeed]:
        """Oldest first."""

    def add_app_feed(self, feed: AppFeed) -> bool:
        """False (and nothing changed) if a feed of that name, or of that URL, exists."""

    def remove_app_feed(self, name: str) -> bool: ...

    def record_feedback(self, vote: FeedbackVote) -> bool:
        """Keep ``vote`` as its user's one vote on (article, subscription); True if that
        changed anything (a first vote, or a changed verdict), False for a repeated click."""

    def feedback(
        self, *, subscription: str | None = None, article_ids: Iterable[int] | None = None
    ) -> list[FeedbackVote]:
        """Votes, newest first."""

    def feedback_counts(self, article_id: int, subscription: str) -> dict[str, int]:
        """Votes per verdict on one story in one subscription (verdicts with none omitted)."""

    def mute_feed(self, muted: MutedFeed) -> bool:
        """False if that feed was already muted for that subscription."""

    def unmute_feed(self, subscription: str, feed: str) -> bool: ...

    def muted_feeds(self, subscription: str | None = None) -> list[MutedFeed]: ...

    def record_audit(self, entry: AuditEntry) -> None: ...

    def audit(self, *, limit: int = 50, channel_id: str | None = None) -> list[AuditEntry]:
        """Newest first."""

    def workspace_setting(self, team_id: str, key: str) -> str | None: ...

    def set_workspace_setting(self, team_id: str, key: str, value: str) -> None: ...


class Storage(FeedStore, ArticleStore, LedgerStore, NoticeStore, LeaseStore, AppStore, Protocol):
    """Everything the bot keeps."""

    #: where it is, fit to print (a path, or a database URL without its password)
    location: str
    #: whether several processes may share it (replicas)
    shared: bool

    def transaction(self) -> AbstractContextManager[None]:
        """Make several calls atomic (nested uses join the outer one)."""

    def heartbeat(self, now: datetime) -> None:
        """Write one row: proves the database takes writes (for /healthz)."""

    def close(self) -> None: ...
