"""Which subscription got which article, and the outbox of digests to send (SQLite)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

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
from bot.storage.sqlite.connection import SqliteMixin, dt, iso


def _json(payload: Message) -> str:
    return json.dumps(payload, ensure_ascii=False)


class LedgerMixin(SqliteMixin):
    #: rows of articles as records (ArticlesMixin)
    _stored: Callable[[Sequence[sqlite3.Row]], list[StoredArticle]]

    def ensure_subscription(self, key: str, *, start: datetime) -> datetime:
        """The time from which ``key`` receives articles; set to ``start`` the first time."""
        with self.conn.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO subscriptions(key, started_at) VALUES (?, ?)",
                (key, iso(start)),
            )
        row = self.db.execute("SELECT started_at FROM subscriptions WHERE key=?", (key,)).fetchone()
        started = dt(row[0])
        assert started is not None
        return started

    def subscription_start(self, key: str) -> datetime | None:
        row = self.db.execute("SELECT started_at FROM subscriptions WHERE key=?", (key,)).fetchone()
        return dt(row[0]) if row else None

    def undelivered(self, key: str, *, since: datetime) -> list[StoredArticle]:
        """Matched, non-backlog articles first seen since ``since`` that ``key`` has neither
        put in a digest nor passed over."""
        rows = self.db.execute(
            "SELECT * FROM articles a WHERE a.backlog=0 AND a.matched_at IS NOT NULL"
            " AND a.first_seen >= ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
            " WHERE d.subscription=? AND d.article_id=a.id) ORDER BY a.id",
            (iso(since), key),
        ).fetchall()
        return self._stored(rows)

    def skip(self, key: str, article_ids: Iterable[int]) -> None:
        """Record that ``key``'s rule passed over these articles (until their match changes)."""
        with self.conn.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO deliveries(subscription, article_id, state)"
                " VALUES (?,?,'skipped')",
                [(key, i) for i in article_ids],
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
        with self.conn.transaction():
            cursor = self.db.execute(
                "INSERT INTO digests(subscription, kind, created_at, articles) VALUES (?,?,?,?)",
                (key, kind, iso(now), len(article_ids)),
            )
            digest_id = cursor.lastrowid
            assert digest_id is not None
            self.db.executemany(
                "INSERT INTO digest_messages(digest_id, seq, payload) VALUES (?,?,?)",
                [(digest_id, seq, _json(payload)) for seq, payload in enumerate(payloads)],
            )
            self.db.executemany(
                "INSERT INTO deliveries(subscription, article_id, digest_id, state)"
                " VALUES (?,?,?,'digest')",
                [(key, article_id, digest_id) for article_id in article_ids],
            )
        return digest_id

    def pending_digests(self, key: str) -> list[PendingDigest]:
        digests = self.db.execute(
            "SELECT * FROM digests WHERE subscription=? AND status='pending' ORDER BY id", (key,)
        ).fetchall()
        out = []
        for d in digests:
            messages = tuple(
                OutboxMessage(
                    r["seq"],
                    json.loads(r["payload"]),
                    r["channel_id"],
                    r["ts"],
                    sent=r["ts"] is not None or r["sent_at"] is not None,
                )
                for r in self.db.execute(
                    "SELECT * FROM digest_messages WHERE digest_id=? ORDER BY seq", (d["id"],)
                )
            )
            created = dt(d["created_at"])
            assert created is not None
            out.append(
                PendingDigest(
                    d["id"], key, d["kind"], created, d["attempts"], d["articles"], messages
                )
            )
        return out

    def record_sent(
        self, digest_id: int, seq: int, *, channel_id: str | None, ts: str | None, now: datetime
    ) -> None:
        with self.conn.transaction():
            self.db.execute(
                "UPDATE digest_messages SET channel_id=?, ts=?, sent_at=?"
                " WHERE digest_id=? AND seq=?",
                (channel_id, ts, iso(now), digest_id, seq),
            )

    def start_attempt(self, digest_id: int) -> None:
        with self.conn.transaction():
            self.db.execute("UPDATE digests SET attempts=attempts+1 WHERE id=?", (digest_id,))

    def finish_digest(
        self, key: str, digest_id: int, *, now: datetime, channel_id: str | None
    ) -> None:
        with self.conn.transaction():
            self.db.execute(
                "UPDATE digests SET status='sent', delivered_at=? WHERE id=?",
                (iso(now), digest_id),
            )
            self.db.execute(
                "UPDATE subscriptions SET last_delivered_at=?, last_digest_id=?,"
                " channel_id=COALESCE(?, channel_id), last_error_code=NULL, last_error=NULL"
                " WHERE key=?",
                (iso(now), digest_id, channel_id, key),
            )

    def record_digest_failure(self, digest_id: int, *, code: str, message: str) -> int:
        """Slack refused this digest's message itself (not the destination); returns how
        many times it has been refused."""
        with self.conn.transaction():
            self.db.execute(
                "UPDATE digests SET failures=failures+1, last_error=? WHERE id=?",
                (f"{code}: {message}", digest_id),
            )
            row = self.db.execute(
                "SELECT failures FROM digests WHERE id=?", (digest_id,)
            ).fetchone()
        return int(row[0])

    def park_digest(self, digest_id: int) -> tuple[int, int]:
        """Stop sending a digest Slack keeps refusing, without losing its articles or
        letting one of them block the subscription: they are released into the next
        digest; articles parked before go out alone next time (see ``solo_articles``), so
        an article Slack cannot take ends up parked alone, and then it stays with its
        digest (for ``outbox retry`` or ``outbox drop``). Returns (released, kept)."""
        with self.conn.transaction():
            row = self.db.execute(
                "SELECT subscription FROM digests WHERE id=?", (digest_id,)
            ).fetchone()
            key = row[0]
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT article_id FROM deliveries WHERE digest_id=?", (digest_id,)
                )
            ]
            before = {
                r[0]
                for r in self.db.execute(
                    f"SELECT article_id FROM parked_articles WHERE subscription=?"
                    f" AND article_id IN ({','.join('?' * len(ids))})",
                    [key, *ids],
                )
            }
            alone_again = len(ids) == 1 and ids[0] in before
            if not alone_again:
                self.db.executemany(
                    "DELETE FROM deliveries WHERE subscription=? AND article_id=?",
                    [(key, i) for i in ids],
                )
            self.db.executemany(
                "INSERT INTO parked_articles(subscription, article_id, digest_id) VALUES (?,?,?)"
                " ON CONFLICT(subscription, article_id) DO UPDATE"
                " SET times=times+1, digest_id=excluded.digest_id",
                [(key, i, digest_id) for i in ids],
            )
            kept = len(ids) if alone_again else 0
            self.db.execute(
                "UPDATE digests SET status='parked', articles=? WHERE id=?", (kept, digest_id)
            )
        return len(ids) - kept, kept

    def solo_articles(self, key: str) -> set[int]:
        """Articles of ``key`` that were in a parked digest: each goes out in a digest of
        its own, so an article Slack refuses cannot take others down with it."""
        rows = self.db.execute(
            "SELECT article_id FROM parked_articles WHERE subscription=?", (key,)
        ).fetchall()
        return {r[0] for r in rows}

    def outbox(self, key: str | None = None) -> list[OutboxDigest]:
        """Digests not delivered: pending, parked (refused by Slack) or dropped."""
        sql = "SELECT * FROM digests WHERE status IN ('pending', 'parked', 'dropped')"
        params: list[str] = []
        if key is not None:
            sql += " AND subscription=?"
            params.append(key)
        rows = self.db.execute(sql + " ORDER BY id", params).fetchall()
        out = []
        for d in rows:
            sent = self.db.execute(
                "SELECT COUNT(*) FROM digest_messages WHERE digest_id=?"
                " AND (ts IS NOT NULL OR sent_at IS NOT NULL)",
                (d["id"],),
            ).fetchone()[0]
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
                    messages_sent=sent,
                )
            )
        return out

    def digest_article_ids(self, digest_id: int) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT article_id FROM deliveries WHERE digest_id=? ORDER BY article_id",
                (digest_id,),
            )
        ]

    def set_digest_status(self, digest_id: int, status: str) -> None:
        """``dropped``: never sent, its articles stay with it (a person decided);
        ``pending``: sent again from its stored messages."""
        with self.conn.transaction():
            self.db.execute(
                "UPDATE digests SET status=?, failures=0 WHERE id=?", (status, digest_id)
            )

    def replace_digest(self, digest_id: int, payloads: Sequence[Message]) -> None:
        """Re-rendered messages for a digest none of whose messages went out; it is pending
        again."""
        with self.conn.transaction():
            self.db.execute("DELETE FROM digest_messages WHERE digest_id=?", (digest_id,))
            self.db.executemany(
                "INSERT INTO digest_messages(digest_id, seq, payload) VALUES (?,?,?)",
                [(digest_id, seq, _json(payload)) for seq, payload in enumerate(payloads)],
            )
            self.db.execute(
                "UPDATE digests SET status='pending', failures=0, last_error=NULL,"
                " articles=(SELECT COUNT(*) FROM deliveries WHERE digest_id=?) WHERE id=?",
                (digest_id, digest_id),
            )

    def record_delivery_error(self, key: str, *, code: str, message: str, now: datetime) -> None:
        with self.conn.transaction():
            self.db.execute(
                "UPDATE subscriptions SET last_error_code=?, last_error=?, last_error_at=?"
                " WHERE key=?",
                (code, message, iso(now), key),
            )

    def last_delivered(self, key: str, kind: str = "digest") -> datetime | None:
        row = self.db.execute(
            "SELECT MAX(delivered_at) FROM digests"
            " WHERE subscription=? AND kind=? AND status='sent'",
            (key, kind),
        ).fetchone()
        return dt(row[0])

    def last_created(self, key: str, kind: str = "digest") -> datetime | None:
        row = self.db.execute(
            "SELECT MAX(created_at) FROM digests WHERE subscription=? AND kind=?", (key, kind)
        ).fetchone()
        return dt(row[0])

    def channel_id(self, key: str) -> str | None:
        row = self.db.execute("SELECT channel_id FROM subscriptions WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def remember_channel(self, key: str, channel_id: str) -> None:
        with self.conn.transaction():
            self.db.execute("UPDATE subscriptions SET channel_id=? WHERE key=?", (channel_id, key))

    def subscription_status(self, key: str) -> SubscriptionStatus | None:
        row = self.db.execute("SELECT * FROM subscriptions WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        last = None
        if row["last_digest_id"]:
            d = self.db.execute(
                "SELECT * FROM digests WHERE id=?", (row["last_digest_id"],)
            ).fetchone()
            last = DigestSummary(d["id"], d["kind"], d["articles"], dt(d["delivered_at"]))
        pending = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(articles), 0) FROM digests"
            " WHERE subscription=? AND status='pending'",
            (key,),
        ).fetchone()
        unsent = self.db.execute(
            "SELECT COUNT(*) FROM digest_messages m JOIN digests d ON d.id=m.digest_id"
            " WHERE d.subscription=? AND d.status='pending' AND m.ts IS NULL AND m.sent_at IS NULL",
            (key,),
        ).fetchone()[0]
        started = dt(row["started_at"])
        assert started is not None
        return SubscriptionStatus(
            started_at=started,
            last_delivered_at=dt(row["last_delivered_at"]),
            last_digest=last,
            pending_digests=int(pending[0]),
            pending_articles=int(pending[1]),
            pending_messages=int(unsent),
            last_error=(
                DeliveryFailure(row["last_error_code"], row["last_error"], dt(row["last_error_at"]))
                if row["last_error_code"]
                else None
            ),
        )
