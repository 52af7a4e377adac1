"""Subscribers' feedback on stories: recording a click, the figures it gives, and the
judged entries in the relevance corpus's format.

A story's verdict is the majority of its votes in one subscription (a tie is no verdict).
Precision as judged by subscribers = stories judged relevant / stories judged. Nothing here
changes a rule or a keyword: the figures are for the person who decides.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.match.matcher import short_reasons
from bot.storage import Storage, StoredArticle
from bot.storage.records import FeedbackVote, Verdict


@dataclass(frozen=True)
class Click:
    """What a click changed, and the story's votes after it."""

    changed: bool
    counts: dict[str, int]


def record_click(
    storage: Storage,
    *,
    article_id: int,
    subscription: str,
    user_id: str,
    verdict: Verdict,
    now: datetime,
) -> Click:
    """One person's vote; a repeated click changes nothing."""
    changed = storage.record_feedback(FeedbackVote(article_id, subscription, user_id, verdict, now))
    return Click(changed, storage.feedback_counts(article_id, subscription))


@dataclass
class Judged:
    """One story in one subscription, with its votes."""

    article: StoredArticle
    subscription: str
    relevant: int = 0
    not_relevant: int = 0
    voters: list[str] = field(default_factory=list)
    last_vote: datetime | None = None

    @property
    def verdict(self) -> bool | None:
        if self.relevant == self.not_relevant:
            return None
        return self.relevant > self.not_relevant


def judged(storage: Storage, *, subscription: str | None = None) -> list[Judged]:
    """Every story that has votes, newest vote first."""
    votes = storage.feedback(subscription=subscription)
    articles = {a.id: a for a in storage.articles(ids={v.article_id for v in votes})}
    out: dict[tuple[int, str], Judged] = {}
    for vote in votes:
        article = articles.get(vote.article_id)
        if article is None:
            continue
        item = out.setdefault(
            (vote.article_id, vote.subscription), Judged(article, vote.subscription)
        )
        if vote.verdict == "relevant":
            item.relevant += 1
        else:
            item.not_relevant += 1
        item.voters.append(vote.user_id)
        item.last_vote = max(item.last_vote or vote.at, vote.at)
    return list(out.values())


@dataclass(frozen=True)
class Precision:
    name: str
    judged: int
    relevant: int

    @property
    def precision(self) -> float | None:
        return self.relevant / self.judged if self.judged else None


@dataclass(frozen=True)
class FeedbackReport:
    votes: int
    by_subscription: tuple[Precision, ...]
    by_feed: tuple[Precision, ...]
    #: stories most often marked not relevant: (story, its short reasons)
    worst: tuple[tuple[Judged, str], ...]

    def to_json(self) -> dict[str, Any]:
        def rows(items: tuple[Precision, ...]) -> list[dict[str, Any]]:
            return [
                {"name": p.name, "judged": p.judged, "relevant": p.relevant,
                 "precision": p.precision}
                for p in items
            ]  # fmt: skip

        return {
            "votes": self.votes,
            "by_subscription": rows(self.by_subscription),
            "by_feed": rows(self.by_feed),
            "most_marked_not_relevant": [
                {
                    "article_id": j.article.id,
                    "subscription": j.subscription,
                    "title": j.article.article.title,
                    "feed": j.article.article.feed,
                    "not_relevant": j.not_relevant,
                    "relevant": j.relevant,
                    "reasons": why,
                }
                for j, why in self.worst
            ],
        }


def report(storage: Storage, *, worst: int = 10) -> FeedbackReport:
    items = judged(storage)
    by_sub: dict[str, Counter[str]] = defaultdict(Counter)
    by_feed: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        if item.verdict is None:
            continue
        for counter in (by_sub[item.subscription], by_feed[item.article.article.feed]):
            counter["judged"] += 1
            counter["relevant"] += item.verdict

    def table(source: dict[str, Counter[str]]) -> tuple[Precision, ...]:
        return tuple(
            Precision(name, c["judged"], c["relevant"]) for name, c in sorted(source.items())
        )

    marked = sorted(
        (i for i in items if i.not_relevant),
        key=lambda i: (-i.not_relevant, i.relevant, -i.article.id),
    )[:worst]
    return FeedbackReport(
        votes=sum(i.relevant + i.not_relevant for i in items),
        by_subscription=table(by_sub),
        by_feed=table(by_feed),
        worst=tuple(
            (i, short_reasons(i.article.match.reasons) if i.article.match else "") for i in marked
        ),
    )


def _shape(summary: str) -> str:
    if not summary.strip():
        return "headline"
    return "headline_desc" if len(summary) < 300 else "lede"


def corpus_entries(storage: Storage, feed_tags: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Judged stories with a verdict, in the relevance corpus's format, for the tuning part
    only (never the frozen test part). ``feed_tags``: each feed's tags, from the
    configuration."""
    by_article: dict[int, list[Judged]] = defaultdict(list)
    for item in judged(storage):
        if item.verdict is not None:
            by_article[item.article.id].append(item)
    entries = []
    for article_id, items in sorted(by_article.items()):
        relevant = sum(i.relevant for i in items)
        not_relevant = sum(i.not_relevant for i in items)
        if relevant == not_relevant:
            continue
        stored = items[0].article
        a = stored.article
        tags = list(feed_tags.get(a.feed, ()))
        entries.append(
            {
                "id": f"feedback-{article_id}",
                "title": a.title,
                "summary": a.summary,
                "lang": a.language or "ja",
                "shape": _shape(a.summary),
                "feed": a.feed,
                "official": "jp-gov" in tags,
                "feed_tags": tags,
                "source": a.link,
                "group": f"feedback:{a.feed}",
                "date": a.published.date().isoformat(),
                "label": relevant > not_relevant,
                "topic": (stored.match.topics[0] if stored.match and stored.match.topics else None),
                "negative_kind": None,
                "debatable": bool(relevant and not_relevant),
                "note": (
                    f"subscriber feedback: {relevant} relevant, {not_relevant} not relevant "
                    f"({', '.join(sorted({i.subscription for i in items}))})"
                ),
                "split": "tune",
            }
        )
    return entries
