"""Articles, their entries (every feed and entry id that points at each), and the matcher's
decision about each (PostgreSQL). What is new is decided by bot.ingest.identity, not here.

Replicas store batches at the same time, and two feeds may carry the same story at once:
storing a batch (gather what is known, decide, apply) holds a transaction advisory lock, so
that one batch's decision always sees the other's articles. The lock is held from the first
lookup to the commit; the writes go in one pipeline (one round trip) to keep that short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

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
from bot.storage.postgres.connection import PostgresMixin, dt, ts
from bot.storage.postgres.schema import LOCK_NAMESPACE
from bot.storage.records import DecidedBy, StoredArticle, StoreResult

#: second key of the advisory lock that serialises store_batch across replicas
STORE_LOCK = 2


def match_columns(match: Match | None, now: datetime) -> dict[str, Any]:
    """flagged, score, topics, reasons and matched_at as stored."""
    if match is None:
        return {
            "flagged": False,
            "score": None,
            "topics": Jsonb([]),
            "reasons": Jsonb([]),
            "matched_at": None,
        }
    return {
        "flagged": match.flagged,
        "score": match.score,
        "topics": Jsonb(list(match.topics)),
        "reasons": Jsonb([r.to_json() for r in match.reasons]),
        "matched_at": ts(now),
    }


def match_from_row(row: DictRow) -> Match | None:
    if row["matched_at"] is None:
        return None
    return Match(
        flagged=bool(row["flagged"]),
        score=int(row["score"] or 0),
        topics=tuple(row["topics"]),
        reasons=tuple(GroupScore.from_json(r) for r in row["reasons"]),
    )


def full_text_from_row(row: DictRow) -> FullText | None:
    fetched_at = dt(row["full_text_at"])
    if fetched_at is None:
        return None
    return FullText(
        outcome=row["full_text_outcome"],
        fetched_at=fetched_at,
        text=row["full_text"] or "",
        detail=row["full_text_detail"] or "",
    )


_INSERT = (
    "WITH a AS (INSERT INTO articles (feed, entry_id, canonical_link, fingerprint, title,"
    " link, summary, published, date_source, updated, language, authors, tags, content_hash,"
    " first_seen, last_seen, backlog, flagged, score, topics, reasons, matched_at)"
    " VALUES (%(feed)s, %(entry_id)s, %(canonical_link)s, %(fingerprint)s, %(title)s,"
    " %(link)s, %(summary)s, %(published)s, %(date_source)s, %(updated)s, %(language)s,"
    " %(authors)s, %(tags)s, %(content_hash)s, %(now)s, %(now)s, %(backlog)s, %(flagged)s,"
    " %(score)s, %(topics)s, %(reasons)s, %(matched_at)s) RETURNING id)"
    " INSERT INTO entries (feed, entry_id, article_id, link, first_seen)"
    " SELECT %(batch_feed)s, %(entry_id)s, a.id, %(link)s, %(now)s FROM a RETURNING article_id"
)


class ArticlesMixin(PostgresMixin):
    # -- storing a batch -------------------------------------------------------------

    def store_batch(
        self, feed: str, articles: Sequence[Article], decide: Decider, *, now: datetime
    ) -> StoreResult:
        # Held until the transaction ends (the caller's, if this runs inside one).
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, STORE_LOCK))
        intents = decide(self._known(feed, articles))
        return self._apply(feed, intents, now)

    def _known(self, feed: str, articles: Sequence[Article]) -> Known:
        """Everything the decider may ask about this batch, in a few batched queries: a cold
        poll of a thousand feeds stores tens of thousands of articles."""
        conn = self.conn
        by_entry: dict[str, DictRow] = {}
        ids = [a.entry_id for a in articles]
        if ids:
            for row in conn.execute(
                "SELECT e.entry_id, a.id, a.feed, a.content_hash, a.flagged FROM entries e"
                " JOIN articles a ON a.id = e.article_id"
                " WHERE e.feed = %s AND e.entry_id = ANY(%s)",
                (feed, ids),
            ):
                by_entry[row["entry_id"]] = row
        unknown = [a for a in articles if a.entry_id not in by_entry]
        by_link = self._rows_where("canonical_link", links_to_look_up(unknown))
        prints = [p for a in unknown if (p := fingerprint(a))]
        by_print = self._rows_where("fingerprint", prints, feed=feed)
        # this feed's entry ids for every candidate article (the churn test)
        candidate_ids = {r["id"] for rows in (*by_link.values(), *by_print.values()) for r in rows}
        entry_ids: dict[int, set[str]] = {}
        if candidate_ids:
            for row in conn.execute(
                "SELECT article_id, entry_id FROM entries WHERE feed = %s AND article_id = ANY(%s)",
                (feed, sorted(candidate_ids)),
            ):
                entry_ids.setdefault(row["article_id"], set()).add(row["entry_id"])

        def known(row: DictRow) -> KnownArticle:
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
    ) -> dict[str, list[DictRow]]:
        """Articles whose ``column`` is one of ``values``, by value, oldest first."""
        out: dict[str, list[DictRow]] = {}
        if not values:
            return out
        where: list[sql.Composable] = [sql.SQL("{} = ANY(%s)").format(sql.Identifier(column))]
        params: list[Any] = [sorted(set(values))]
        if feed is not None:
            where.append(sql.SQL("feed = %s"))
            params.append(feed)
        query = sql.SQL(
            "SELECT id, feed, content_hash, flagged, {} AS value FROM articles WHERE {} ORDER BY id"
        ).format(sql.Identifier(column), sql.SQL(" AND ").join(where))
        for row in self.conn.execute(query, params):
            out.setdefault(row["value"], []).append(row)
        return out

    def _apply(self, feed: str, intents: Sequence[Intent], now: datetime) -> StoreResult:
        conn = self.conn
        stamp = ts(now)
        inserted: list[tuple[Any, bool]] = []  # (cursor, backlog), in the batch's order
        edited: list[int] = []
        seen: list[int] = []
        # One round trip for the whole batch: the results are read after the pipeline.
        with conn.pipeline():
            for intent in intents:
                if isinstance(intent, Insert):
                    cursor = conn.execute(_INSERT, self._insert_params(feed, intent, now))
                    inserted.append((cursor, intent.backlog))
                elif isinstance(intent, Alias):
                    conn.execute(
                        "INSERT INTO entries (feed, entry_id, article_id, link, first_seen)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (feed, intent.entry_id, intent.article_id, intent.link, stamp),
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
            if seen:
                conn.execute("UPDATE articles SET last_seen = %s WHERE id = ANY(%s)", (stamp, seen))
        new: list[int] = []
        backlog = 0
        for cursor, is_backlog in inserted:
            row = cursor.fetchone()
            assert row is not None
            if is_backlog:
                backlog += 1
            else:
                new.append(row["article_id"])
        return StoreResult(
            new=tuple(new),
            backlog=backlog,
            edited=tuple(edited),
            unchanged=len(seen) - len(edited),
        )

    @staticmethod
    def _insert_params(feed: str, intent: Insert, now: datetime) -> dict[str, Any]:
        article = intent.article
        return {
            "batch_feed": feed,
            "feed": article.feed,
            "entry_id": article.entry_id,
            "canonical_link": article.canonical_link,
            "fingerprint": intent.fingerprint,
            "title": article.title,
            "link": article.link,
            "summary": article.summary,
            "published": ts(article.published),
            "date_source": article.date_source,
            "updated": ts(article.updated),
            "language": article.language,
            "authors": Jsonb(list(article.authors)),
            "tags": Jsonb(list(article.tags)),
            "content_hash": article.content_hash,
            "now": ts(now),
            "backlog": intent.backlog,
            **match_columns(intent.match, now),
        }

    def _update(self, article_id: int, article: Article, now: datetime) -> None:
        # The first-seen time, backlog flag and delivery state are kept: an edit is never
        # news on its own.
        self.conn.execute(
            "UPDATE articles SET title = %s, link = %s, summary = %s, updated = %s,"
            " authors = %s, tags = %s, content_hash = %s, edited_at = %s WHERE id = %s",
            (
                article.title,
                article.link,
                article.summary,
                ts(article.updated),
                Jsonb(list(article.authors)),
                Jsonb(list(article.tags)),
                article.content_hash,
                ts(now),
                article_id,
            ),
        )

    def _set_match(
        self, article_id: int, match: Match, now: datetime, *, decided_by: DecidedBy = "feed"
    ) -> None:
        # A changed match is looked at again by every subscription that had passed over it;
        # one already in a digest stays there (an edit is never news on its own). A decision
        # made on the article's full text is not undone by an edit of the feed's thin text.
        conn = self.conn
        if decided_by == "feed":
            row = conn.execute(
                "SELECT decided_by FROM articles WHERE id = %s", (article_id,)
            ).fetchone()
            if row is not None and row["decided_by"] == "full_text":
                return
        conn.execute(
            "DELETE FROM deliveries WHERE article_id = %s AND state = 'skipped'", (article_id,)
        )
        conn.execute(
            "UPDATE articles SET flagged = %(flagged)s, score = %(score)s, topics = %(topics)s,"
            " reasons = %(reasons)s, matched_at = %(matched_at)s, decided_by = %(decided_by)s"
            " WHERE id = %(id)s",
            {**match_columns(match, now), "decided_by": decided_by, "id": article_id},
        )

    def record_full_text(
        self, article_id: int, full: FullText, match: Match | None, *, now: datetime
    ) -> None:
        # one transaction: public methods are atomic (connection.guard_public_methods)
        self.conn.execute(
            "UPDATE articles SET full_text = %s, full_text_outcome = %s,"
            " full_text_detail = %s, full_text_at = %s WHERE id = %s",
            (
                full.text or None,
                full.outcome,
                full.detail or None,
                ts(full.fetched_at),
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
        where: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if flagged_only:
            where.append(sql.SQL("flagged"))
        if since is not None:
            where.append(sql.SQL("published >= %s"))
            params.append(ts(since))
        if not include_backlog:
            where.append(sql.SQL("NOT backlog"))
        if ids is not None:
            id_list = list(ids)
            if not id_list:
                return []
            where.append(sql.SQL("id = ANY(%s)"))
            params.append(id_list)
        # no limit for None, 0 or a negative number, as SQLite reads them (LIMIT NULL: all)
        params.append(limit if limit and limit > 0 else None)
        query = sql.SQL(
            "SELECT * FROM articles WHERE {} ORDER BY published DESC, id DESC LIMIT %s"
        ).format(sql.SQL(" AND ").join(where))
        return self._stored(self.conn.execute(query, params).fetchall())

    def _stored(self, rows: Sequence[DictRow]) -> list[StoredArticle]:
        """Rows of ``articles`` as records, with every feed that carried each (one query)."""
        links: dict[int, dict[str, str]] = {}
        ids = [row["id"] for row in rows]
        if ids:
            for r in self.conn.execute(
                "SELECT article_id, feed, link FROM entries WHERE article_id = ANY(%s)"
                " ORDER BY first_seen, seq",
                (ids,),
            ):
                links.setdefault(r["article_id"], {}).setdefault(r["feed"], r["link"])
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
                authors=tuple(row["authors"]),
                tags=tuple(row["tags"]),
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
        if not ids:
            return ()
        rows = self.conn.execute(
            "SELECT id FROM articles WHERE flagged AND id = ANY(%s) ORDER BY id", (list(ids),)
        )
        return tuple(r["id"] for r in rows)

    def arrival_times(self, feed: str, limit: int = 30) -> list[datetime]:
        rows = self.conn.execute(
            "SELECT first_seen FROM articles WHERE feed = %s AND NOT backlog"
            " ORDER BY first_seen DESC LIMIT %s",
            # a negative limit is no limit, as in SQLite (LIMIT NULL: all)
            (feed, limit if limit >= 0 else None),
        )
        return [d for r in rows if (d := dt(r["first_seen"])) is not None]

    def count_articles(self) -> int:
        row = self.conn.execute("SELECT COUNT(*) AS n FROM articles").fetchone()
        return int(row["n"]) if row else 0
