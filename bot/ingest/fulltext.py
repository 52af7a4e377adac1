"""Which new entries need their article page, and what the page says (pure: no I/O).

A feed entry that is only a headline (most Japanese ministry feeds, NHK, Yahoo!) or a
headline with a short line cannot always be judged: 「総務相、閣議後に会見」 says nothing of
what was announced. For such an entry the poller fetches the article page and matches again
on the title and the page's main text. It does so only for *thin candidates*:

- thin: the entry's own text beyond its title is narrower than ``full_text.thin_below``
  (display width: a Japanese character counts two, so the threshold means about the same
  amount of content in either language);
- candidate: the matcher found any topic or actor term in it, or the feed is an official
  one (tagged ``jp-gov``), and it is not already flagged on its feed text (a page cannot
  make a flagged entry more relevant; it would cost a request for nothing).

``full_text: always`` on a feed fetches every new entry's page; ``never`` none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Literal

from bot.models import Article, Match

FullTextMode = Literal["auto", "always", "never"]
#: the feed tag of official sources (feeds.yaml): their entries are candidates by origin
OFFICIAL_TAG = "jp-gov"
#: matcher group kinds that make an entry a candidate (keywords.yaml: kind)
CANDIDATE_KINDS = frozenset({"topic", "actor"})


def display_width(text: str) -> int:
    """Columns ``text`` takes: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def own_text(article: Article) -> str:
    """The entry's text beyond its title: many feeds repeat the title as the description."""
    summary = article.summary.strip()
    title = article.title.strip()
    if title and summary.startswith(title):
        summary = summary[len(title) :]
    return summary.strip()


def is_thin(article: Article, thin_below: int) -> bool:
    return display_width(own_text(article)) < thin_below


def is_candidate(match: Match | None, feed_tags: Sequence[str]) -> bool:
    if OFFICIAL_TAG in feed_tags:
        return True
    if match is None:
        return False
    return any(r.present and r.kind in CANDIDATE_KINDS for r in match.reasons)


def wants_full_text(
    article: Article,
    match: Match | None,
    *,
    mode: FullTextMode,
    thin_below: int,
    feed_tags: Sequence[str],
) -> bool:
    """Whether to fetch this new entry's article page."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    if match is not None and match.flagged:
        return False
    return is_thin(article, thin_below) and is_candidate(match, feed_tags)
