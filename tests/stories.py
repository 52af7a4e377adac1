"""Generated flagged stories for delivery tests: many, distinct, in both languages."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from bot.digest.stories import similarity
from tests import feeds

JA_ACTORS = [
    "経済産業省",
    "総務省",
    "文部科学省",
    "デジタル庁",
    "内閣府",
    "政府",
    "厚労省",
    "国交省",
]
JA_TOPICS = [
    "半導体",
    "生成AI",
    "量子技術",
    "サイバー防御",
    "6G通信",
    "宇宙開発",
    "核融合",
    "データセンター",
    "ドローン",
    "創薬",
]
JA_ACTIONS = [
    "補助金を決定",
    "指針を公表",
    "予算を要求",
    "法案を提出",
    "戦略を改定",
    "基金を創設",
    "研究拠点を整備",
]
EN_ACTORS = [
    "METI",
    "Japan's Digital Agency",
    "MIC",
    "The Cabinet Office",
    "MEXT",
    "Japan's government",
]
EN_TOPICS = [
    "chipmaking",
    "AI safety",
    "quantum computing",
    "cyber defense",
    "6G networks",
    "satellites",
    "fusion energy",
    "data centers",
]
EN_ACTIONS = [
    "approves subsidy for",
    "publishes guidelines on",
    "seeks budget for",
    "submits bill on",
    "revises strategy for",
    "creates fund for",
]


def distinct_titles(count: int, seed: int = 5, max_similarity: float = 0.5) -> list[str]:
    """``count`` flagged-looking titles, no two of which the digest would call the same story."""
    rng = random.Random(seed)
    pool = [f"{a}、{t}の{x}" for a, t, x in itertools.product(JA_ACTORS, JA_TOPICS, JA_ACTIONS)]
    pool += [f"{a} {x} {t}" for a, x, t in itertools.product(EN_ACTORS, EN_ACTIONS, EN_TOPICS)]
    rng.shuffle(pool)
    chosen: list[str] = []
    for title in pool:
        if all(similarity(title, other) < max_similarity for other in chosen):
            chosen.append(title)
            if len(chosen) == count:
                return chosen
    raise AssertionError(f"only {len(chosen)} distinct titles available")


def feed_of(titles: list[str], now: datetime, prefix: str = "s") -> bytes:
    return feeds.rss(
        [
            feeds.item(
                t,
                f"https://news.example.jp/{prefix}/{i}",
                guid=f"{prefix}{i}",
                published=now - timedelta(minutes=5 + i),
                description=f"記事{i}の概要。",
            )
            for i, t in enumerate(titles)
        ]
    )
