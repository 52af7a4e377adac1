"""Storage: one interface (bot.storage.base), two engines.

    SQLite (default)    bot.storage.sqlite     one file in the data directory, one process
    PostgreSQL          bot.storage.postgres   database_url / BOT_DATABASE_URL; replicas

``open_storage`` picks the engine from the database URL.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import ConfigError
from bot.storage.base import Decider, Storage
from bot.storage.records import (
    AppFeed,
    AppSubscription,
    AuditEntry,
    DeliveryFailure,
    DigestSummary,
    FeedbackVote,
    Message,
    MutedFeed,
    OutboxDigest,
    OutboxMessage,
    PendingDigest,
    StoredArticle,
    StoreResult,
    SubscriptionStatus,
    Verdict,
)

__all__ = [
    "AppFeed",
    "AppSubscription",
    "AuditEntry",
    "Decider",
    "DeliveryFailure",
    "DigestSummary",
    "FeedbackVote",
    "Message",
    "MutedFeed",
    "OutboxDigest",
    "OutboxMessage",
    "PendingDigest",
    "Storage",
    "StoreResult",
    "StoredArticle",
    "SubscriptionStatus",
    "Verdict",
    "open_storage",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_storage(data_dir: Path, database_url: str | None = None) -> Storage:
    """PostgreSQL if ``database_url`` is given, else SQLite in ``data_dir``."""
    if not database_url:
        from bot.storage.sqlite import SqliteStorage

        return SqliteStorage(data_dir)
    if not database_url.startswith(POSTGRES_SCHEMES):
        raise ConfigError(
            "database_url",
            "",
            "use postgresql://user:password@host/dbname, or leave it unset for SQLite in the "
            "data directory",
        )
    from bot.storage.postgres import PostgresStorage

    storage: Storage = PostgresStorage(database_url)
    return storage
