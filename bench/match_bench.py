"""Match throughput: articles per second on ~2 KB texts (Japanese and English), normalisation
included, with the default keywords and with 5,000 keywords, against the naive baseline in the
same run: one compiled regex per term, looped over each text."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

from bot.match import Matcher, load_keywords
from bot.match.keywords import KeywordsFile, build_keywords
from bot.match.normalize import fold, normalize

ROOT = Path(__file__).resolve().parent.parent
WORDS_EN = [
    "the",
    "government",
    "said",
    "on",
    "friday",
    "that",
    "it",
    "would",
    "consider",
    "new",
    "measures",
    "for",
    "companies",
    "and",
    "universities",
    "in",
    "the",
    "coming",
    "fiscal",
    "year",
    "while",
    "officials",
    "noted",
    "growing",
    "demand",
]
WORDS_JA = [
    "政府は",
    "来年度",
    "企業と大学の",
    "新たな",
    "取り組みを",
    "検討する",
    "と発表した。",
    "関係者によると、",
    "需要が",
    "高まっている。",
]
SPICE = [
    "AI",
    "半導体",
    "subsidy",
    "経済産業省",
    "Japan",
    "quantum",
    "サイバー攻撃",
    "chipmakers",
    "China",
    "5G",
    "補助金",
    "戦略",
]


def texts(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ja = i % 2 == 0
        words = WORDS_JA if ja else WORDS_EN
        parts: list[str] = []
        size = 0
        while size < 2000:
            word = rng.choice(SPICE) if rng.random() < 0.04 else rng.choice(words)
            parts.append(word)
            size += len(word.encode()) + (0 if ja else 1)
        sep = "" if ja else " "
        out.append((sep.join(parts[:12]), sep.join(parts[12:])))
    return out


def synthetic_keywords(count: int) -> Matcher:
    rng = random.Random(3)
    data = KeywordsFile.model_validate(
        {
            "groups": {
                f"g{g}": {
                    "terms": [f"term{g}x{i}{rng.randint(0, 9999)}" for i in range(count // 50)]
                    + (["AI", "半導体"] if g == 0 else [])
                }
                for g in range(50)
            },
            "rules": {"default": "g0 AND (g1 OR g2)"},
        }
    )
    return Matcher(build_keywords(data, "synthetic"))


def naive(matcher: Matcher, items: list[tuple[str, str]]) -> float:
    # What a first version would do: a \b regex per term (which also misses terms next to kana).
    patterns = [
        re.compile(r"\b" + re.escape(t.needle) + r"\b", re.I)
        for t in matcher.keywords.terms
        if not t.exclude
    ]
    start = time.perf_counter()
    for title, body in items:
        text = f"{title}\n{body}"
        for p in patterns:
            p.findall(text)
    return len(items) / (time.perf_counter() - start)


def ours(matcher: Matcher, items: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for title, body in items:
        matcher.match(title, body)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    items = texts(4000)
    start = time.perf_counter()
    for title, body in items:
        fold(normalize(title + body))
    norm_rate = len(items) / (time.perf_counter() - start)
    default = Matcher(load_keywords(ROOT / "config"))
    big = synthetic_keywords(5000)
    print(
        f"\nmatch: {len(items)} texts of ~2 KB (half Japanese); normalisation alone {norm_rate:,.0f} texts/s"
    )
    print(f"  {'keywords':<24}{'terms':>7}{'ours/s':>10}{'naive/s':>10}{'ratio':>8}")
    for name, m in (("default", default), ("5,000 synthetic", big)):
        ours_rate = max(ours(m, items) for _ in range(2))
        naive_rate = naive(m, items[:400])
        print(
            f"  {name:<24}{len(m.keywords.terms):>7}{ours_rate:>10,.0f}{naive_rate:>10,.0f}{ours_rate / naive_rate:>7.1f}x"
        )
    print("  targets: >= 10x the naive baseline, >= 5,000 articles/s with the default keywords")


if __name__ == "__main__":
    main()
