"""The SQLite schema, one script per version; never edit a released step, add a new one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: feeds, articles, entry aliases
    """
    CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        config_url TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        first_polled TEXT,
        last_attempt TEXT,
        last_success TEXT,
        last_new TEXT,
        last_error_kind TEXT,
        last_error_message TEXT,
        last_error_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_poll TEXT,
        not_before TEXT,
        warnings TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        feed TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        canonical_link TEXT NOT NULL,
        fingerprint TEXT,
        title TEXT NOT NULL,
        link TEXT NOT NULL,
        summary TEXT NOT NULL,
        published TEXT NOT NULL,
        date_source TEXT NOT NULL,
        updated TEXT,
        language TEXT NOT NULL,
        authors TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        content_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        edited_at TEXT,
        backlog INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX articles_canonical ON articles(canonical_link);
    CREATE INDEX articles_fingerprint ON articles(feed, fingerprint);
    CREATE INDEX articles_published ON articles(published);
    CREATE TABLE entries (
        feed TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        link TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (feed, entry_id)
    );
    CREATE INDEX entries_article ON entries(article_id);
    """,
    # 2: what the matcher decided, and why
    """
    ALTER TABLE articles ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN score INTEGER;
    ALTER TABLE articles ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE articles ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE articles ADD COLUMN matched_at TEXT;
    CREATE INDEX articles_flagged ON articles(flagged, first_seen);
    """,
    # 3: the delivery ledger and the outbox
    """
    CREATE TABLE subscriptions (
        key TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        channel_id TEXT,
        last_delivered_at TEXT,
        last_digest_id INTEGER,
        last_error_code TEXT,
        last_error TEXT,
        last_error_at TEXT
    );
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        subscription TEXT NOT NULL REFERENCES subscriptions(key),
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        articles INTEGER NOT NULL DEFAULT 0,
        delivered_at TEXT
    );
    CREATE INDEX digests_pending ON digests(subscription, status);
    CREATE TABLE digest_messages (
        digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        payload TEXT NOT NULL,
        channel_id TEXT,
        ts TEXT,
        sent_at TEXT,
        PRIMARY KEY (digest_id, seq)
    );
    CREATE TABLE deliveries (
        subscription TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        digest_id INTEGER REFERENCES digests(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        PRIMARY KEY (subscription, article_id)
    );
    CREATE INDEX deliveries_article ON deliveries(article_id);
    """,
    # 4: reports already sent to the admin destination
    """
    CREATE TABLE notices (
        key TEXT PRIMARY KEY,
        last_sent TEXT NOT NULL
    );
    """,
    # 5: digests Slack refuses are parked, not retried forever; a heartbeat for /healthz
    """
    ALTER TABLE digests ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE digests ADD COLUMN last_error TEXT;
    CREATE TABLE parked_articles (
        subscription TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
        times INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (subscription, article_id)
    );
    CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at TEXT NOT NULL
    );
    """,
    # 6: leases (claims that expire), the same shape as the PostgreSQL engine's
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
    # 7: full text of thin entries: the article's main text, what came of fetching it, and
    # whether the decision was made on it
    """
    ALTER TABLE articles ADD COLUMN decided_by TEXT NOT NULL DEFAULT 'feed';
    ALTER TABLE articles ADD COLUMN full_text TEXT;
    ALTER TABLE articles ADD COLUMN full_text_outcome TEXT;
    ALTER TABLE articles ADD COLUMN full_text_detail TEXT;
    ALTER TABLE articles ADD COLUMN full_text_at TEXT;
    """,
    # 8: what the Slack app changes: subscriptions and feeds made from Slack, feedback on
    # stories (one vote per person, article and subscription), muted sources, the audit
    # log, per-workspace settings. ids order rows that share a second.
    """
    CREATE TABLE app_subscriptions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        channel_id TEXT NOT NULL,
        rule TEXT,
        schedule TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        team_id TEXT
    );
    CREATE TABLE app_feeds (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL UNIQUE,
        tags TEXT NOT NULL DEFAULT '[]',
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        subscription TEXT NOT NULL,
        user_id TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('relevant', 'not_relevant')),
        at TEXT NOT NULL,
        UNIQUE (article_id, subscription, user_id)
    );
    CREATE INDEX feedback_subscription ON feedback(subscription, at);
    CREATE TABLE muted_feeds (
        subscription TEXT NOT NULL,
        feed TEXT NOT NULL,
        muted_by TEXT NOT NULL,
        muted_at TEXT NOT NULL,
        PRIMARY KEY (subscription, feed)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user_id TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        channel_id TEXT
    );
    CREATE INDEX audit_at ON audit(at, id);
    CREATE INDEX audit_channel ON audit(channel_id, at, id);
    CREATE TABLE workspace_settings (
        team_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (team_id, key)
    );
    """,
]
