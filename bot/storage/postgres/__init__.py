"""The PostgreSQL engine: one database that several replicas share (``database_url``),
schema versioned in ``schema_version``. Works like the SQLite engine call for call (the
contract suite, tests/test_storage_contract.py, runs both); what replicas do at the same
time is made safe with advisory locks and row locks, see .articles, .ledger and .notices."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.storage.postgres.app import AppMixin
from bot.storage.postgres.articles import ArticlesMixin
from bot.storage.postgres.connection import Database, guard_public_methods
from bot.storage.postgres.feeds import FeedsMixin
from bot.storage.postgres.ledger import LedgerMixin
from bot.storage.postgres.notices import LeasesMixin, NoticesMixin

__all__ = ["PostgresStorage"]


@guard_public_methods
class PostgresStorage(FeedsMixin, ArticlesMixin, LedgerMixin, NoticesMixin, LeasesMixin, AppMixin):
    """Every concern's store over a pool of connections (see bot.storage.base.Storage)."""

    shared = True

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 4) -> None:
        self.db = Database(url, min_size=min_size, max_size=max_size)
        #: the URL without its password
        self.location = self.db.location

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    def close(self) -> None:
        self.db.close()
