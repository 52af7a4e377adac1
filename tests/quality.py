"""How well the matcher flags real entries: ``make eval`` (``python -m tests.quality``).

The measure is the relevance corpus (``tests/data/corpus/relevance.jsonl``): real feed entries
and article ledes, never written by us, labelled by RELEVANCE.md, each with its source. It was
split once, before any tuning, into a tuning part and a frozen test part (the ``split`` field;
by source and month, near-copies of one story kept on one side). Figures are printed for both
parts, per language, per shape, per topic, for official feeds, and per kind of negative; the
tuning part's misses are listed (``--test-misses`` lists the frozen part's too: look at them
only to report, never to tune). ``tests/test_quality.py`` holds the floors on the frozen part.

The self-written development and held-out sets of the first version stay as regression tests.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.match import Matcher, load_keywords

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "relevance.jsonl"
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"
#: written after the keywords were tuned on DEVSET (self-written: a regression test only)
HELDOUT = ROOT / "tests" / "data" / "heldout.jsonl"
SHAPES = ("headline", "headline_desc", "lede")
NEGATIVE_KINDS = {
    1: "1 Japanese state, not tech",
    2: "2 another state's tech policy",
    3: "3 Japanese tech business",
    4: "4 generic tech news",
    5: "5 boilerplate only",
    None: "- other news",
}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, label: bool, flagged: bool) -> None:
        if label and flagged:
            self.tp += 1
        elif label:
            self.fn += 1
        elif flagged:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def items(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Miss:
    item: dict[str, Any]
    flagged: bool
    score: int
    why: str


@dataclass
class Report:
    overall: Counts = field(default_factory=Counts)
    by: dict[str, dict[str, Counts]] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)

    def cell(self, dimension: str, value: str) -> Counts:
        return self.by.setdefault(dimension, {}).setdefault(value, Counts())


def load(path: Path = CORPUS, split: str | None = None) -> list[dict[str, Any]]:
    items = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [i for i in items if split is None or i.get("split") == split]


def evaluate(items: Iterable[dict[str, Any]], matcher: Matcher | None = None) -> Report:
    matcher = matcher or Matcher(load_keywords(ROOT / "config"))
    report = Report()
    for item in items:
        result = matcher.match(
            str(item["title"]), str(item.get("summary") or ""), feed_tags=item.get("feed_tags", [])
        )
        label, flagged = bool(item["label"]), result.flagged
        report.overall.add(label, flagged)
        report.cell("language", str(item["lang"])).add(label, flagged)
        if "shape" in item:
            report.cell("shape", str(item["shape"])).add(label, flagged)
            report.cell("official feed", "yes" if item.get("official") else "no").add(
                label, flagged
            )
            if label:
                report.cell("topic", str(item.get("topic"))).add(label, flagged)
            else:
                report.cell(
                    "negative kind", NEGATIVE_KINDS.get(item.get("negative_kind"), "?")
                ).add(label, flagged)
        else:  # the old self-written sets: "positive:topic" or the kind of negative
            report.cell("kind", str(item["kind"]).split(":")[0]).add(label, flagged)
        if label != flagged:
            report.misses.append(Miss(item, flagged, result.score, result.short_reasons()))
    return report


def render(report: Report, *, misses: bool = True) -> str:
    lines = [f"{'':<34}{'items':>6}{'precision':>11}{'recall':>8}{'F1':>7}"]

    def row(name: str, c: Counts) -> None:
        lines.append(f"{name:<34}{c.items:>6}{c.precision:>11.3f}{c.recall:>8.3f}{c.f1:>7.3f}")

    row("overall", report.overall)
    for dimension in ("language", "shape", "official feed", "kind"):
        for value, counts in sorted(report.by.get(dimension, {}).items()):
            row(f"{dimension} {value}", counts)
    if "topic" in report.by:
        lines.append("")
        lines.append("recall by topic (positives found / positives):")
        for topic, c in sorted(report.by["topic"].items()):
            lines.append(f"  {topic:<32}{c.tp:>4} / {c.tp + c.fn:<4} {c.recall:.3f}")
    if "negative kind" in report.by:
        lines.append("")
        lines.append("negatives by kind (flagged by mistake / negatives):")
        for kind, c in sorted(report.by["negative kind"].items()):
            lines.append(f"  {kind:<32}{c.fp:>4} / {c.fp + c.tn}")
    if misses:
        lines.append("")
        lines.append(f"misses ({len(report.misses)}):")
        for m in report.misses:
            item = m.item
            what = "FALSE POSITIVE" if m.flagged else "missed"
            where = f"{item['lang']}, {item.get('shape', item.get('kind'))}"
            lines.append(f"  {item['id']} [{where}] {what}, score {m.score}: {item['title']}")
            if item.get("summary"):
                lines.append(f"      | {str(item['summary'])[:160]}")
            if m.why:
                lines.append(f"      why: {m.why}")
    return "\n".join(lines)


def variants(matcher: Matcher) -> list[tuple[str, Matcher]]:
    """The configured matcher, and the rules alone when a learned model is configured."""
    if matcher.keywords.model is None:
        return [("rules", matcher)]
    return [
        ("rules + model", matcher),
        ("rules alone", Matcher(replace(matcher.keywords, model=None))),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.quality", description=__doc__)
    parser.add_argument(
        "--test-misses",
        action="store_true",
        help="also list the frozen part's misses (to report them; never to tune on them)",
    )
    parser.add_argument(
        "--tune-only",
        action="store_true",
        help="while tuning: the tuning part only, no frozen figures to be swayed by",
    )
    args = parser.parse_args(argv)
    parts = ("tune",) if args.tune_only else ("tune", "test")
    matcher = Matcher(load_keywords(ROOT / "config"))
    print(f"== relevance corpus, tuning part: {CORPUS.relative_to(ROOT)}")
    print(render(evaluate(load(CORPUS, "tune"), matcher)))
    print()
    if not args.tune_only:
        print("== relevance corpus, FROZEN test part (never tuned on)")
        print(render(evaluate(load(CORPUS, "test"), matcher), misses=args.test_misses))
        print()
    print("== variants (precision / recall / F1)")
    for name, m in variants(matcher):
        for part in parts:
            c = evaluate(load(CORPUS, part), m).overall
            print(f"  {name:<16} {part:<5} {c.precision:.3f} / {c.recall:.3f} / {c.f1:.3f}")
    for name, path in (("development set", DEVSET), ("held-out set", HELDOUT)):
        print()
        print(f"== regression: {name} (self-written): {path.relative_to(ROOT)}")
        print(render(evaluate(load(path), matcher), misses=False))


if __name__ == "__main__":
    main()
