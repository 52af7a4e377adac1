"""The SQLite engine: one file in the data directory, WAL mode, schema versioned with
``PRAGMA user_version``. For one process (``run`` takes a lock on the data directory);
several replicas share PostgreSQL instead (bot.storage.postgres)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bot.storage.sqlite.app import AppMixin
from bot.storage.sqlite.articles import ArticlesMixin
from bot.storage.sqlite.connection import DB_FILE, Connection, guard_public_methods
from bot.storage.sqlite.feeds import FeedsMixin
from bot.storage.sqlite.ledger import LedgerMixin
from bot.storage.sqlite.notices import LeasesMixin, NoticesMixin

__all__ = ["DB_FILE", "SqliteStorage"]


@guard_public_methods
class SqliteStorage(FeedsMixin, ArticlesMixin, LedgerMixin, NoticesMixin, LeasesMixin, AppMixin):
    """Every concern's store over one SQLite connection (see bot.storage.base.Storage)."""

    shared = False

    def __init__(self, data_dir: Path, *, busy_timeout: float = 10.0) -> None:
        self.conn = Connection(data_dir, busy_timeout=busy_timeout)
        self.location = str(self.conn.path)

    @property
    def schema_version(self) -> int:
        return self.conn.schema_version

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def close(self) -> None:
        self.conn.close()
