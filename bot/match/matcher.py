"""Score an article against the keyword groups and decide by a rule, with reasons.

text   = normalize(title) + normalize(each body line)
zones  = title | lede | body | tail | boilerplate      (each with a weight)
hits   = one Aho-Corasick pass over the folded text for every term
         -> Latin terms need letter/digit boundaries; exact-case terms are re-checked
         -> a hit inside a longer hit of its own group, of an exclusion phrase, or of a
            group it yields to, does not count
group score = sum over its distinct terms of weight x best zone weight (+ repeats)
              + feed tag boosts
present     = score >= min_score;  strength = 1 - exp(-score / scale)
decision    = the rule over present groups;  score 0-100 = the rule's fuzzy strength
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from bot.match.keywords import KeywordSet, Term
from bot.match.normalize import fold, normalize
from bot.match.rules import Node, evaluate, trace


@dataclass(frozen=True)
class TermHit:
    term: str
    where: str  # title, lede, body, tail, feed
    count: int
    contribution: float


@dataclass(frozen=True)
class GroupReason:
    group: str
    label: str
    kind: str
    score: float
    present: bool
    terms: tuple[TermHit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "kind": self.kind,
            "score": round(self.score, 2),
            "present": self.present,
            "terms": [
                {
                    "term": t.term,
                    "where": t.where,
                    "count": t.count,
                    "contribution": round(t.contribution, 2),
                }
                for t in self.terms
            ],
        }


@dataclass(frozen=True)
class MatchResult:
    flagged: bool
    score: int
    topics: tuple[str, ...]
    reasons: tuple[GroupReason, ...]
    #: the rule's top-level parts: (text, true?, detail)
    trace: tuple[tuple[str, bool, str], ...] = ()

    def reasons_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.reasons]

    def short_reasons(self, limit: int = 3) -> str:
        """``japan: METI, 政府 · policy: subsidy · semiconductors: Rapidus`` for digests."""
        parts = []
        for reason in self.reasons:
            if not reason.present or reason.kind == "foreign":
                continue
            names = [t.term for t in reason.terms if t.where != "feed"][:limit]
            if names:
                parts.append(f"{reason.group}: {', '.join(names)}")
        return " · ".join(parts)


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


TITLE_MAX_CHARS = 200


def split_title(text: str) -> tuple[str, str]:
    """A document's first line is its title if it is short and more text follows."""
    lines = text.strip().splitlines()
    if len(lines) > 1 and len(lines[0].strip()) <= TITLE_MAX_CHARS:
        return lines[0].strip(), "\n".join(lines[1:])
    return "", text


@dataclass
class _Zones:
    """Maps an offset in the matched text to its zone name and weight."""

    title_end: int
    body_start: int
    # (start, end) spans of boilerplate inside the body
    boilerplate: list[tuple[int, int]]

    def at(self, offset: int, s: Any) -> tuple[str, float]:
        if offset < self.title_end:
            return "title", s.title_weight
        for start, end in self.boilerplate:
            if start <= offset < end:
                return "boilerplate", 0.0
        position = offset - self.body_start
        if position < s.lede_chars:
            return "lede", s.lede_weight
        if position < s.tail_after_chars:
            return "body", s.body_weight
        return "tail", s.tail_weight


