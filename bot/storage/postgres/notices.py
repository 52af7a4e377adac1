"""Reports already sent to the admin, leases, and the heartbeat (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage.postgres.connection import PostgresMixin, dt, ts


class NoticesMixin(PostgresMixin):
    def notice_due(self, key: str, *, now: datetime, repeat_after: timedelta) -> bool:
        row = self.conn.execute("SELECT last_sent FROM notices WHERE key = %s", (key,)).fetchone()
        last = dt(row["last_sent"]) if row else None
        return last is None or now - last >= repeat_after

    def record_notice(self, key: str, *, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO notices (key, last_sent) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET last_sent = excluded.last_sent",
            (key, ts(now)),
        )

    def heartbeat(self, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO heartbeat (id, at) VALUES (1, %s)"
            " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            (ts(now),),
        )


class LeasesMixin(PostgresMixin):
    def acquire_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        # One statement, so replicas racing for a free or expired lease cannot both win:
        # the loser's insert meets the winner's row and its update's condition fails (or,
        # if the winner has not committed yet, waits for it and then fails). No row back
        # means someone else holds it.
        row = self.conn.execute(
            "INSERT INTO leases (name, owner, expires_at) VALUES (%(name)s, %(owner)s,"
            " %(expires)s) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
            " expires_at = excluded.expires_at"
            " WHERE leases.expires_at <= %(now)s OR leases.owner = excluded.owner"
            " RETURNING owner",
            {"name": name, "owner": owner, "expires": ts(now + ttl), "now": ts(now)},
        ).fetchone()
        return row is not None and row["owner"] == owner

    def release_lease(self, name: str, owner: str) -> None:
        self.conn.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))
