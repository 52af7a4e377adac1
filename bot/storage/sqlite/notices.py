"""Reports already sent to the admin, leases, and the heartbeat (SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage.sqlite.connection import SqliteMixin, dt, iso


class NoticesMixin(SqliteMixin):
    def notice_due(self, key: str, *, now: datetime, repeat_after: timedelta) -> bool:
        row = self.db.execute("SELECT last_sent FROM notices WHERE key=?", (key,)).fetchone()
        last = dt(row[0]) if row else None
        return last is None or now - last >= repeat_after

    def record_notice(self, key: str, *, now: datetime) -> None:
        with self.conn.transaction():
            self.db.execute(
                "INSERT INTO notices(key, last_sent) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET last_sent=excluded.last_sent",
                (key, iso(now)),
            )

    def heartbeat(self, now: datetime) -> None:
        with self.conn.transaction():
            self.db.execute(
                "INSERT INTO heartbeat(id, at) VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET at=excluded.at",
                (iso(now),),
            )


class LeasesMixin(SqliteMixin):
    def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        with self.conn.transaction():
            self.db.execute(
                "INSERT INTO leases(name, owner, expires_at) VALUES (?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET owner=excluded.owner,"
                " expires_at=excluded.expires_at"
                " WHERE leases.owner=excluded.owner OR leases.expires_at<=?",
                (name, owner, iso(now + ttl), iso(now)),
            )
            row = self.db.execute("SELECT owner FROM leases WHERE name=?", (name,)).fetchone()
        return row is not None and row[0] == owner

    def release_lease(self, name: str, owner: str) -> None:
        with self.conn.transaction():
            self.db.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))