class Matcher:
    """Built once per keyword set (the automaton), then pure and reusable."""

    def __init__(self, keywords: KeywordSet) -> None:
        self.keywords = keywords
        self.automaton = ahocorasick.Automaton()
        by_needle: dict[str, list[int]] = {}
        for index, term in enumerate(keywords.terms):
            by_needle.setdefault(fold(term.needle), []).append(index)
        for needle, indexes in by_needle.items():
            self.automaton.add_word(needle, (len(needle), tuple(indexes)))
        if by_needle:
            self.automaton.make_automaton()
        self._longest = max((len(n) for n in by_needle), default=0)
        self._inline = [fold(normalize(m)) for m in keywords.boilerplate.inline_markers]
        self._block = [fold(normalize(m)) for m in keywords.boilerplate.block_markers]

    # -- text and zones --------------------------------------------------------------

    def _assemble(self, title: str, body: str) -> tuple[str, _Zones]:
        title_n = normalize(title)
        parts = [title_n, "\n"]
        body_start = len(title_n) + 1
        offset = body_start
        spans: list[tuple[int, int]] = []
        in_block = False
        paragraph = self.keywords.boilerplate.paragraph_chars
        for raw in body.splitlines():
            line = normalize(raw)
            if not line:
                continue
            folded = fold(line)
            if in_block and len(line) >= paragraph:
                in_block = False
            # A teaser list starts with a marker ("RELATED RESOURCE") or a bare separator
            # line ("-", "•", "|"), and lasts until a real paragraph.
            if not in_block and (
                any(folded.startswith(m) for m in self._block) or not any(c.isalnum() for c in line)
            ):
                in_block = True
            if in_block:
                spans.append((offset, offset + len(line)))
            else:
                cut = min((i for i in (folded.find(m) for m in self._inline) if i >= 0), default=-1)
                if cut >= 0:
                    spans.append((offset + cut, offset + len(line)))
            parts += [line, "\n"]
            offset += len(line) + 1
        return "".join(parts), _Zones(len(title_n), body_start, spans)

    # -- matching ----------------------------------------------------------------------

    def _hits(self, text: str) -> list[tuple[Term | None, str, str, float, int, int]]:
        """(term, group, label, weight, start, end) for every valid hit; end is exclusive."""
        terms = self.keywords.terms
        folded = fold(text)
        n = len(text)
        raw: list[tuple[Term, int, int]] = []
        for end, (length, indexes) in self.automaton.iter(folded):
            start = end - length + 1
            stop = end + 1
            for index in indexes:
                term = terms[index]
                if term.latin_start and start > 0 and _is_latin(text[start - 1]):
                    continue
                if term.latin_end and stop < n and _is_latin(text[stop]):
                    continue
                if term.exact_case and text[start:stop] != term.needle:
                    continue
                raw.append((term, start, stop))
        out: list[tuple[Term | None, str, str, float, int, int]] = []
        groups = self.keywords.groups
        raw.sort(key=lambda h: h[1])
        starts = [h[1] for h in raw]
        for term, start, stop in raw:
            if term.exclude:
                continue
            yields = groups[term.group].yields_to
            covered = False
            # Only a hit starting at most one needle-length earlier can contain this one.
            for other, ostart, ostop in raw[
                bisect_left(starts, start - self._longest) : bisect_right(starts, start)
            ]:
                longer = ostop >= stop and (ostop - ostart) > (stop - start)
                # inside a longer hit of its own group or exclusion, or of a group it yields to
                if longer and (other.group == term.group or other.group in yields):
                    covered = True
                    break
            if not covered:
                out.append((term, term.group, term.text, term.weight, start, stop))
        for rx in self.keywords.regexes:
            for m in rx.pattern.finditer(text):
                if m.end() > m.start():
                    out.append((None, rx.group, rx.text, rx.weight, m.start(), m.end()))
        return out

    def match(
        self,
        title: str,
        summary: str,
        *,
        feed_tags: Iterable[str] = (),
        rule: Node | None = None,
        explain: bool = False,
    ) -> MatchResult:
        """Score ``title`` + ``summary`` and decide with ``rule`` (default: the default rule).
        ``explain`` also records which parts of the rule held."""
        kw = self.keywords
        settings = kw.settings
        text, zones = self._assemble(title, summary)
        # (group, term) -> [best contribution, where, count, sum of the others]
        found: dict[tuple[str, str], list[Any]] = {}
        for _term, group, label, weight, start, _stop in self._hits(text):
            where, zone_weight = zones.at(start, settings)
            value = weight * zone_weight
            entry = found.setdefault((group, label), [0.0, where, 0, 0.0])
            entry[2] += 1
            if value > entry[0]:
                entry[3] += entry[0]
                entry[0], entry[1] = value, where
            else:
                entry[3] += value
        scores: dict[str, float] = {}
        details: dict[str, list[TermHit]] = {}
        for (group, label), (best, where, count, rest) in found.items():
            contribution = best + min(rest * settings.repeat_share, best)
            if contribution <= 0:
                continue
            scores[group] = scores.get(group, 0.0) + contribution
            details.setdefault(group, []).append(TermHit(label, where, count, contribution))
        for tag in feed_tags:
            for group, boost in kw.feed_tags.get(tag, {}).items():
                scores[group] = scores.get(group, 0.0) + boost
                details.setdefault(group, []).append(TermHit(f"feed tag {tag}", "feed", 1, boost))
        present = {
            g: scores.get(g, 0.0) >= grp.min_score and scores.get(g, 0.0) > 0
            for g, grp in kw.groups.items()
        }
        strengths = {g: 1 - math.exp(-s / settings.strength_scale) for g, s in scores.items()}
        node = rule if rule is not None else kw.rule(None)
        evaluation = evaluate(
            node, present=present, scores=scores, strengths=strengths, macros=kw.rules
        )
        reasons = tuple(
            GroupReason(
                group=g,
                label=kw.groups[g].label,
                kind=kw.groups[g].kind,
                score=scores[g],
                present=present[g],
                terms=tuple(sorted(details[g], key=lambda t: -t.contribution)),
            )
            for g in sorted(scores, key=lambda g: -scores[g])
        )
        topics = tuple(r.group for r in reasons if r.present and r.kind == "topic")
        return MatchResult(
            flagged=evaluation.decision,
            score=round(100 * evaluation.strength),
            topics=topics,
            reasons=reasons,
            trace=tuple(trace(node, present=present, scores=scores, macros=kw.rules))
            if explain
            else (),
        )

    def match_many(
        self, items: Sequence[tuple[str, str, Sequence[str]]], rule: Node | None = None
    ) -> list[MatchResult]:
        return [self.match(t, s, feed_tags=tags, rule=rule) for t, s, tags in items]
