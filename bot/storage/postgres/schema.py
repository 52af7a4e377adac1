"""The PostgreSQL schema, one script per version; never edit a released step, add a new one.

The applied versions are rows of ``schema_version``. Replicas that start together migrate
once: the migration runs under a session advisory lock, and each replica re-reads the
version after taking it. Times are ``timestamptz`` (stored to the second, as the SQLite
engine stores them), structured values ``jsonb``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from bot.errors import StorageError

#: first key of every advisory lock the bot takes (the second one says which): a number of
#: its own, so that the bot's locks never meet another application's on a shared server
LOCK_NAMESPACE = 0x6A70_6274  # "jpbt"
#: second keys of the advisory locks (bot.storage.postgres.articles/ledger use the others)
MIGRATION_LOCK = 1

MIGRATIONS: list[str] = [
    # 1: everything the SQLite engine has at its version 6, in PostgreSQL's types
    """
    CREATE TABLE feeds (
        name text PRIMARY KEY,
        config_url text NOT NULL,
        url text NOT NULL,
        title text,
        etag text,
        last_modified text,
        body_hash text,
        first_polled timestamptz,
        last_attempt timestamptz,
        last_success timestamptz,
        last_new timestamptz,
        last_error_kind text,
        last_error_message text,
        last_error_at timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0,
        next_poll timestamptz,
        not_before timestamptz,
        warnings jsonb NOT NULL DEFAULT '[]'
    );
    CREATE TABLE articles (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        feed text NOT NULL,
        entry_id text NOT NULL,
        canonical_link text NOT NULL,
        fingerprint text,
        title text NOT NULL,
        link text NOT NULL,
        summary text NOT NULL,
        published timestamptz NOT NULL,
        date_source text NOT NULL,
        updated timestamptz,
        language text NOT NULL,
        authors jsonb NOT NULL DEFAULT '[]',
        tags jsonb NOT NULL DEFAULT '[]',
        content_hash text NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        edited_at timestamptz,
        backlog boolean NOT NULL DEFAULT false,
        flagged boolean NOT NULL DEFAULT false,
        score integer,
        topics jsonb NOT NULL DEFAULT '[]',
        reasons jsonb NOT NULL DEFAULT '[]',
        matched_at timestamptz
    );
    CREATE INDEX articles_canonical ON articles (canonical_link);
    CREATE INDEX articles_fingerprint ON articles (feed, fingerprint);
    CREATE INDEX articles_published ON articles (published, id);
    CREATE INDEX articles_flagged ON articles (flagged, first_seen);
    CREATE INDEX articles_arrivals ON articles (feed, first_seen) WHERE NOT backlog;
    -- seq orders a story's sources (first seen first) where SQLite uses its rowid
    CREATE TABLE entries (
        feed text NOT NULL,
        entry_id text NOT NULL,
        article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        link text NOT NULL,
        first_seen timestamptz NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (feed, entry_id)
    );
    CREATE INDEX entries_article ON entries (article_id);
    CREATE TABLE subscriptions (
        key text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        channel_id text,
        last_delivered_at timestamptz,
        last_digest_id bigint,
        last_error_code text,
        last_error text,
        last_error_at timestamptz
    );
    CREATE TABLE digests (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subscription text NOT NULL REFERENCES subscriptions (key),
        kind text NOT NULL,
        created_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        articles integer NOT NULL DEFAULT 0,
        delivered_at timestamptz,
        failures integer NOT NULL DEFAULT 0,
        last_error text
    );
    CREATE INDEX digests_pending ON digests (subscription, status);
    CREATE TABLE digest_messages (
        digest_id bigint NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        payload jsonb NOT NULL,
        channel_id text,
        ts text,
        sent_at timestamptz,
        PRIMARY KEY (digest_id, seq)
    );
    CREATE TABLE deliveries (
        subscription text NOT NULL,
        article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        digest_id bigint REFERENCES digests (id) ON DELETE CASCADE,
        state text NOT NULL,
        PRIMARY KEY (subscription, article_id)
    );
    CREATE INDEX deliveries_article ON deliveries (article_id);
    CREATE INDEX deliveries_digest ON deliveries (digest_id);
    CREATE TABLE parked_articles (
        subscription text NOT NULL,
        article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        digest_id bigint NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
        times integer NOT NULL DEFAULT 1,
        PRIMARY KEY (subscription, article_id)
    );
    CREATE TABLE notices (
        key text PRIMARY KEY,
        last_sent timestamptz NOT NULL
    );
    CREATE TABLE heartbeat (
        id integer PRIMARY KEY CHECK (id = 1),
        at timestamptz NOT NULL
    );
    CREATE TABLE leases (
        name text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL
    );
    """,
    # 2: SQLite stores copied in by `migrate-store` (what makes a second run a no-op)
    """
    CREATE TABLE imports (
        source text PRIMARY KEY,
        imported_at timestamptz NOT NULL,
        max_article_id bigint NOT NULL,
        max_digest_id bigint NOT NULL
    );
    """,
    # 3: full text of thin entries (SQLite's version 7)
    """
    ALTER TABLE articles ADD COLUMN decided_by text NOT NULL DEFAULT 'feed';
    ALTER TABLE articles ADD COLUMN full_text text;
    ALTER TABLE articles ADD COLUMN full_text_outcome text;
    ALTER TABLE articles ADD COLUMN full_text_detail text;
    ALTER TABLE articles ADD COLUMN full_text_at timestamptz;
    """,
    # 4: what the Slack app changes (SQLite's version 8): subscriptions and feeds made from
    # Slack, feedback on stories (one vote per person, article and subscription), muted
    # sources, the audit log, per-workspace settings. ids order rows that share a second.
    """
    CREATE TABLE app_subscriptions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE,
        channel_id text NOT NULL,
        rule text,
        schedule text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        team_id text
    );
    CREATE TABLE app_feeds (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE,
        url text NOT NULL UNIQUE,
        tags jsonb NOT NULL DEFAULT '[]',
        added_by text NOT NULL,
        added_at timestamptz NOT NULL
    );
    CREATE TABLE feedback (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        subscription text NOT NULL,
        user_id text NOT NULL,
        verdict text NOT NULL CHECK (verdict IN ('relevant', 'not_relevant')),
        at timestamptz NOT NULL,
        UNIQUE (article_id, subscription, user_id)
    );
    CREATE INDEX feedback_subscription ON feedback (subscription, at);
    CREATE TABLE muted_feeds (
        subscription text NOT NULL,
        feed text NOT NULL,
        muted_by text NOT NULL,
        muted_at timestamptz NOT NULL,
        PRIMARY KEY (subscription, feed)
    );
    CREATE TABLE audit (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        user_id text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail text NOT NULL DEFAULT '',
        channel_id text
    );
    CREATE INDEX audit_at ON audit (at, id);
    CREATE INDEX audit_channel ON audit (channel_id, at, id);
    CREATE TABLE workspace_settings (
        team_id text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (team_id, key)
    );
    """,
]


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The newest applied version, 0 for an empty database. Only reads: a database that
    is already current opens even where writes are refused (a standby)."""
    cur = conn.cursor(row_factory=tuple_row)
    row = cur.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any], location: str) -> int:
    """Bring the database to the newest version (``conn`` is in autocommit mode); returns
    the version. Raises StorageError for a database newer than this bot."""
    version = _check(schema_version(conn), location)
    if version == len(MIGRATIONS):
        return version
    # Another replica may be migrating right now: wait for it, then look again.
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, MIGRATION_LOCK))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = _check(schema_version(conn), location)
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with conn.transaction():
                conn.execute(script)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
            version = number
    finally:
        # a lost connection has released it already; its error is the one to report
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, MIGRATION_LOCK))
    return version


def _check(version: int, location: str) -> int:
    if version > len(MIGRATIONS):
        raise StorageError(
            f"{location} has schema version {version}, newer than this bot knows "
            f"({len(MIGRATIONS)}): upgrade the bot, or point database_url at another database"
        )
    return version
