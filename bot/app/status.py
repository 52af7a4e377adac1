"""Read models shared by the command line and the Slack app: feeds' health, subscriptions'
deliveries, stored articles, each as typed rows and as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.app.delivery import destination_for, ledger_key, select
from bot.config import Config
from bot.ingest.canonical import redact_url
from bot.match import Matcher
from bot.models import FeedState
from bot.runtime.schedule import next_run
from bot.settings import Settings
from bot.storage import Storage, StoredArticle, SubscriptionStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def local_time(config: Config, value: datetime | None) -> str:
    """A time in the configuration's time zone, as ``status``, ``feeds`` and the Slack app
    show it ("-" for none)."""
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(config.bot.timezone)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class FeedRow:
    state: FeedState
    articles: int
    warnings: tuple[str, ...]

    @property
    def health(self) -> str:
        if self.state.last_attempt is None:
            return "never polled"
        if self.state.consecutive_failures:
            return "failing"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        s = self.state
        return {
            "name": s.name,
            "url": redact_url(s.url),
            "config_url": redact_url(s.config_url),
            "status": self.health,
            "articles": self.articles,
            "last_success": _iso(s.last_success),
            "last_attempt": _iso(s.last_attempt),
            "last_new": _iso(s.last_new),
            "consecutive_failures": s.consecutive_failures,
            "last_error": (
                {
                    "kind": s.last_error_kind,
                    "message": s.last_error_message,
                    "at": _iso(s.last_error_at),
                }
                if s.last_error_kind
                else None
            ),
            "next_poll": _iso(s.next_poll),
            "warnings": list(self.warnings),
        }


def feed_rows(config: Config, storage: Storage) -> list[FeedRow]:
    """Every configured feed's health, in the order of feeds.yaml."""
    counts = storage.entry_counts()
    states = [storage.feed_state(f.name, f.url) for f in config.feeds]
    return [FeedRow(s, counts.get(s.name, 0), tuple(storage.feed_warnings(s.name))) for s in states]


@dataclass(frozen=True)
class SubscriptionRow:
    name: str
    destination: str
    schedule: str
    next_digest: datetime
    queued: int
    ledger: SubscriptionStatus | None

    def to_json(self) -> dict[str, Any]:
        ledger = self.ledger
        out: dict[str, Any] = {
            "subscription": self.name,
            "destination": self.destination,
            "schedule": self.schedule,
            "next_digest": self.next_digest.isoformat(),
            "queued_articles": self.queued,
        }
        if ledger is None:
            return out
        last = ledger.last_digest
        error = ledger.last_error
        return out | {
            "started_at": _iso(ledger.started_at),
            "last_delivered_at": _iso(ledger.last_delivered_at),
            "last_digest": (
                {
                    "id": last.id,
                    "kind": last.kind,
                    "articles": last.articles,
                    "delivered_at": _iso(last.delivered_at),
                }
                if last
                else None
            ),
            "pending_digests": ledger.pending_digests,
            "pending_articles": ledger.pending_articles,
            "pending_messages": ledger.pending_messages,
            "last_error": (
                {"code": error.code, "message": error.message, "at": _iso(error.at)}
                if error
                else None
            ),
        }


def subscription_rows(
    config: Config, settings: Settings, storage: Storage, *, now: datetime
) -> list[SubscriptionRow]:
    """Each subscription's deliveries, queue and last error (read-only)."""
    matcher = Matcher(config.keywords)
    rows = []
    for sub in config.bot.subscriptions:
        destination = destination_for(config, settings, sub)
        key = ledger_key(sub, destination)
        queued = select(storage, matcher, config, sub, key, now=now, record_skips=False)
        zone = config.timezone_of(sub)
        rows.append(
            SubscriptionRow(
                name=sub.name,
                destination=destination.label,
                schedule=f"{sub.schedule} ({zone})",
                next_digest=next_run(sub.schedule, zone, now) or now,
                queued=len(queued),
                ledger=storage.subscription_status(key),
            )
        )
    return rows


def article_json(item: StoredArticle) -> dict[str, Any]:
    a = item.article
    match = item.match
    return {
        "id": item.id,
        "feed": a.feed,
        "entry_id": a.entry_id,
        "title": a.title,
        "link": a.link,
        "canonical_link": a.canonical_link,
        "summary": a.summary,
        "published": a.published.isoformat(),
        "date_source": a.date_source,
        "updated": _iso(a.updated),
        "first_seen": item.first_seen.isoformat(),
        "edited_at": _iso(item.edited_at),
        "language": a.language,
        "authors": list(a.authors),
        "tags": list(a.tags),
        "backlog": item.backlog,
        "sources": list(item.sources),
        "flagged": item.flagged,
        "score": match.score if match else None,
        "topics": list(match.topics) if match else [],
        "reasons": [r.to_json() for r in match.reasons] if match else [],
        "matched_at": _iso(item.matched_at),
        "decided_by": item.decided_by,
        "full_text": (
            {
                "outcome": item.full_text.outcome,
                "fetched_at": item.full_text.fetched_at.isoformat(),
                "detail": item.full_text.detail,
                "chars": len(item.full_text.text),
                "text": item.full_text.text,
            }
            if item.full_text
            else None
        ),
    }
