"""SQLite storage: feeds' health and validators, articles, and where each was seen.

Identity rules (see README "How articles are deduplicated"):

- an entry is known by ``(feed, entry_id)``; every id ever seen is kept in ``entries`` so a
  reappearing entry is never new again;
- an unknown id whose canonical link is already stored is the same story: from another
  feed it becomes one more source; from the same feed it is GUID churn, unless the entry
  it would merge with is still in the same batch (then they are two items sharing a link);
- same feed, same title and same date under a new id and link is churn too;
- a known entry whose content changed is an edit: updated in place, never new.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from bot.errors import StorageError
from bot.match import MatchRecord
from bot.models import Article, FeedState

DB_FILE = "bot.sqlite3"

# One function per schema version; never edit a released step, add a new one.
_MIGRATIONS: list[str] = [
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
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# A query value that is a session token or a cache-buster, not an identity: long random
# letters and digits, or a long run of digits (a timestamp). ``id=123`` is kept.
_VOLATILE_VALUE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_-]{16,}$|^\d{10,}$")


def _without_tokens(url: str) -> str:
    page, _, query = url.partition("?")
    kept = [
        pair
        for pair in query.split("&")
        if pair and not _VOLATILE_VALUE.match(pair.partition("=")[2])
    ]
    return page + ("?" + "&".join(kept) if kept else "")


def _fingerprint(article: Article) -> str | None:
    """Same feed, same fingerprint, new id: GUID churn. A dated entry is known by its title
    and date; an undated one by its title and its link without the query, so a guid and
    link that carry a per-request token (``?sid=...``) do not make it new on every poll."""
    if not article.title:
        return None
    title = unicodedata.normalize("NFKC", article.title).casefold()
    if article.date_source == "first_seen":
        if not article.canonical_link:
            return None
        page = _without_tokens(article.canonical_link)
        return "u:" + hashlib.sha1(f"{title}\0{page}".encode()).hexdigest()
    key = f"{title}\0{article.published.isoformat()}"
    return hashlib.sha1(key.encode()).hexdigest()


@dataclass(frozen=True)
class StoreResult:
    """What storing one feed's batch changed."""

    new: tuple[int, ...] = ()
    backlog: int = 0
    edited: tuple[int, ...] = ()
    unchanged: int = 0


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its database id and where else it was seen."""

    id: int
    article: Article
    first_seen: datetime
    edited_at: datetime | None
    backlog: bool
    sources: tuple[str, ...]
    extra: dict[str, Any]
    #: (feed, link) for every feed that carried it, first seen first
    links: tuple[tuple[str, str], ...] = ()


def storage_error(path: Path | str, e: sqlite3.Error | OSError) -> StorageError:
    """What went wrong with the database, in words that say what to do."""
    text = str(e)
    lowered = text.lower()
    if "full" in lowered or (isinstance(e, OSError) and e.errno == 28):
        hint = (
            "the disk is full: free some space; nothing is lost, and polling and delivery "
            "resume by themselves"
        )
    elif "i/o error" in lowered or "file too large" in lowered:
        hint = "the disk refused a write: check free space and the volume's health"
    elif "locked" in lowered or "busy" in lowered:
        hint = "another process holds the database: is a second bot using this --data-dir?"
    elif "readonly" in lowered or "read-only" in lowered:
        hint = "the data directory is read-only: give the bot's user write access"
    elif "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        hint = (
            f"the database file is damaged: stop the bot, keep a copy of {path}, then either "
            f"recover it (sqlite3 {Path(path).name} .recover | sqlite3 recovered.sqlite3, and "
            "put the result in its place) or move it aside to start afresh"
        )
    else:
        hint = "the database refused the operation"
    return StorageError(f"{path}: {hint} ({text})")


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """sqlite3 errors leave the store as StorageError with a hint; nothing raw escapes."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise storage_error(self.path, e) from e

    return cast(_F, wrapper)


_S = TypeVar("_S", bound=type)


def _guard_public_methods(cls: _S) -> _S:
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and name != "transaction" and inspect.isfunction(value):
            setattr(cls, name, _guarded(value))
    return cls


