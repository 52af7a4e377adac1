"""Stories: the same story from several outlets is one story.

Pure. The same canonical link was merged at storage; here near-duplicate titles (the same
story in other words from another outlet, within a few days) are merged too, the best
scored leading, the others listed as its sources.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

NEAR_DUPLICATE_WINDOW = timedelta(days=3)
NEAR_DUPLICATE_SIMILARITY = 0.55

_SOURCE_AFFIXES = re.compile(
    r"^\s*(【[^】]{1,12}】|\[[^\]]{1,12}\])\s*|\s*[-–—|｜:]\s*[^-–—|｜:]{1,40}$|\s*[（(][^（()）]{1,12}[)）]\s*$"
)
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class DigestItem:
    """One flagged article, as the digest needs it."""

    article_id: int
    title: str
    link: str
    summary: str
    source: str
    published: datetime
    score: int
    topics: tuple[str, ...]
    why: str = ""
    #: other feeds that carried the same link: (feed name, link)
    also: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Story:
    lead: DigestItem
    others: tuple[DigestItem, ...] = ()

    @property
    def article_ids(self) -> tuple[int, ...]:
        return (self.lead.article_id, *(o.article_id for o in self.others))

    @property
    def sources(self) -> list[tuple[str, str]]:
        seen = {self.lead.source}
        out = []
        for name, link in [
            *self.lead.also,
            *((o.source, o.link) for o in self.others),
            *(a for o in self.others for a in o.also),
        ]:
            if name not in seen:
                seen.add(name)
                out.append((name, link))
        return out


# -- stories -----------------------------------------------------------------------------


def _title_key(title: str) -> str:
    title = unicodedata.normalize("NFKC", title)
    for _ in range(2):
        title = _SOURCE_AFFIXES.sub("", title)
    return _NOT_WORD.sub("", title.casefold())


def _bigrams(key: str) -> set[str]:
    return {key[i : i + 2] for i in range(len(key) - 1)} or {key}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams of the titles without source affixes
    ("【速報】", "- Reuters", "（共同）"). Bigrams work for Japanese and English alike."""
    ka, kb = _title_key(a), _title_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 1.0
    x, y = _bigrams(ka), _bigrams(kb)
    return len(x & y) / len(x | y)


def group_stories(items: Sequence[DigestItem]) -> list[Story]:
    """Merge near-duplicate titles published within a few days; the best-scored leads.

    Each item joins the first story (in order) whose lead is close in time and similar
    enough, else starts its own. Comparing every item with every story is quadratic (4,000
    stories took six minutes); instead candidates come from an index of the leads'
    bigrams, with prefix filtering: two sets with Jaccard similarity >= t always share one
    of their ``n - ceil(t*n) + 1`` rarest elements, so only those are indexed and looked
    up. The result is the same as the full comparison."""
    ordered = sorted(items, key=lambda i: (-i.score, -i.published.timestamp(), i.article_id))
    keys = [_title_key(item.title) for item in ordered]
    grams = [_bigrams(key) if key else set() for key in keys]
    rarity = Counter(g for item_grams in grams for g in item_grams)
    stories: list[list[DigestItem]] = []
    lead_grams: list[set[str]] = []
    index: dict[str, list[int]] = {}
    for item, key, mine in zip(ordered, keys, grams, strict=True):
        chosen = None
        prefix: list[str] = []
        if key:
            rarest = sorted(mine, key=lambda g: (rarity[g], g))
            prefix = rarest[: len(rarest) - math.ceil(NEAR_DUPLICATE_SIMILARITY * len(rarest)) + 1]
            for number in sorted({n for g in prefix for n in index.get(g, ())}):
                lead, theirs = stories[number][0], lead_grams[number]
                close = abs(item.published - lead.published) <= NEAR_DUPLICATE_WINDOW
                if close and len(mine & theirs) / len(mine | theirs) >= NEAR_DUPLICATE_SIMILARITY:
                    chosen = number
                    break
        if chosen is not None:
            stories[chosen].append(item)
            continue
        stories.append([item])
        lead_grams.append(mine)
        for g in prefix:
            index.setdefault(g, []).append(len(stories) - 1)
    return [Story(s[0], tuple(s[1:])) for s in stories]
