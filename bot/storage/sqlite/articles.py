"""Articles, their entries (every feed and entry id that points at each), and the matcher's
decision about each (SQLite). What is new is decided by bot.ingest.identity, not here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.ingest.identity import (
    Alias,
    Edit,
    Insert,
    Intent,
    Known,
    KnownArticle,
    Seen,
    TakeMatch,
    fingerprint,
    links_to_look_up,
)
from bot.models import Article, FullText, GroupScore, Match
from bot.storage.base import Decider
from bot.storage.records import DecidedBy, StoredArticle, StoreResult
from bot.storage.sqlite.connection import SqliteMixin, dt, iso

#: host parameters per IN (...) list; SQLite's default limit is far above this
CHUNK = 500


def match_columns(
    match: Match | None, now: datetime
) -> tuple[int, int | None, str, str, str | None]:
    """(flagged, score, topics, reasons, matched_at) as stored."""
    if match is None:
        return 0, None, "[]", "[]", None
    return (
        int(match.flagged),
        match.score,
        json.dumps(list(match.topics)),
        json.dumps([r.to_json() for r in match.reasons], ensure_ascii=False, separators=(",", ":")),
        iso(now),
    )


def match_from_row(row: sqlite3.Row) -> Match | None:
    if row["matched_at"] is None:
        return None
    return Match(
        flagged=bool(row["flagged"]),
        score=int(row["score"] or 0),
        topics=tuple(json.loads(row["topics"])),
        reasons=tuple(GroupScore.from_json(r) for r in json.loads(row["reasons"])),
    )


def full_text_from_row(row: sqlite3.Row) -> FullText | None:
    fetched_at = dt(row["full_text_at"])
    if fetched_at is None:
        return None
    return FullText(
        outcome=row["full_text_outcome"],
        fetched_at=fetched_at,
        text=row["full_text"] or "",
        detail=row["full_text_detail"] or "",
    )


class ArticlesMixin(SqliteMixin):
    # -- storing a batch -------------------------------------------------------------

    def store_batch(
        self, feed: str, articles: Sequence[Article], decide: Decider, *, now: datetime
    ) -> StoreResult:
        with self.conn.transaction():
            intents = decide(self._known(feed, articles))
            return self._apply(feed, intents, now)

    def _known(self, feed: str, articles: Sequence[Article]) -> Known:
        """Everything the decider may ask about this batch, in a few batched queries: a cold
        poll of a thousand feeds stores tens of thousands of articles."""
        db = self.db
        by_entry: dict[str, sqlite3.Row] = {}
        ids = [a.entry_id for a in articles]
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                "SELECT e.entry_id, a.id, a.feed, a.content_hash, a.flagged FROM entries e"
                " JOIN articles a ON a.id = e.article_id"
                f" WHERE e.feed=? AND e.entry_id IN ({marks})",
                [feed, *chunk],
            ):
                by_entry[row["entry_id"]] = row
        unknown = [a for a in articles if a.entry_id not in by_entry]
        by_link = self._rows_where("canonical_link", links_to_look_up(unknown))
        prints = [p for a in unknown if (p := fingerprint(a))]
        by_print = self._rows_where("fingerprint", prints, feed=feed)
        # this feed's entry ids for every candidate article (the churn test)
        candidate_ids = {r["id"] for rows in (*by_link.values(), *by_print.values()) for r in rows}
        entry_ids: dict[int, set[str]] = {}
        for chunk in _chunks(sorted(candidate_ids)):
            marks = ",".join("?" * len(chunk))
            for article_id, entry_id in db.execute(
                "SELECT article_id, entry_id FROM entries"
                f" WHERE feed=? AND article_id IN ({marks})",
                [feed, *chunk],
            ):
                entry_ids.setdefault(article_id, set()).add(entry_id)

        def known(row: sqlite3.Row) -> KnownArticle:
            return KnownArticle(
                id=row["id"],
                feed=row["feed"],
                content_hash=row["content_hash"],
                flagged=bool(row["flagged"]),
                entry_ids=frozenset(entry_ids.get(row["id"], ())),
            )

        return Known(
            by_entry={k: known(r) for k, r in by_entry.items()},
            by_link={k: [known(r) for r in rows] for k, rows in by_link.items()},
            by_fingerprint={k: [known(r) for r in rows] for k, rows in by_print.items()},
        )

    def _rows_where(
        self, column: str, values: list[str], *, feed: str | None = None
    ) -> dict[str, list[sqlite3.Row]]:
        out: dict[str, list[sqlite3.Row]] = {}
        for chunk in _chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT id, feed, content_hash, flagged, {column} AS value FROM articles"
                f" WHERE {column} IN ({marks})"
            )
            params: list[str] = list(chunk)
            if feed is not None:
                sql += " AND feed=?"
                params.append(feed)
            for row in self.db.execute(sql + " ORDER BY id", params):
                out.setdefault(row["value"], []).append(row)
        return out

    def _apply(self, feed: str, intents: Sequence[Intent], now: datetime) -> StoreResult:
        db = self.db
        now_iso = iso(now)
        new: list[int] = []
        edited: list[int] = []
        seen: list[int] = []
        backlog = 0
        for intent in intents:
            if isinstance(intent, Insert):
                article_id = self._insert(intent, now)
                db.execute(
                    "INSERT INTO entries VALUES (?,?,?,?,?)",
                    (feed, intent.article.entry_id, article_id, intent.article.link, now_iso),
                )
                if intent.backlog:
                    backlog += 1
                else:
                    new.append(article_id)
            elif isinstance(intent, Alias):
                db.execute(
                    "INSERT OR IGNORE INTO entries VALUES (?,?,?,?,?)",
                    (feed, intent.entry_id, intent.article_id, intent.link, now_iso),
                )
            elif isinstance(intent, Edit):
                self._update(intent.article_id, intent.article, now)
                if intent.match is not None:
                    self._set_match(intent.article_id, intent.match, now)
                edited.append(intent.article_id)
            elif isinstance(intent, TakeMatch):
                self._set_match(intent.article_id, intent.match, now)
            elif isinstance(intent, Seen):
                seen.append(intent.article_id)
        db.executemany("UPDATE articles SET last_seen=? WHERE id=?", [(now_iso, i) for i in seen])
        return StoreResult(
            new=tuple(new),
            backlog=backlog,
            edited=tuple(edited),
            unchanged=len(seen) - len(edited),
        )

    def _insert(self, intent: Insert, now: datetime) -> int:
        article = intent.article
        cursor = self.db.execute(
            "INSERT INTO articles(feed, entry_id, canonical_link, fingerprint, title, link,"
            " summary, published, date_source, updated, language, authors, tags, content_hash,"
            " first_seen, last_seen, backlog, flagged, score, topics, reasons, matched_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.feed,
                article.entry_id,
                article.canonical_link,
                intent.fingerprint,
                article.title,
                article.link,
                article.summary,
                iso(article.published),
                article.date_source,
                iso(article.updated),
                article.language,
                json.dumps(article.authors, ensure_ascii=False),
                json.dumps(article.tags, ensure_ascii=False),
                article.content_hash,
                iso(now),
                iso(now),
                int(intent.backlog),
                *match_columns(intent.match, now),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _update(self, article_id: int, article: Article, now: datetime) -> None:
        # The first-seen time, backlog flag and delivery state are kept: an edit is never
        # news on its own.
        self.db.execute(
            "UPDATE articles SET title=?, link=?, summary=?, updated=?, authors=?, tags=?,"
            " content_hash=?, edited_at=? WHERE id=?",
            (
                article.title,
                article.link,
                article.summary,
                iso(article.updated),
                json.dumps(article.authors, ensure_ascii=False),
                json.dumps(article.tags, ensure_ascii=False),
                article.content_hash,
                iso(now),
                article_id,
            ),
        )

    def _set_match(
        self, article_id: int, match: Match, now: datetime, *, decided_by: DecidedBy = "feed"
    ) -> None:
        # A changed match is looked at again by every subscription that had passed over it;
        # one already in a digest stays there (an edit is never news on its own). A decision
        # made on the article's full text is not undone by an edit of the feed's thin text.
        db = self.db
        if decided_by == "feed":
            row = db.execute("SELECT decided_by FROM articles WHERE id=?", (article_id,)).fetchone()
            if row is not None and row[0] == "full_text":
                return
        db.execute("DELETE FROM deliveries WHERE article_id=? AND state='skipped'", (article_id,))
        flagged, score, topics, reasons, matched_at = match_columns(match, now)
        db.execute(
            "UPDATE articles SET flagged=?, score=?, topics=?, reasons=?, matched_at=?,"
            " decided_by=? WHERE id=?",
            (flagged, score, topics, reasons, matched_at, decided_by, article_id),
        )

    def record_full_text(
        self, article_id: int, full: FullText, match: Match | None, *, now: datetime
    ) -> None:
        with self.conn.transaction():
            self.db.execute(
                "UPDATE articles SET full_text=?, full_text_outcome=?, full_text_detail=?,"
                " full_text_at=? WHERE id=?",
                (
                    full.text or None,
                    full.outcome,
                    full.detail or None,
                    iso(full.fetched_at),
                    article_id,
                ),
            )
            if match is not None:
                self._set_match(article_id, match, now, decided_by="full_text")

    # -- reading -----------------------------------------------------------------------

    def articles(
        self,
        *,
        since: datetime | None = None,
        limit: int | None = None,
        ids: Iterable[int] | None = None,
        include_backlog: bool = True,
        flagged_only: bool = False,
    ) -> list[StoredArticle]:
        where, params = ["1=1"], []
        if flagged_only:
            where.append("flagged = 1")
        if since is not None:
            where.append("published >= ?")
            params.append(iso(since))
        if not include_backlog:
            where.append("backlog = 0")
        if ids is not None:
            id_list = list(ids)
            if not id_list:
                return []
            where.append(f"id IN ({','.join('?' * len(id_list))})")
            params += [str(i) for i in id_list]
        sql = f"SELECT * FROM articles WHERE {' AND '.join(where)} ORDER BY published DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._stored(self.db.execute(sql, params).fetchall())

    def _stored(self, rows: Sequence[sqlite3.Row]) -> list[StoredArticle]:
        """Rows of ``articles`` as records, with every feed that carried each (one query)."""
        links: dict[int, dict[str, str]] = {}
        ids = [row["id"] for row in rows]
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for article_id, feed, link in self.db.execute(
                f"SELECT article_id, feed, link FROM entries WHERE article_id IN ({marks})"
                " ORDER BY first_seen, rowid",
                chunk,
            ):
                links.setdefault(article_id, {}).setdefault(feed, link)
        out = []
        for row in rows:
            published, first_seen = dt(row["published"]), dt(row["first_seen"])
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
                updated=dt(row["updated"]),
                language=row["language"],
                authors=tuple(json.loads(row["authors"])),
                tags=tuple(json.loads(row["tags"])),
                content_hash=row["content_hash"],
            )
            seen_in = links.get(row["id"], {})
            out.append(
                StoredArticle(
                    id=row["id"],
                    article=article,
                    first_seen=first_seen,
                    edited_at=dt(row["edited_at"]),
                    backlog=bool(row["backlog"]),
                    sources=tuple(seen_in),
                    links=tuple(seen_in.items()),
                    match=match_from_row(row),
                    matched_at=dt(row["matched_at"]),
                    decided_by=row["decided_by"],
                    full_text=full_text_from_row(row),
                )
            )
        return out

    def flagged_among(self, ids: Sequence[int]) -> tuple[int, ...]:
        found: list[int] = []
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            found += [
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM articles WHERE flagged=1 AND id IN ({marks})", chunk
                )
            ]
        return tuple(found)

    def arrival_times(self, feed: str, limit: int = 30) -> list[datetime]:
        rows = self.db.execute(
            "SELECT first_seen FROM articles WHERE feed=? AND backlog=0"
            " ORDER BY first_seen DESC LIMIT ?",
            (feed, limit),
        ).fetchall()
        return [d for r in rows if (d := dt(r[0])) is not None]

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])


T = TypeVar("T", str, int)


def _chunks(values: list[T]) -> list[list[T]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