@_guard_public_methods
class Store:
    """All reads and writes of the bot's state. One instance per process; every public
    method raises StorageError (never a raw sqlite3 error)."""

    def __init__(self, data_dir: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = data_dir / DB_FILE
        self._depth = 0
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StorageError(
                f"cannot open the database in {data_dir}: {storage_error(self.path, e)}"
            ) from e

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(_MIGRATIONS):
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this bot knows "
                f"({len(_MIGRATIONS)}); upgrade the bot or use another --data-dir"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one (so a use case can make
        several store calls atomic)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise storage_error(self.path, e) from e
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have ended it
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise storage_error(self.path, e) from e
        finally:
            self._depth = 0

    def heartbeat(self, now: datetime) -> None:
        """Write one row: /healthz proves the database takes writes (an empty transaction
        commits even on a full disk). Raises StorageError if it cannot."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO heartbeat(id, at) VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET at=excluded.at",
                (_iso(now),),
            )

    # -- feeds -----------------------------------------------------------------------

    def feed_state(self, name: str, config_url: str) -> FeedState:
        """The stored state of feed ``name``, created on first use. If the configured URL
        changed since, the stored URL and validators are reset to it."""
        row = self.db.execute("SELECT * FROM feeds WHERE name=?", (name,)).fetchone()
        if row is None or row["config_url"] != config_url:
            with self.transaction():
                # Upsert, not check-then-insert: another process may have created it.
                self.db.execute(
                    "INSERT INTO feeds(name, config_url, url) VALUES (?,?,?)"
                    " ON CONFLICT(name) DO NOTHING",
                    (name, config_url, config_url),
                )
                self.db.execute(
                    "UPDATE feeds SET config_url=?, url=?, etag=NULL, last_modified=NULL,"
                    " body_hash=NULL, not_before=NULL WHERE name=? AND config_url<>?",
                    (config_url, config_url, name, config_url),
                )
            row = self.db.execute("SELECT * FROM feeds WHERE name=?", (name,)).fetchone()
        return self._feed_from_row(row)

    def _feed_from_row(self, row: sqlite3.Row) -> FeedState:
        return FeedState(
            name=row["name"],
            url=row["url"],
            config_url=row["config_url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            first_polled=_dt(row["first_polled"]),
            last_attempt=_dt(row["last_attempt"]),
            last_success=_dt(row["last_success"]),
            last_new=_dt(row["last_new"]),
            last_error_kind=row["last_error_kind"],
            last_error_message=row["last_error_message"],
            last_error_at=_dt(row["last_error_at"]),
            consecutive_failures=row["consecutive_failures"],
            next_poll=_dt(row["next_poll"]),
            not_before=_dt(row["not_before"]),
        )

    def entry_counts(self) -> dict[str, int]:
        """Entries seen per feed, for display (one query; not on the polling path)."""
        return dict(self.db.execute("SELECT feed, COUNT(*) FROM entries GROUP BY feed").fetchall())

    def feed_warnings(self, name: str) -> list[str]:
        row = self.db.execute("SELECT warnings FROM feeds WHERE name=?", (name,)).fetchone()
        return list(json.loads(row["warnings"])) if row else []

    def all_feeds(self) -> list[FeedState]:
        rows = self.db.execute("SELECT * FROM feeds ORDER BY name").fetchall()
        return [self._feed_from_row(row) for row in rows]

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
        """A poll succeeded (200 or 304). Validators are saved only here, after the batch
        was stored, so a crash mid-poll refetches rather than skipping the body."""
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
            "now": _iso(now),
            "next_poll": _iso(next_poll),
            "not_before": _iso(not_before),
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
        with self.transaction():
            self.db.execute(f"UPDATE feeds SET {', '.join(sets)} WHERE name=:name", values)

    def record_failure(
        self,
        name: str,
        *,
        now: datetime,
        kind: str,
        message: str,
        next_poll: datetime,
    ) -> int:
        """A poll failed; returns the number of consecutive failures so far."""
        with self.transaction():
            self.db.execute(
                "UPDATE feeds SET last_attempt=?, last_error_kind=?, last_error_message=?,"
                " last_error_at=?, consecutive_failures=consecutive_failures+1, next_poll=?,"
                " not_before=? WHERE name=?",
                (_iso(now), kind, message, _iso(now), _iso(next_poll), _iso(next_poll), name),
            )
        row = self.db.execute(
            "SELECT consecutive_failures FROM feeds WHERE name=?", (name,)
        ).fetchone()
        return int(row[0])

    # -- articles --------------------------------------------------------------------

    def store_articles(
        self,
        feed: str,
        articles: Sequence[Article],
        *,
        now: datetime,
        first_poll: bool,
        backlog_window: timedelta,
        matches: Mapping[str, MatchRecord] | None = None,
    ) -> StoreResult:
        """Store one feed's parsed batch in one transaction (see the module docstring).
        ``matches`` (by entry id) are saved for new and edited articles; a story seen again
        in another feed takes that feed's match if only that one flags it.

        Lookups are batched per feed (known ids, canonical links, fingerprints): a cold poll
        of a thousand feeds stores tens of thousands of articles on the event loop's thread.
        Prefetching is exact because an article inserted from this batch can never be merged
        into by another entry of the same batch (its entry id is in the batch)."""
        matches = matches or {}
        cutoff = now - backlog_window
        now_iso = _iso(now)
        batch_ids = {a.entry_id for a in articles}
        fingerprints = {a.entry_id: _fingerprint(a) for a in articles}
        new: list[int] = []
        edited: list[int] = []
        seen: list[int] = []
        backlog = unchanged = 0
        with self.transaction() as db:
            known = self._known_entries(feed, list(batch_ids))
            unknown = [a for a in articles if a.entry_id not in known]
            by_link = self._rows_where(
                "canonical_link",
                [
                    a.canonical_link
                    for a in unknown
                    if a.canonical_link and not _is_site_root(a.canonical_link)
                ],
            )
            by_print = self._rows_where(
                "fingerprint", [f for a in unknown if (f := fingerprints[a.entry_id])], feed=feed
            )
            for article in articles:
                row = known.get(article.entry_id)
                if row is None:
                    candidates = by_link.get(article.canonical_link, []) + by_print.get(
                        fingerprints[article.entry_id] or "", []
                    )
                    row = self._same_story(feed, candidates, batch_ids)
                    if row is not None:
                        db.execute(
                            "INSERT OR IGNORE INTO entries VALUES (?,?,?,?,?)",
                            (feed, article.entry_id, row["id"], article.link, now_iso),
                        )
                if row is not None:
                    match = matches.get(article.entry_id)
                    same_feed = row["feed"] == feed
                    if same_feed and row["content_hash"] != article.content_hash:
                        self._update(row["id"], article, now)
                        if match is not None:
                            self._set_match(row["id"], match, now)
                        edited.append(row["id"])
                    else:
                        if not same_feed and match is not None:
                            self._upgrade_match(row["id"], match, now)
                        unchanged += 1
                    seen.append(row["id"])
                    continue
                is_backlog = first_poll and (
                    article.date_source == "first_seen" or article.published < cutoff
                )
                article_id = self._insert(
                    article,
                    now,
                    is_backlog,
                    matches.get(article.entry_id),
                    fingerprints[article.entry_id],
                )
                db.execute(
                    "INSERT INTO entries VALUES (?,?,?,?,?)",
                    (feed, article.entry_id, article_id, article.link, now_iso),
                )
                if is_backlog:
                    backlog += 1
                else:
                    new.append(article_id)
            db.executemany(
                "UPDATE articles SET last_seen=? WHERE id=?", [(now_iso, i) for i in seen]
            )
        return StoreResult(
            new=tuple(new), backlog=backlog, edited=tuple(edited), unchanged=unchanged
        )

    _CHUNK = 500  # SQLite's default limit on host parameters is far above this

    def _known_entries(self, feed: str, entry_ids: list[str]) -> dict[str, sqlite3.Row]:
        out: dict[str, sqlite3.Row] = {}
        for i in range(0, len(entry_ids), self._CHUNK):
            chunk = entry_ids[i : i + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                "SELECT e.entry_id, a.id, a.feed, a.content_hash FROM entries e JOIN articles a"
                f" ON a.id = e.article_id WHERE e.feed=? AND e.entry_id IN ({marks})",
                [feed, *chunk],
            ):
                out[row["entry_id"]] = row
        return out

    def _rows_where(
        self, column: str, values: list[str], *, feed: str | None = None
    ) -> dict[str, list[sqlite3.Row]]:
        """Articles whose ``column`` is one of ``values`` (optionally of one feed), by value."""
        out: dict[str, list[sqlite3.Row]] = {}
        unique = sorted(set(values))
        for i in range(0, len(unique), self._CHUNK):
            chunk = unique[i : i + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT id, feed, content_hash, {column} AS value FROM articles"
                f" WHERE {column} IN ({marks})"
            )
            params: list[str] = list(chunk)
            if feed is not None:
                sql += " AND feed=?"
                params.append(feed)
            for row in self.db.execute(sql + " ORDER BY id", params):
                out.setdefault(row["value"], []).append(row)
        return out

    def _same_story(
        self, feed: str, candidates: list[sqlite3.Row], batch_ids: set[str]
    ) -> sqlite3.Row | None:
        for row in candidates:
            if row["feed"] != feed:
                return row
            # Same feed: churn only if the entry it replaces is gone from this batch.
            ids = {
                r[0]
                for r in self.db.execute(
                    "SELECT entry_id FROM entries WHERE article_id=? AND feed=?", (row["id"], feed)
                )
            }
            if not ids & batch_ids:
                return row
        return None

    def _insert(
        self,
        article: Article,
        now: datetime,
        backlog: bool,
        match: MatchRecord | None,
        fingerprint: str | None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO articles(feed, entry_id, canonical_link, fingerprint, title, link,"
            " summary, published, date_source, updated, language, authors, tags, content_hash,"
            " first_seen, last_seen, backlog, flagged, score, topics, reasons, matched_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.feed,
                article.entry_id,
                article.canonical_link,
                fingerprint,
                article.title,
                article.link,
                article.summary,
                _iso(article.published),
                article.date_source,
                _iso(article.updated),
                article.language,
                json.dumps(article.authors, ensure_ascii=False),
                json.dumps(article.tags, ensure_ascii=False),
                article.content_hash,
                _iso(now),
                _iso(now),
                int(backlog),
                int(match.flagged) if match else 0,
                match.score if match else None,
                match.topics_json if match else "[]",
                match.reasons_json if match else "[]",
                _iso(now) if match else None,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _update(self, article_id: int, article: Article, now: datetime) -> None:
        # The first-seen time, backlog flag and (later) delivery state are kept: an edit
        # is never news on its own.
        self.db.execute(
            "UPDATE articles SET title=?, link=?, summary=?, updated=?, authors=?, tags=?,"
            " content_hash=?, edited_at=? WHERE id=?",
            (
                article.title,
                article.link,
                article.summary,
                _iso(article.updated),
                json.dumps(article.authors, ensure_ascii=False),
                json.dumps(article.tags, ensure_ascii=False),
                article.content_hash,
                _iso(now),
                article_id,
            ),
        )

    def _set_match(self, article_id: int, match: MatchRecord, now: datetime) -> None:
        # A changed match is looked at again by every subscription that had passed over it;
        # one already in a digest stays there (an edit is never news on its own).
        self.db.execute(
            "DELETE FROM deliveries WHERE article_id=? AND state='skipped'", (article_id,)
        )
        self.db.execute(
            "UPDATE articles SET flagged=?, score=?, topics=?, reasons=?, matched_at=? WHERE id=?",
            (
                int(match.flagged),
                match.score,
                match.topics_json,
                match.reasons_json,
                _iso(now),
                article_id,
            ),
        )

    def _upgrade_match(self, article_id: int, match: MatchRecord, now: datetime) -> None:
        """Another feed's copy of a stored story flags it where the first copy did not (a
        ministry feed's tag, a fuller summary): take that match. A story already flagged
        keeps its own reasons, which describe the text that is shown."""
        row = self.db.execute("SELECT flagged FROM articles WHERE id=?", (article_id,)).fetchone()
        if match.flagged and not row["flagged"]:
            self._set_match(article_id, match, now)

    def articles(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        ids: Iterable[int] | None = None,
        include_backlog: bool = True,
        flagged_only: bool = False,
    ) -> list[StoredArticle]:
        """Stored articles, newest published first."""
        where, params = ["1=1"], []
        if flagged_only:
            where.append("flagged = 1")
        if since is not None:
            where.append("published >= ?")
            params.append(_iso(since))
        if not include_backlog:
            where.append("backlog = 0")
        if ids is not None:
            id_list = list(ids)
            where.append(f"id IN ({','.join('?' * len(id_list))})")
            params += [str(i) for i in id_list]
        sql = f"SELECT * FROM articles WHERE {' AND '.join(where)} ORDER BY published DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._article_from_row(row) for row in self.db.execute(sql, params)]

    def _article_from_row(self, row: sqlite3.Row) -> StoredArticle:
        links: dict[str, str] = {}
        for feed, link in self.db.execute(
            "SELECT feed, link FROM entries WHERE article_id=? ORDER BY first_seen, rowid",
            (row["id"],),
        ):
            links.setdefault(feed, link)
        sources = tuple(links)
        published = _dt(row["published"])
        first_seen = _dt(row["first_seen"])
        assert published is not None and first_seen is not None
        article = Article(
            feed=row["feed"],
            entry_id=row["entry_id"],
            title=row["title"],
            link=row["link"],
            canonical_link=row["canonical_link"],
            summary=row["summary"],
            published=published,
            date_source=row["date_source"],
            updated=_dt(row["updated"]),
            language=row["language"],
            authors=tuple(json.loads(row["authors"])),
            tags=tuple(json.loads(row["tags"])),
            content_hash=row["content_hash"],
        )
        return StoredArticle(
            id=row["id"],
            article=article,
            first_seen=first_seen,
            edited_at=_dt(row["edited_at"]),
            backlog=bool(row["backlog"]),
            sources=sources,
            links=tuple(links.items()),
            # sqlite3.Row iterates values, not keys: .keys() is required here.
            extra={k: row[k] for k in row.keys() if k not in _BASE_COLUMNS},  # noqa: SIM118
        )

    def flagged_among(self, ids: Sequence[int]) -> tuple[int, ...]:
        """Which of the article ``ids`` are flagged."""
        if not ids:
            return ()
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT id FROM articles WHERE flagged=1 AND id IN ({marks})", [*ids]
        ).fetchall()
        return tuple(r[0] for r in rows)

    # -- delivery ledger and outbox ------------------------------------------------------

    def ensure_subscription(self, key: str, *, start: datetime) -> datetime:
        """The time from which ``key`` receives articles; set to ``start`` the first time."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO subscriptions(key, started_at) VALUES (?, ?)",
                (key, _iso(start)),
            )
        row = self.db.execute("SELECT started_at FROM subscriptions WHERE key=?", (key,)).fetchone()
        started = _dt(row[0])
        assert started is not None
        return started

    def subscription_start(self, key: str) -> datetime | None:
        row = self.db.execute("SELECT started_at FROM subscriptions WHERE key=?", (key,)).fetchone()
        return _dt(row[0]) if row else None

    def undelivered(self, key: str, *, since: datetime) -> list[StoredArticle]:
        """Matched, non-backlog articles first seen since ``since`` that ``key`` has neither
        put in a digest nor passed over."""
        rows = self.db.execute(
            "SELECT * FROM articles a WHERE a.backlog=0 AND a.matched_at IS NOT NULL"
            " AND a.first_seen >= ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
            " WHERE d.subscription=? AND d.article_id=a.id) ORDER BY a.id",
            (_iso(since), key),
        ).fetchall()
        return [self._article_from_row(row) for row in rows]

    def skip(self, key: str, article_ids: Iterable[int]) -> None:
        """Record that ``key``'s rule passed over these articles (until their match changes)."""
        with self.transaction():
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
        payloads: Sequence[str],
        article_ids: Sequence[int],
    ) -> int:
        """Put a rendered digest in the outbox and assign its articles to it, atomically:
        from here on the articles belong to this digest, sent or not."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO digests(subscription, kind, created_at, articles) VALUES (?,?,?,?)",
                (key, kind, _iso(now), len(article_ids)),
            )
            digest_id = cursor.lastrowid
            assert digest_id is not None
            self.db.executemany(
                "INSERT INTO digest_messages(digest_id, seq, payload) VALUES (?,?,?)",
                [(digest_id, seq, payload) for seq, payload in enumerate(payloads)],
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
                OutboxMessage(r["seq"], r["payload"], r["channel_id"], r["ts"])
                for r in self.db.execute(
                    "SELECT * FROM digest_messages WHERE digest_id=? ORDER BY seq", (d["id"],)
                )
            )
            created = _dt(d["created_at"])
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
        with self.transaction():
            self.db.execute(
                "UPDATE digest_messages SET channel_id=?, ts=?, sent_at=?"
                " WHERE digest_id=? AND seq=?",
                (channel_id, ts, _iso(now), digest_id, seq),
            )

    def start_attempt(self, digest_id: int) -> None:
        with self.transaction():
            self.db.execute("UPDATE digests SET attempts=attempts+1 WHERE id=?", (digest_id,))

    def finish_digest(
        self, key: str, digest_id: int, *, now: datetime, channel_id: str | None
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status='sent', delivered_at=? WHERE id=?",
                (_iso(now), digest_id),
            )
            self.db.execute(
                "UPDATE subscriptions SET last_delivered_at=?, last_digest_id=?,"
                " channel_id=COALESCE(?, channel_id), last_error_code=NULL, last_error=NULL"
                " WHERE key=?",
                (_iso(now), digest_id, channel_id, key),
            )

    def record_digest_failure(self, digest_id: int, *, code: str, message: str) -> int:
        """Slack refused this digest's message itself (not the destination); returns how
        many times it has been refused."""
        with self.transaction():
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
        with self.transaction():
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
            created = _dt(d["created_at"])
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
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status=?, failures=0 WHERE id=?", (status, digest_id)
            )

    def replace_digest(self, digest_id: int, payloads: Sequence[str]) -> None:
        """Re-rendered messages for a digest none of whose messages went out; it is pending
        again."""
        with self.transaction():
            self.db.execute("DELETE FROM digest_messages WHERE digest_id=?", (digest_id,))
            self.db.executemany(
                "INSERT INTO digest_messages(digest_id, seq, payload) VALUES (?,?,?)",
                [(digest_id, seq, payload) for seq, payload in enumerate(payloads)],
            )
            self.db.execute(
                "UPDATE digests SET status='pending', failures=0, last_error=NULL,"
                " articles=(SELECT COUNT(*) FROM deliveries WHERE digest_id=?) WHERE id=?",
                (digest_id, digest_id),
            )

    def record_delivery_error(self, key: str, *, code: str, message: str, now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE subscriptions SET last_error_code=?, last_error=?, last_error_at=?"
                " WHERE key=?",
                (code, message, _iso(now), key),
            )

    def last_delivered(self, key: str, kind: str = "digest") -> datetime | None:
        row = self.db.execute(
            "SELECT MAX(delivered_at) FROM digests"
            " WHERE subscription=? AND kind=? AND status='sent'",
            (key, kind),
        ).fetchone()
        return _dt(row[0])

    def channel_id(self, key: str) -> str | None:
        row = self.db.execute("SELECT channel_id FROM subscriptions WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def remember_channel(self, key: str, channel_id: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE subscriptions SET channel_id=? WHERE key=?", (channel_id, key))

    def subscription_status(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM subscriptions WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        last = None
        if row["last_digest_id"]:
            d = self.db.execute(
                "SELECT * FROM digests WHERE id=?", (row["last_digest_id"],)
            ).fetchone()
            last = {
                "id": d["id"],
                "kind": d["kind"],
                "articles": d["articles"],
                "delivered_at": d["delivered_at"],
            }
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
        return {
            "started_at": row["started_at"],
            "last_delivered_at": row["last_delivered_at"],
            "last_digest": last,
            "pending_digests": pending[0],
            "pending_articles": pending[1],
            "pending_messages": unsent,
            "last_error": (
                {
                    "code": row["last_error_code"],
                    "message": row["last_error"],
                    "at": row["last_error_at"],
                }
                if row["last_error_code"]
                else None
            ),
        }

    def arrival_times(self, feed: str, limit: int = 30) -> list[datetime]:
        """When the feed's most recent new (non-backlog) articles were first seen."""
        rows = self.db.execute(
            "SELECT first_seen FROM articles WHERE feed=? AND backlog=0"
            " ORDER BY first_seen DESC LIMIT ?",
            (feed, limit),
        ).fetchall()
        return [d for r in rows if (d := _dt(r[0])) is not None]

    def notice_due(self, key: str, *, now: datetime, repeat_after: timedelta) -> bool:
        row = self.db.execute("SELECT last_sent FROM notices WHERE key=?", (key,)).fetchone()
        last = _dt(row[0]) if row else None
        return last is None or now - last >= repeat_after

    def record_notice(self, key: str, *, now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO notices(key, last_sent) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET last_sent=excluded.last_sent",
                (key, _iso(now)),
            )

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    payload: str
    channel_id: str | None
    ts: str | None


@dataclass(frozen=True)
class OutboxDigest:
    """A digest in the outbox, as ``python -m bot outbox`` lists it."""

    id: int
    subscription: str
    kind: str
    status: str
    created_at: datetime
    attempts: int
    failures: int
    last_error: str | None
    articles: int
    messages_sent: int


@dataclass(frozen=True)
class PendingDigest:
    id: int
    subscription: str
    kind: str
    created_at: datetime
    attempts: int
    articles: int
    messages: tuple[OutboxMessage, ...]


_BASE_COLUMNS = frozenset(
    {
        "id", "feed", "entry_id", "canonical_link", "fingerprint", "title", "link", "summary",
        "published", "date_source", "updated", "language", "authors", "tags", "content_hash",
        "first_seen", "last_seen", "edited_at", "backlog",
    }
)  # fmt: skip


def _is_site_root(url: str) -> bool:
    # Feeds that point every item at their home page must not collapse into one article.
    rest = url.split("://", 1)[-1]
    return "/" not in rest.rstrip("/") and "?" not in rest


Clock = Callable[[], datetime]
