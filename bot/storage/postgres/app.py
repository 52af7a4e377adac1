"""What the Slack app changes: subscriptions and feeds made from Slack, feedback, muted
sources, the audit log and per-workspace settings (PostgreSQL).

Every write is one statement whose conflict clause decides (``ON CONFLICT``), so replicas
handling the same click or command at once cannot both win nor fail: one inserts, the
other finds the row. Rows that share a second are ordered by their id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from bot.storage.postgres.connection import PostgresMixin, dt, ts
from bot.storage.records import (
    AppFeed,
    AppSubscription,
    AuditEntry,
    FeedbackVote,
    MutedFeed,
    Verdict,
)


def _time(value: datetime) -> datetime:
    when = dt(value)
    assert when is not None
    return when


def _vote(row: DictRow) -> FeedbackVote:
    return FeedbackVote(
        article_id=row["article_id"],
        subscription=row["subscription"],
        user_id=row["user_id"],
        verdict=cast(Verdict, row["verdict"]),
        at=_time(row["at"]),
    )


class AppMixin(PostgresMixin):
    # -- subscriptions and feeds made from Slack --------------------------------------------

    def app_subscriptions(self) -> list[AppSubscription]:
        rows = self.conn.execute("SELECT * FROM app_subscriptions ORDER BY created_at, id")
        return [
            AppSubscription(
                name=r["name"],
                channel_id=r["channel_id"],
                rule=r["rule"],
                schedule=r["schedule"],
                created_by=r["created_by"],
                created_at=_time(r["created_at"]),
                team_id=r["team_id"],
            )
            for r in rows
        ]

    def add_app_subscription(self, sub: AppSubscription) -> bool:
        cursor = self.conn.execute(
            "INSERT INTO app_subscriptions (name, channel_id, rule, schedule, created_by,"
            " created_at, team_id) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                sub.name,
                sub.channel_id,
                sub.rule,
                sub.schedule,
                sub.created_by,
                ts(sub.created_at),
                sub.team_id,
            ),
        )
        return cursor.rowcount > 0

    def remove_app_subscription(self, name: str) -> bool:
        cursor = self.conn.execute("DELETE FROM app_subscriptions WHERE name = %s", (name,))
        return cursor.rowcount > 0

    def app_feeds(self) -> list[AppFeed]:
        rows = self.conn.execute("SELECT * FROM app_feeds ORDER BY added_at, id")
        return [
            AppFeed(
                name=r["name"],
                url=r["url"],
                tags=tuple(r["tags"]),
                added_by=r["added_by"],
                added_at=_time(r["added_at"]),
            )
            for r in rows
        ]

    def add_app_feed(self, feed: AppFeed) -> bool:
        # no conflict target: a duplicate name and a duplicate URL are both refused
        cursor = self.conn.execute(
            "INSERT INTO app_feeds (name, url, tags, added_by, added_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (feed.name, feed.url, Jsonb(list(feed.tags)), feed.added_by, ts(feed.added_at)),
        )
        return cursor.rowcount > 0

    def remove_app_feed(self, name: str) -> bool:
        cursor = self.conn.execute("DELETE FROM app_feeds WHERE name = %s", (name,))
        return cursor.rowcount > 0

    # -- feedback ----------------------------------------------------------------------------

    def record_feedback(self, vote: FeedbackVote) -> bool:
        # A changed verdict takes a new id: it is the newest vote now, also among votes
        # of the same second.
        cursor = self.conn.execute(
            "INSERT INTO feedback (article_id, subscription, user_id, verdict, at)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (article_id, subscription, user_id) DO UPDATE SET"
            " verdict = excluded.verdict, at = excluded.at, id = DEFAULT"
            " WHERE feedback.verdict <> excluded.verdict",
            (vote.article_id, vote.subscription, vote.user_id, vote.verdict, ts(vote.at)),
        )
        return cursor.rowcount > 0

    def feedback(
        self, *, subscription: str | None = None, article_ids: Iterable[int] | None = None
    ) -> list[FeedbackVote]:
        ids = None if article_ids is None else [int(i) for i in article_ids]
        rows = self.conn.execute(
            "SELECT * FROM feedback WHERE (%(sub)s::text IS NULL OR subscription = %(sub)s)"
            " AND (%(ids)s::bigint[] IS NULL OR article_id = ANY(%(ids)s::bigint[]))"
            " ORDER BY at DESC, id DESC",
            {"sub": subscription, "ids": ids},
        )
        return [_vote(r) for r in rows]

    def feedback_counts(self, article_id: int, subscription: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT verdict, COUNT(*) AS n FROM feedback"
            " WHERE article_id = %s AND subscription = %s GROUP BY verdict",
            (article_id, subscription),
        )
        return {r["verdict"]: int(r["n"]) for r in rows}

    # -- muted sources -----------------------------------------------------------------------

    def mute_feed(self, muted: MutedFeed) -> bool:
        cursor = self.conn.execute(
            "INSERT INTO muted_feeds (subscription, feed, muted_by, muted_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (muted.subscription, muted.feed, muted.muted_by, ts(muted.muted_at)),
        )
        return cursor.rowcount > 0

    def unmute_feed(self, subscription: str, feed: str) -> bool:
        cursor = self.conn.execute(
            "DELETE FROM muted_feeds WHERE subscription = %s AND feed = %s", (subscription, feed)
        )
        return cursor.rowcount > 0

    def muted_feeds(self, subscription: str | None = None) -> list[MutedFeed]:
        # COLLATE "C": code point order, as SQLite sorts text
        rows = self.conn.execute(
            "SELECT * FROM muted_feeds WHERE %(sub)s::text IS NULL OR subscription = %(sub)s"
            ' ORDER BY muted_at, subscription COLLATE "C", feed COLLATE "C"',
            {"sub": subscription},
        )
        return [
            MutedFeed(
                subscription=r["subscription"],
                feed=r["feed"],
                muted_by=r["muted_by"],
                muted_at=_time(r["muted_at"]),
            )
            for r in rows
        ]

    # -- the audit log -----------------------------------------------------------------------

    def record_audit(self, entry: AuditEntry) -> None:
        self.conn.execute(
            "INSERT INTO audit (at, user_id, action, target, detail, channel_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (
                ts(entry.at),
                entry.user_id,
                entry.action,
                entry.target,
                entry.detail,
                entry.channel_id,
            ),
        )

    def audit(self, *, limit: int = 50, channel_id: str | None = None) -> list[AuditEntry]:
        rows = self.conn.execute(
            "SELECT * FROM audit WHERE %(channel)s::text IS NULL OR channel_id = %(channel)s"
            " ORDER BY at DESC, id DESC LIMIT %(limit)s",
            {"channel": channel_id, "limit": max(int(limit), 0)},
        )
        return [
            AuditEntry(
                at=_time(r["at"]),
                user_id=r["user_id"],
                action=r["action"],
                target=r["target"],
                detail=r["detail"],
                channel_id=r["channel_id"],
            )
            for r in rows
        ]

    # -- per-workspace settings --------------------------------------------------------------

    def workspace_setting(self, team_id: str, key: str) -> str | None:
        row = self.conn.execute(
            "SELECT value FROM workspace_settings WHERE team_id = %s AND key = %s", (team_id, key)
        ).fetchone()
        return str(row["value"]) if row else None

    def set_workspace_setting(self, team_id: str, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO workspace_settings (team_id, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (team_id, key) DO UPDATE SET value = excluded.value",
            (team_id, key, value),
        )
