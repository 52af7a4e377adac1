"""Digest building: grouping N flagged stories into near-duplicate stories, the indexed
grouping against the naive baseline in the same run (every item compared with every story,
bigrams recomputed each time, as the bot did before issue 8)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from bot.digest.blocks import build_digest
from bot.digest.stories import (
    NEAR_DUPLICATE_SIMILARITY,
    NEAR_DUPLICATE_WINDOW,
    DigestItem,
    group_stories,
    similarity,
)
from tests.stories import EN_ACTIONS, EN_ACTORS, EN_TOPICS, JA_ACTIONS, JA_ACTORS, JA_TOPICS


def _naive(items: list[DigestItem]) -> int:
    ordered = sorted(items, key=lambda i: (-i.score, -i.published.timestamp(), i.article_id))
    stories: list[list[DigestItem]] = []
    for item in ordered:
        for story in stories:
            close = abs(item.published - story[0].published) <= NEAR_DUPLICATE_WINDOW
            if close and similarity(item.title, story[0].title) >= NEAR_DUPLICATE_SIMILARITY:
                story.append(item)
                break
        else:
            stories.append([item])
    return len(stories)


def _items(n: int, rng: random.Random) -> list[DigestItem]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        # a distinct detail per story, as real headlines have (a place, a sum, a name)
        detail = "".join(rng.choice("あいうえおかきくけこさしすせそABCDEFGHJK") for _ in range(8))
        if rng.random() < 0.5:
            title = f"{rng.choice(JA_ACTORS)}、{rng.choice(JA_TOPICS)}の{rng.choice(JA_ACTIONS)} {detail}"
        else:
            title = (
                f"{rng.choice(EN_ACTORS)} {rng.choice(EN_ACTIONS)} {rng.choice(EN_TOPICS)} {detail}"
            )
        out.append(
            DigestItem(
                i, title, f"https://x.example/{i}", "", "Wire",
                base + timedelta(minutes=rng.randint(0, 5000)), rng.randint(40, 100), ("ai",),
            )
        )  # fmt: skip
    return out


def run() -> None:
    rng = random.Random(7)
    print("digest: grouping near-duplicate stories (indexed vs every pair)")
    for n in (1000, 2000, 4000):
        items = _items(n, rng)
        started = time.perf_counter()
        stories = group_stories(items)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        build_digest(
            items, subscription="s", title="T", now=datetime.now(UTC), timezone="Asia/Tokyo",
            topic_labels={}, max_items=40,
        )  # fmt: skip
        whole = time.perf_counter() - started
        if n <= 2000:
            started = time.perf_counter()
            naive_count = _naive(items)
            naive = time.perf_counter() - started
            assert naive_count == len(stories)
            ratio = f"{naive / ours:.0f}x"
            naive_text = f"{naive:.1f} s"
        else:
            naive_text, ratio = "(skipped: ~6 min)", "-"
        print(
            f"  {n:>5} items -> {len(stories):>5} stories: grouping {ours:.2f} s, whole digest "
            f"{whole:.2f} s; naive {naive_text}; {ratio}"
        )
