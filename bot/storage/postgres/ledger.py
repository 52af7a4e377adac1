"""Which subscription got which article, and the outbox of digests to send (PostgreSQL).

Replicas share the outbox, so what selects work must not hand it out twice:

- choosing a subscription's articles and queueing them (``undelivered`` then
  ``create_digest`` in one transaction, see bot.app.delivery) is serialised per subscription
  by a transaction advisory lock that ``undelivered``, ``skip``, ``create_digest`` and
  ``park_digest`` take: a second replica's selection waits, then sees the first one's
  digest; and an article is in one digest only (the deliveries key refuses a second);
- ``pending_digests`` locks the digests it returns (``FOR NO KEY UPDATE SKIP LOCKED``): two
  transactions that each read the pending digests get different ones. Between calls, the
  subscription's lease (LeaseStore) is what keeps a second replica from sending.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from bot.storage.postgres.connection import PostgresMixin, dt, ts
from bot.storage.postgres.schema import LOCK_NAMESPACE
from bot.storage.records import (
    DeliveryFailure,
    DigestSummary,
    Message,
    OutboxDigest,
    OutboxMessage,
    PendingDigest,
    StoredArticle,
    SubscriptionStatus,
)

# record_sent's ``ts`` parameter (Slack's message timestamp) hides the helper's name there
_ts = ts

#: first key of the per-subscription advisory locks (the second is a hash of its key)
SUBSCRIPTION_LOCKS = LOCK_NAMESPACE + 1


def subscription_lock(key: str) -> int:
    """A subscription's lock number: a stable 32-bit hash of its key, as PostgreSQL's
    ``int4`` takes it."""
    value = zlib.crc32(key.encode())
    return value - (1 << 32) if value >= (1 << 31) else value


class LedgerMixin(PostgresMixin):
    #: rows of articles as records (ArticlesMixin)
    _stored: Callable[[Sequence[DictRow]], list[StoredArticle]]

    def _lock_subscription(self, key: str) -> None:
        """Until the transaction ends, no other one selects or queues for ``key``."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (SUBSCRIPTION_LOCKS, subscription_lock(key))
        )

    def ensure_subscription(self, key: str, *, start: datetime) -> datetime:
        """The time from which ``key`` receives articles; set to ``start`` the first time."""
        self.conn.execute(
            "INSERT INTO subscriptions (key, started_at) VALUES (%s, %s)"
            " ON CONFLICT (key) DO NOTHING",
            (key, ts(start)),
        )
        started = self._started(key)
        assert started is not None
        return started

    def subscription_start(self, key: str) -> datetime | None:
        return self._started(key)

    def _started(self, key: str) -> datetime | None:
        row = self.conn.execute(
            "SELECT started_at FROM subscriptions WHERE key = %s", (key,)
        ).fetchone()
        return dt(row["started_at"]) if row else None

    def undelivered(self, key: str, *, since: datetime) -> list[StoredArticle]:
        """Matched, non-backlog articles first seen since ``since`` that ``key`` has neither
        put in a digest nor passed over."""
        self._lock_subscription(key)
        rows = self.conn.execute(
            "SELECT * FROM articles a WHERE NOT a.backlog AND a.matched_at IS NOT NULL"
            " AND a.first_seen >= %s AND NOT EXISTS (SELECT 1 FROM deliveries d"
            " WHERE d.subscription = %s AND d.article_id = a.id) ORDER BY a.id",
            (ts(since), key),
        ).fetchall()
        return self._stored(rows)

    def skip(self, key: str, article_ids: Iterable[int]) -> None:
        """Record that ``key``'s rule passed over these articles (until their match changes)."""
        ids = list(article_ids)
        if not ids:
            return
        self._lock_subscription(key)
        self.conn.cursor().executemany(
            "INSERT INTO deliveries (subscription, article_id, state) VALUES (%s, %s, 'skipped')"
            " ON CONFLICT DO NOTHING",
            [(key, i) for i in ids],
        )

    def create_digest(
        self,
        key: str,
        *,
        kind: str,
        now: datetime,
        payloads: Sequence[Message],
        article_ids: Sequence[int],
    ) -> int:
        """Put a rendered digest in the outbox and assign its articles to it, atomically:
        from here on the articles belong to this digest, sent or not."""
        self._lock_subscription(key)
        conn = self.conn
        row = conn.execute(
            "INSERT INTO digests (subscription, kind, created_at, articles)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (key, kind, ts(now), len(article_ids)),
        ).fetchone()
        assert row is not None
        digest_id: int = row["id"]
        cursor = conn.cursor()
        cursor.executemany(
            "INSERT INTO digest_messages (digest_id, seq, payload) VALUES (%s, %s, %s)",
            [(digest_id, seq, Jsonb(payload)) for seq, payload in enumerate(payloads)],
        )
        cursor.executemany(
            "INSERT INTO deliveries (subscription, article_id, digest_id, state)"
            " VALUES (%s, %s, %s, 'digest')",
            [(key, article_id, digest_id) for article_id in article_ids],
        )
        return digest_id

    def pending_digests(self, key: str) -> list[PendingDigest]:
        conn = self.conn
        digests = conn.execute(
            "SELECT * FROM digests WHERE subscription = %s AND status = 'pending' ORDER BY id"
            " FOR NO KEY UPDATE SKIP LOCKED",
            (key,),
        ).fetchall()
        messages: dict[int, list[OutboxMessage]] = {}
        if digests:
            for r in conn.execute(
                "SELECT * FROM digest_messages WHERE digest_id = ANY(%s) ORDER BY digest_id, seq",
                ([d["id"] for d in digests],),
            ):
                messages.setdefault(r["digest_id"], []).append(
                    OutboxMessage(
                        r["seq"],
                        r["payload"],
                        r["channel_id"],
                        r["ts"],
                        sent=r["ts"] is not None or r["sent_at"] is not None,
                    )
                )
        out = []
        for d in digests:
            created = dt(d["created_at"])
            assert created is not None
            out.append(
                PendingDigest(
                    d["id"],
                    key,
                    d["kind"],
                    created,
                    d["attempts"],
                    d["articles"],
                    tuple(messages.get(d["id"], ())),
                )
            )
        return out

    def record_sent(
        self, digest_id: int, seq: int, *, channel_id: str | None, ts: str | None, now: datetime
    ) -> None:
        self.conn.execute(
            "UPDATE digest_messages SET channel_id = %s, ts = %s, sent_at = %s"
            " WHERE digest_id = %s AND seq = %s",
            (channel_id, ts, _ts(now), digest_id, seq),
        )

    def start_attempt(self, digest_id: int) -> None:
        self.conn.execute("UPDATE digests SET attempts = attempts + 1 WHERE id = %s", (digest_id,))

    def finish_digest(
        self, key: str, digest_id: int, *, now: datetime, channel_id: str | None
    ) -> None:
        conn = self.conn
        conn.execute(
            "UPDATE digests SET status = 'sent', delivered_at = %s WHERE id = %s",
            (ts(now), digest_id),
        )
        conn.execute(
            "UPDATE subscriptions SET last_delivered_at = %s, last_digest_id = %s,"
            " channel_id = COALESCE(%s, channel_id), last_error_code = NULL, last_error = NULL"
            " WHERE key = %s",
            (ts(now), digest_id, channel_id, key),
        )

    def record_digest_failure(self, digest_id: int, *, code: str, message: str) -> int:
        """Slack refused this digest's message itself (not the destination); returns how
        many times it has been refused."""
        row = self.conn.execute(
            "UPDATE digests SET failures = failures + 1, last_error = %s WHERE id = %s"
            " RETURNING failures",
            (f"{code}: {message}", digest_id),
        ).fetchone()
        assert row is not None, f"no digest #{digest_id}"
        return int(row["failures"])

    def park_digest(self, digest_id: int) -> tuple[int, int]:
        """Stop sending a digest Slack keeps refusing, without losing its articles or
        letting one of them block the subscription: they are released into the next
        digest; articles parked before go out alone next time (see ``solo_articles``), so
        an article Slack cannot take ends up parked alone, and then it stays with its
        digest (for ``outbox retry`` or ``outbox drop``). Returns (released, kept)."""
        conn = self.conn
        row = conn.execute(
            "SELECT subscription FROM digests WHERE id = %s", (digest_id,)
        ).fetchone()
        assert row is not None, f"no digest #{digest_id}"
        key: str = row["subscription"]
        self._lock_subscription(key)
        ids = [
            r["article_id"]
            for r in conn.execute(
                "SELECT article_id FROM deliveries WHERE digest_id = %s", (digest_id,)
            )
        ]
        before = {
            r["article_id"]
            for r in conn.execute(
                "SELECT article_id FROM parked_articles WHERE subscription = %s"
                " AND article_id = ANY(%s)",
                (key, ids),
            )
        }
        alone_again = len(ids) == 1 and ids[0] in before
        cursor = conn.cursor()
        if not alone_again:
            cursor.executemany(
                "DELETE FROM deliveries WHERE subscription = %s AND article_id = %s",
                [(key, i) for i in ids],
            )
        cursor.executemany(
            "INSERT INTO parked_articles (subscription, article_id, digest_id)"
            " VALUES (%s, %s, %s) ON CONFLICT (subscription, article_id) DO UPDATE"
            " SET times = parked_articles.times + 1, digest_id = excluded.digest_id",
            [(key, i, digest_id) for i in ids],
        )
        kept = len(ids) if alone_again else 0
        conn.execute(
            "UPDATE digests SET status = 'parked', articles = %s WHERE id = %s", (kept, digest_id)
        )
        return len(ids) - kept, kept

    def solo_articles(self, key: str) -> set[int]:
        """Articles of ``key`` that were in a parked digest: each goes out in a digest of
        its own, so an article Slack refuses cannot take others down with it."""
        rows = self.conn.execute(
            "SELECT article_id FROM parked_articles WHERE subscription = %s", (key,)
        )
        return {r["article_id"] for r in rows}

    def outbox(self, key: str | None = None) -> list[OutboxDigest]:
        """Digests not delivered: pending, parked (refused by Slack) or dropped."""
        rows = self.conn.execute(
            "SELECT d.*, (SELECT COUNT(*) FROM digest_messages m WHERE m.digest_id = d.id"
            " AND (m.ts IS NOT NULL OR m.sent_at IS NOT NULL)) AS messages_sent"
            " FROM digests d WHERE d.status IN ('pending', 'parked', 'dropped')"
            " AND (%(key)s::text IS NULL OR d.subscription = %(key)s) ORDER BY d.id",
            {"key": key},
        )
        out = []
        for d in rows:
            created = dt(d["created_at"])
            assert created is not None
            out.append(
                OutboxDigest(
                    id=d["id"],
                    subscription=d["subscription"],
                    kind=d["kind"],
                    status=d["status"],
                    created_at=created,
                    attempts=d["attempts"],
                    failures=d["failures"],
                    last_error=d["last_error"],
                    articles=d["articles"],
                    messages_sent=int(d["messages_sent"]),
                )
            )
        return out

    def digest_article_ids(self, digest_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT article_id FROM deliveries WHERE digest_id = %s ORDER BY article_id",
            (digest_id,),
        )
        return [r["article_id"] for r in rows]

    def set_digest_status(self, digest_id: int, status: str) -> None:
        """``dropped``: never sent, its articles stay with it (a person decided);
        ``pending``: sent again from its stored messages."""
        self.conn.execute(
            "UPDATE digests SET status = %s, failures = 0 WHERE id = %s", (status, digest_id)
        )

    def replace_digest(self, digest_id: int, payloads: Sequence[Message]) -> None:
        """Re-rendered messages for a digest none of whose messages went out; it is pending
        again."""
        conn = self.conn
        conn.execute("DELETE FROM digest_messages WHERE digest_id = %s", (digest_id,))
        conn.cursor().executemany(
            "INSERT INTO digest_messages (digest_id, seq, payload) VALUES (%s, %s, %s)",
            [(digest_id, seq, Jsonb(payload)) for seq, payload in enumerate(payloads)],
        )
        conn.execute(
            "UPDATE digests SET status = 'pending', failures = 0, last_error = NULL,"
            " articles = (SELECT COUNT(*) FROM deliveries WHERE digest_id = %(id)s)"
            " WHERE id = %(id)s",
            {"id": digest_id},
        )

    def record_delivery_error(self, key: str, *, code: str, message: str, now: datetime) -> None:
        self.conn.execute(
            "UPDATE subscriptions SET last_error_code = %s, last_error = %s, last_error_at = %s"
            " WHERE key = %s",
            (code, message, ts(now), key),
        )

    def last_delivered(self, key: str, kind: str = "digest") -> datetime | None:
        row = self.conn.execute(
            "SELECT MAX(delivered_at) AS at FROM digests"
            " WHERE subscription = %s AND kind = %s AND status = 'sent'",
            (key, kind),
        ).fetchone()
        return dt(row["at"]) if row else None

    def last_created(self, key: str, kind: str = "digest") -> datetime | None:
        row = self.conn.execute(
            "SELECT MAX(created_at) AS at FROM digests WHERE subscription = %s AND kind = %s",
            (key, kind),
        ).fetchone()
        return dt(row["at"]) if row else None

    def channel_id(self, key: str) -> str | None:
        row = self.conn.execute(
            "SELECT channel_id FROM subscriptions WHERE key = %s", (key,)
        ).fetchone()
        return row["channel_id"] if row else None

    def remember_channel(self, key: str, channel_id: str) -> None:
        self.conn.execute(
            "UPDATE subscriptions SET channel_id = %s WHERE key = %s", (channel_id, key)
        )

    def subscription_status(self, key: str) -> SubscriptionStatus | None:
        conn = self.conn
        row = conn.execute("SELECT * FROM subscriptions WHERE key = %s", (key,)).fetchone()
        if row is None:
            return None
        last = None
        if row["last_digest_id"]:
            d = conn.execute(
                "SELECT id, kind, articles, delivered_at FROM digests WHERE id = %s",
                (row["last_digest_id"],),
            ).fetchone()
            if d is not None:
                last = DigestSummary(d["id"], d["kind"], d["articles"], dt(d["delivered_at"]))
        pending = conn.execute(
            "SELECT COUNT(*) AS n, COALESCE(SUM(articles), 0) AS articles FROM digests"
            " WHERE subscription = %s AND status = 'pending'",
            (key,),
        ).fetchone()
        unsent = conn.execute(
            "SELECT COUNT(*) AS n FROM digest_messages m JOIN digests d ON d.id = m.digest_id"
            " WHERE d.subscription = %s AND d.status = 'pending' AND m.ts IS NULL"
            " AND m.sent_at IS NULL",
            (key,),
        ).fetchone()
        assert pending is not None and unsent is not None
        started = dt(row["started_at"])
        assert started is not None
        return SubscriptionStatus(
            started_at=started,
            last_delivered_at=dt(row["last_delivered_at"]),
            last_digest=last,
            pending_digests=int(pending["n"]),
            pending_articles=int(pending["articles"]),
            pending_messages=int(unsent["n"]),
            last_error=(
                DeliveryFailure(row["last_error_code"], row["last_error"], dt(row["last_error_at"]))
                if row["last_error_code"]
                else None
            ),
        )
