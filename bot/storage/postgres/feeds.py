"""Feeds' health and HTTP validators (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from bot.models import FeedState
from bot.storage.postgres.connection import PostgresMixin, dt, ts


def feed_from_row(row: DictRow) -> FeedState:
    return FeedState(
        name=row["name"],
        url=row["url"],
        config_url=row["config_url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        first_polled=dt(row["first_polled"]),
        last_attempt=dt(row["last_attempt"]),
        last_success=dt(row["last_success"]),
        last_new=dt(row["last_new"]),
        last_error_kind=row["last_error_kind"],
        last_error_message=row["last_error_message"],
        last_error_at=dt(row["last_error_at"]),
        consecutive_failures=row["consecutive_failures"],
        next_poll=dt(row["next_poll"]),
        not_before=dt(row["not_before"]),
    )


class FeedsMixin(PostgresMixin):
    def feed_state(self, name: str, config_url: str) -> FeedState:
        conn = self.conn
        row = conn.execute("SELECT * FROM feeds WHERE name = %s", (name,)).fetchone()
        if row is None or row["config_url"] != config_url:
            # Upsert, not check-then-insert: another replica may have created it.
            conn.execute(
                "INSERT INTO feeds (name, config_url, url) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, config_url, config_url),
            )
            conn.execute(
                "UPDATE feeds SET config_url = %s, url = %s, etag = NULL, last_modified = NULL,"
                " body_hash = NULL, not_before = NULL WHERE name = %s AND config_url <> %s",
                (config_url, config_url, name, config_url),
            )
            row = conn.execute("SELECT * FROM feeds WHERE name = %s", (name,)).fetchone()
        assert row is not None
        return feed_from_row(row)

    def all_feeds(self) -> list[FeedState]:
        # COLLATE "C": code point order, as SQLite sorts text
        rows = self.conn.execute('SELECT * FROM feeds ORDER BY name COLLATE "C"').fetchall()
        return [feed_from_row(row) for row in rows]

    def feed_warnings(self, name: str) -> list[str]:
        row = self.conn.execute("SELECT warnings FROM feeds WHERE name = %s", (name,)).fetchone()
        return list(row["warnings"]) if row else []

    def entry_counts(self) -> dict[str, int]:
        rows = self.conn.execute(
            'SELECT feed, COUNT(*) AS n FROM entries GROUP BY feed ORDER BY feed COLLATE "C"'
        )
        return {r["feed"]: int(r["n"]) for r in rows}

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
        sets: list[sql.Composable] = [
            sql.SQL("last_attempt = %(now)s"),
            sql.SQL("last_success = %(now)s"),
            sql.SQL("consecutive_failures = 0"),
            sql.SQL("last_error_kind = NULL"),
            sql.SQL("last_error_message = NULL"),
            sql.SQL("next_poll = %(next_poll)s"),
            sql.SQL("not_before = %(not_before)s"),
            sql.SQL("first_polled = COALESCE(first_polled, %(now)s)"),
        ]
        values: dict[str, Any] = {
            "name": name,
            "now": ts(now),
            "next_poll": ts(next_poll),
            "not_before": ts(not_before),
        }
        changed: dict[str, Any] = {}
        if update_validators:
            changed |= {"etag": etag, "last_modified": last_modified, "body_hash": body_hash}
        if url:
            changed["url"] = url
        if title is not None:
            changed["title"] = title
        if warnings is not None:
            changed["warnings"] = Jsonb(list(warnings))
        if had_new:
            sets.append(sql.SQL("last_new = %(now)s"))
        sets += [
            sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
            for column in changed
        ]
        query = sql.SQL("UPDATE feeds SET {} WHERE name = %(name)s").format(
            sql.SQL(", ").join(sets)
        )
        self.conn.execute(query, values | changed)

    def record_failure(
        self, name: str, *, now: datetime, kind: str, message: str, next_poll: datetime
    ) -> int:
        row = self.conn.execute(
            "UPDATE feeds SET last_attempt = %(now)s, last_error_kind = %(kind)s,"
            " last_error_message = %(message)s, last_error_at = %(now)s,"
            " consecutive_failures = consecutive_failures + 1, next_poll = %(next)s,"
            " not_before = %(next)s WHERE name = %(name)s RETURNING consecutive_failures",
            {"now": ts(now), "kind": kind, "message": message, "next": ts(next_poll), "name": name},
        ).fetchone()
        return int(row["consecutive_failures"]) if row else 0
