"""What the Slack app changes: subscriptions and feeds made from Slack, feedback, muted
sources, the audit log and per-workspace settings (SQLite).

Times are stored as ISO text in UTC (so that text order is time order); rows that share a
second are ordered by their id."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

from bot.storage.records import (
    AppFeed,
    AppSubscription,
    AuditEntry,
    FeedbackVote,
    MutedFeed,
    Verdict,
)
from bot.storage.sqlite.connection import SqliteMixin, dt, iso


def _at(value: datetime) -> str | None:
    return iso(value.astimezone(UTC))


def _time(value: str) -> datetime:
    when = dt(value)
    assert when is not None
    return when


def _vote(row: sqlite3.Row) -> FeedbackVote:
    return FeedbackVote(
        article_id=row["article_id"],
        subscription=row["subscription"],
        user_id=row["user_id"],
        verdict=cast(Verdict, row["verdict"]),
        at=_time(row["at"]),
    )


class AppMixin(SqliteMixin):
    # -- subscriptions and feeds made from Slack --------------------------------------------

    def app_subscriptions(self) -> list[AppSubscription]:
        rows = self.db.execute("SELECT * FROM app_subscriptions ORDER BY created_at, id")
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
        with self.conn.transaction():
            cursor = self.db.execute(
                "INSERT INTO app_subscriptions(name, channel_id, rule, schedule, created_by,"
                " created_at, team_id) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    sub.name,
                    sub.channel_id,
                    sub.rule,
                    sub.schedule,
                    sub.created_by,
                    _at(sub.created_at),
                    sub.team_id,
                ),
            )
        return cursor.rowcount > 0

    def remove_app_subscription(self, name: str) -> bool:
        with self.conn.transaction():
            cursor = self.db.execute("DELETE FROM app_subscriptions WHERE name=?", (name,))
        return cursor.rowcount > 0

    def app_feeds(self) -> list[AppFeed]:
        rows = self.db.execute("SELECT * FROM app_feeds ORDER BY added_at, id")
        return [
            AppFeed(
                name=r["name"],
                url=r["url"],
                tags=tuple(json.loads(r["tags"])),
                added_by=r["added_by"],
                added_at=_time(r["added_at"]),
            )
            for r in rows
        ]

    def add_app_feed(self, feed: AppFeed) -> bool:
        # no conflict target: a duplicate name and a duplicate URL are both refused
        with self.conn.transaction():
            cursor = self.db.execute(
                "INSERT INTO app_feeds(name, url, tags, added_by, added_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (
                    feed.name,
                    feed.url,
                    json.dumps(list(feed.tags), ensure_ascii=False),
                    feed.added_by,
                    _at(feed.added_at),
                ),
            )
        return cursor.rowcount > 0

    def remove_app_feed(self, name: str) -> bool:
        with self.conn.transaction():
            cursor = self.db.execute("DELETE FROM app_feeds WHERE name=?", (name,))
        return cursor.rowcount > 0

    # -- feedback ----------------------------------------------------------------------------

    def record_feedback(self, vote: FeedbackVote) -> bool:
        # A changed verdict takes a new id: it is the newest vote now, also among votes
        # of the same second.
        with self.conn.transaction():
            cursor = self.db.execute(
                "INSERT INTO feedback(article_id, subscription, user_id, verdict, at)"
                " VALUES (?,?,?,?,?)"
                " ON CONFLICT(article_id, subscription, user_id) DO UPDATE SET"
                " verdict=excluded.verdict, at=excluded.at,"
                " id=(SELECT MAX(id) + 1 FROM feedback)"
                " WHERE feedback.verdict<>excluded.verdict",
                (vote.article_id, vote.subscription, vote.user_id, vote.verdict, _at(vote.at)),
            )
        return cursor.rowcount > 0

    def feedback(
        self, *, subscription: str | None = None, article_ids: Iterable[int] | None = None
    ) -> list[FeedbackVote]:
        where, params = ["1=1"], []
        if subscription is not None:
            where.append("subscription=?")
            params.append(subscription)
        if article_ids is not None:
            where.append("article_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([int(i) for i in article_ids]))
        rows = self.db.execute(
            f"SELECT * FROM feedback WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC",
            params,
        )
        return [_vote(r) for r in rows]

    def feedback_counts(self, article_id: int, subscription: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT verdict, COUNT(*) FROM feedback WHERE article_id=? AND subscription=?"
            " GROUP BY verdict ORDER BY verdict DESC",
            (article_id, subscription),
        )
        return {r[0]: r[1] for r in rows}

    # -- muted sources -----------------------------------------------------------------------

    def mute_feed(self, muted: MutedFeed) -> bool:
        with self.conn.transaction():
            cursor = self.db.execute(
                "INSERT INTO muted_feeds(subscription, feed, muted_by, muted_at)"
                " VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                (muted.subscription, muted.feed, muted.muted_by, _at(muted.muted_at)),
            )
        return cursor.rowcount > 0

    def unmute_feed(self, subscription: str, feed: str) -> bool:
        with self.conn.transaction():
            cursor = self.db.execute(
                "DELETE FROM muted_feeds WHERE subscription=? AND feed=?", (subscription, feed)
            )
        return cursor.rowcount > 0

    def muted_feeds(self, subscription: str | None = None) -> list[MutedFeed]:
        rows = self.db.execute(
            "SELECT * FROM muted_feeds WHERE ? IS NULL OR subscription=?"
            " ORDER BY muted_at, subscription, feed",
            (subscription, subscription),
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
        with self.conn.transaction():
            self.db.execute(
                "INSERT INTO audit(at, user_id, action, target, detail, channel_id)"
                " VALUES (?,?,?,?,?,?)",
                (
                    _at(entry.at),
                    entry.user_id,
                    entry.action,
                    entry.target,
                    entry.detail,
                    entry.channel_id,
                ),
            )

    def audit(self, *, limit: int = 50, channel_id: str | None = None) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT * FROM audit WHERE ? IS NULL OR channel_id=? ORDER BY at DESC, id DESC LIMIT ?",
            (channel_id, channel_id, max(int(limit), 0)),
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
        row = self.db.execute(
            "SELECT value FROM workspace_settings WHERE team_id=? AND key=?", (team_id, key)
        ).fetchone()
        return row[0] if row else None

    def set_workspace_setting(self, team_id: str, key: str, value: str) -> None:
        with self.conn.transaction():
            self.db.execute(
                "INSERT INTO workspace_settings(team_id, key, value) VALUES (?,?,?)"
                " ON CONFLICT(team_id, key) DO UPDATE SET value=excluded.value",
                (team_id, key, value),
            )
