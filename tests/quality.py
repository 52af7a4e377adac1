"""Precision and recall of the default rule on the labelled development set.

``make eval`` (``python -m tests.quality``) prints the figures overall, per language and per
kind of negative, and lists every miss; ``tests/test_quality.py`` holds the floor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.match import Matcher, load_keywords

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "tests" / "data" / "devset.jsonl"
#: written after the keywords were tuned on DEVSET, to estimate quality on unseen articles
HELDOUT = ROOT / "tests" / "data" / "heldout.jsonl"


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
class Report:
    overall: Counts = field(default_factory=Counts)
    by_lang: dict[str, Counts] = field(default_factory=dict)
    by_kind: dict[str, Counts] = field(default_factory=dict)
    misses: list[tuple[dict[str, object], bool, int, str]] = field(default_factory=list)


def load(path: Path = DEVSET) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def evaluate(items: Iterable[dict[str, object]], matcher: Matcher | None = None) -> Report:
    matcher = matcher or Matcher(load_keywords(ROOT / "config"))
    report = Report()
    for item in items:
        result = matcher.match(
            str(item["title"]),
            str(item.get("summary", "")),
            feed_tags=list(item.get("feed_tags", [])),  # type: ignore[call-overload]
        )
        label = bool(item["label"])
        report.overall.add(label, result.flagged)
        report.by_lang.setdefault(str(item["lang"]), Counts()).add(label, result.flagged)
        kind = str(item["kind"]).split(":")[0]
        report.by_kind.setdefault(kind, Counts()).add(label, result.flagged)
        if label != result.flagged:
            report.misses.append((item, result.flagged, result.score, result.short_reasons()))
    return report


def render(report: Report) -> str:
    lines = [f"{'':<22}{'items':>6}{'precision':>11}{'recall':>8}{'F1':>7}"]

    def row(name: str, c: Counts) -> None:
        total = c.tp + c.fp + c.fn + c.tn
        lines.append(f"{name:<22}{total:>6}{c.precision:>11.3f}{c.recall:>8.3f}{c.f1:>7.3f}")

    row("overall", report.overall)
    for lang, counts in sorted(report.by_lang.items()):
        row(f"language {lang}", counts)
    lines.append("")
    lines.append("negatives by kind (false positives / items):")
    for kind, counts in sorted(report.by_kind.items()):
        if kind != "positive":
            lines.append(f"  {kind:<22}{counts.fp:>3} / {counts.fp + counts.tn}")
    lines.append("")
    lines.append(f"misses ({len(report.misses)}):")
    for item, flagged, score, why in report.misses:
        what = "false positive" if flagged else "missed"
        lines.append(
            f"  {item['id']} [{item['lang']}, {item['kind']}] {what}, score {score}: {item['title']}"
        )
        if why:
            lines.append(f"      {why}")
    return "\n".join(lines)


if __name__ == "__main__":
    matcher = Matcher(load_keywords(ROOT / "config"))
    for name, path in (("development set", DEVSET), ("held-out set", HELDOUT)):
        print(f"== {name}: {path.relative_to(ROOT)}")
        print(render(evaluate(load(path), matcher)))
        print()
