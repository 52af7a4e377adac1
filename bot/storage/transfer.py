"""``python -m bot migrate-store --to postgresql://...``: copy a SQLite store into PostgreSQL.

Everything is copied as it is, ids included (digests posted to Slack carry article ids in
their buttons, and the outbox refers to articles by id): feeds' state and validators,
articles with their entries and decisions, subscriptions' ledgers, the outbox and its
messages, parked articles, admin notices, and what the Slack app keeps (subscriptions and
feeds made from Slack, feedback, muted sources, the audit log, workspace settings). Leases
and the heartbeat are not: they are live state of a running service. All in one
transaction: the target has all of it or none.

Running it again changes nothing: every row is already there, and the target remembers
what it imported (``imports``). It refuses a target that holds data that did not come from
this store, or that replicas have written to since the import: ids would collide.

This module is the one place that knows both engines' tables; both have the same table and
column names (PostgreSQL's types are timestamptz, jsonb and boolean where SQLite keeps
ISO text, JSON text and 0/1).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bot.errors import StorageError
from bot.storage.postgres import PostgresStorage
from bot.storage.sqlite import DB_FILE, SqliteStorage

#: in the order foreign keys need them
TABLES = (
    "feeds",
    "articles",
    "entries",
    "subscriptions",
    "digests",
    "digest_messages",
    "deliveries",
    "parked_articles",
    "notices",
    "app_subscriptions",
    "app_feeds",
    "feedback",
    "muted_feeds",
    "audit",
    "workspace_settings",
)
#: tables whose id PostgreSQL generates (copied with OVERRIDING SYSTEM VALUE, then the
#: sequence moved past the copied ids)
IDENTITY = {
    "articles": "id",
    "digests": "id",
    "app_subscriptions": "id",
    "app_feeds": "id",
    "feedback": "id",
    "audit": "id",
}
#: columns PostgreSQL generates that SQLite does not have (entries.seq: rows are copied in
#: SQLite's rowid order, so the sources of a story keep their order)
GENERATED = {"entries": {"seq"}}


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    copied: int

    @property
    def already_there(self) -> int:
        return self.source_rows - self.copied


def _to_pg(value: Any, pg_type: str) -> Any:
    if value is None:
        return None
    if pg_type == "timestamp with time zone":
        when = datetime.fromisoformat(str(value))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if pg_type == "jsonb":
        return Jsonb(json.loads(value) if isinstance(value, str) else value)
    if pg_type == "boolean":
        return bool(value)
    return value


def _pg_columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _sqlite_columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


def _scalar(conn: psycopg.Connection[Any], query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0] or 0) if row else 0


def _check_target(conn: psycopg.Connection[Any], source: str) -> None:
    imported = conn.execute(
        "SELECT max_article_id, max_digest_id FROM imports WHERE source = %s", (source,)
    ).fetchone()
    articles = _scalar(conn, "SELECT max(id) FROM articles")
    digests = _scalar(conn, "SELECT max(id) FROM digests")
    if imported is None:
        holds = (
            articles
            + digests
            + sum(
                _scalar(conn, f"SELECT count(*) FROM {table}")
                for table in ("feeds", "app_subscriptions", "app_feeds", "audit")
            )
        )
        if holds:
            raise StorageError(
                "the PostgreSQL database already holds a store that did not come from "
                f"{source}: migrate into an empty database (ids would collide)"
            )
        return
    if articles > imported[0] or digests > imported[1]:
        raise StorageError(
            f"{source} was imported before, and the PostgreSQL database has been written to "
            "since (by the bot running on it): copying again could collide ids; keep the "
            "PostgreSQL store, or migrate into a new database"
        )


def migrate_store(data_dir: Path, url: str) -> list[TableCopy]:
    """Copy the SQLite store in ``data_dir`` into the PostgreSQL database at ``url``. The
    caller holds the data directory's lock (nothing writes the SQLite store meanwhile)."""
    path = data_dir / DB_FILE
    if not path.exists():
        raise StorageError(f"no SQLite store at {path}: nothing to migrate (--data-dir?)")
    SqliteStorage(data_dir).close()  # bring an older store to the current schema first
    PostgresStorage(url).close()  # create or migrate the target's schema
    source = str(path.resolve())
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with psycopg.connect(url) as conn, conn.transaction():
            # one migration at a time into one database
            conn.execute("LOCK TABLE imports IN EXCLUSIVE MODE")
            _check_target(conn, source)
            copies = [_copy(db, conn, table) for table in TABLES]
            for table, column in IDENTITY.items():
                conn.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({t}, {c}),"
                        " GREATEST((SELECT max({col}) FROM {tab}), 1))"
                    ).format(
                        t=sql.Literal(table),
                        c=sql.Literal(column),
                        col=sql.Identifier(column),
                        tab=sql.Identifier(table),
                    )
                )
            conn.execute(
                "INSERT INTO imports (source, imported_at, max_article_id, max_digest_id)"
                " VALUES (%s, now(), (SELECT COALESCE(max(id), 0) FROM articles),"
                " (SELECT COALESCE(max(id), 0) FROM digests)) ON CONFLICT (source) DO NOTHING",
                (source,),
            )
    except psycopg.Error as e:
        raise StorageError(f"migration into PostgreSQL failed, nothing was copied: {e}") from e
    except sqlite3.Error as e:
        raise StorageError(f"cannot read {path}: {e}") from e
    finally:
        db.close()
    return copies


def _copy(db: sqlite3.Connection, conn: psycopg.Connection[Any], table: str) -> TableCopy:
    target = _pg_columns(conn, table)
    skip = GENERATED.get(table, set())
    columns = [c for c in _sqlite_columns(db, table) if c in target and c not in skip]
    overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if table in IDENTITY else sql.SQL("")
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}){overriding} VALUES ({values}) ON CONFLICT DO NOTHING"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        overriding=overriding,
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    types = [target[c] for c in columns]
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid"
    copied = 0
    total = 0
    cursor = db.execute(query)
    with conn.cursor() as pg:
        while batch := cursor.fetchmany(2000):
            total += len(batch)
            rows = [tuple(_to_pg(v, t) for v, t in zip(row, types, strict=True)) for row in batch]
            pg.executemany(statement, rows)
            copied += pg.rowcount if pg.rowcount > 0 else 0
    return TableCopy(table, total, copied)
