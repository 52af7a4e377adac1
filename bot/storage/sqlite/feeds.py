"""Feeds' health and HTTP validators (SQLite)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.models import FeedState
from bot.storage.sqlite.connection import SqliteMixin, dt, iso


def feed_from_row(row: sqlite3.Row) -> FeedState:
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


class FeedsMixin(SqliteMixin):
    def feed_state(self, name: str, config_url: str) -> FeedState:
        db = self.db
        row = db.execute("SELECT * FROM feeds WHERE name=?", (name,)).fetchone()
        if row is None or row["config_url"] != config_url:
            with self.conn.transaction():
                # Upsert, not check-then-insert: another process may have created it.
                db.execute(
                    "INSERT INTO feeds(name, config_url, url) VALUES (?,?,?)"
                    " ON CONFLICT(name) DO NOTHING",
                    (name, config_url, config_url),
                )
                db.execute(
                    "UPDATE feeds SET config_url=?, url=?, etag=NULL, last_modified=NULL,"
                    " body_hash=NULL, not_before=NULL WHERE name=? AND config_url<>?",
                    (config_url, config_url, name, config_url),
                )
            row = db.execute("SELECT * FROM feeds WHERE name=?", (name,)).fetchone()
        return feed_from_row(row)

    def all_feeds(self) -> list[FeedState]:
        rows = self.db.execute("SELECT * FROM feeds ORDER BY name").fetchall()
        return [feed_from_row(row) for row in rows]

    def feed_warnings(self, name: str) -> list[str]:
        row = self.db.execute("SELECT warnings FROM feeds WHERE name=?", (name,)).fetchone()
        return list(json.loads(row["warnings"])) if row else []

    def entry_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT feed, COUNT(*) FROM entries GROUP BY feed").fetchall()
        return {r[0]: int(r[1]) for r in rows}

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
        sets = [
            "last_attempt=:now",
            "last_success=:now",
            "consecutive_failures=0",
            "last_error_kind=NULL",
            "last_error_message=NULL",
            "next_poll=:next_poll",
            "not_before=:not_before",
            "first_polled=COALESCE(first_polled, :now)",
        ]
        values: dict[str, Any] = {
            "name": name,
            "now": iso(now),
            "next_poll": iso(next_poll),
            "not_before": iso(not_before),
        }
        if update_validators:
            sets += ["etag=:etag", "last_modified=:last_modified", "body_hash=:body_hash"]
            values |= {"etag": etag, "last_modified": last_modified, "body_hash": body_hash}
        if url:
            sets.append("url=:url")
            values["url"] = url
        if title is not None:
            sets.append("title=:title")
            values["title"] = title
        if warnings is not None:
            sets.append("warnings=:warnings")
            values["warnings"] = json.dumps(list(warnings), ensure_ascii=False)
        if had_new:
            sets.append("last_new=:now")
        with self.conn.transaction():
            self.db.execute(f"UPDATE feeds SET {', '.join(sets)} WHERE name=:name", values)

    def record_failure(
        self, name: str, *, now: datetime, kind: str, message: str, next_poll: datetime
    ) -> int:
        with self.conn.transaction():
            self.db.execute(
                "UPDATE feeds SET last_attempt=?, last_error_kind=?, last_error_message=?,"
                " last_error_at=?, consecutive_failures=consecutive_failures+1, next_poll=?,"
                " not_before=? WHERE name=?",
                (iso(now), kind, message, iso(now), iso(next_poll), iso(next_poll), name),
            )
            row = self.db.execute(
                "SELECT consecutive_failures FROM feeds WHERE name=?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0
