"""Which stored articles go into a subscription's next digest. Pure: records in, items out."""

from __future__ import annotations

from collections.abc import Iterable

from bot.digest.stories import DigestItem
from bot.match import Matcher
from bot.match.matcher import short_reasons
from bot.match.rules import Node
from bot.storage.records import StoredArticle
from bot.text import clean_text


def to_item(stored: StoredArticle, score: int) -> DigestItem:
    """An article as a digest shows it, with the score the subscription's rule gave it."""
    a = stored.article
    match = stored.match
    # Parsing cleans every field; cleaning again here covers articles stored by older
    # versions, so no terminal or Slack message ever gets control or bidi characters.
    return DigestItem(
        article_id=stored.id,
        title=clean_text(a.title),
        link=clean_text(a.link),
        summary=clean_text(a.summary),
        source=a.feed,
        published=a.published,
        score=score,
        topics=match.topics if match else (),
        why=short_reasons(match.reasons) if match else "",
        also=tuple((feed, link) for feed, link in stored.links if feed != a.feed),
    )


def choose(
    candidates: Iterable[StoredArticle],
    matcher: Matcher,
    rule: Node,
    min_score: int,
    muted: frozenset[str] = frozenset(),
) -> tuple[list[DigestItem], list[int]]:
    """(the items the rule takes at ``min_score``, the ids it passes over). A subscription's
    own rule is applied to the stored group scores: the text is not matched again. An
    article only ``muted`` feeds carried is passed over."""
    chosen, passed = [], []
    for stored in candidates:
        if muted and set(stored.sources) <= muted:
            passed.append(stored.id)
            continue
        decision, score = matcher.decide(rule, stored.match.reasons if stored.match else ())
        if decision and score >= min_score:
            chosen.append(to_item(stored, score))
        else:
            passed.append(stored.id)
    return chosen, passed
