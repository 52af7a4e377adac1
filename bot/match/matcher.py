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
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick_rs

from bot.match.keywords import MODEL_GROUP, KeywordSet
from bot.match.model import SCORE_SCALE, features
from bot.match.normalize import fold, normalize
from bot.match.rules import Compiled, Node, compile_rule, rule_score, trace
from bot.models import GroupScore, Match, TermScore


@dataclass(frozen=True)
class TermHit:
    term: str
    where: str  # title, lede, body, tail, feed, model
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

    def record(self) -> GroupScore:
        return GroupScore(
            self.group,
            self.kind,
            self.score,
            self.present,
            tuple(TermScore(t.term, t.where, t.count, t.contribution) for t in self.terms),
        )


@dataclass(frozen=True)
class MatchResult:
    flagged: bool
    score: int
    topics: tuple[str, ...]
    reasons: tuple[GroupReason, ...]
    #: the rule's top-level parts: (text, true?, detail)
    trace: tuple[tuple[str, bool, str], ...] = ()

    def reasons_json(self) -> list[dict[str, Any]]:
        return [r.record().to_json() for r in self.reasons]

    def record(self) -> Match:
        """The decision as it is stored with the article."""
        return Match(
            flagged=self.flagged,
            score=self.score,
            topics=self.topics,
            reasons=tuple(r.record() for r in self.reasons),
        )

    def short_reasons(self, limit: int = 3) -> str:
        """``jpgov: METI, 政府 · policy: subsidy · semiconductors: Rapidus`` for digests."""
        return short_reasons(self.record().reasons, limit)


def short_reasons(reasons: Sequence[GroupScore], limit: int = 3) -> str:
    """The reasons in one short line: present groups and their terms."""
    parts = []
    shown: set[str] = set()
    for reason in reasons:
        if not reason.present or reason.kind == "foreign":
            continue
        if reason.group == MODEL_GROUP:
            parts.append(f"learned model {reason.score / SCORE_SCALE:.2f}")
            continue
        names = [t.term.rstrip("*") for t in reason.terms if t.where != "feed"][:limit]
        # A group that includes another (japan includes jpgov) would repeat its terms.
        if names and not set(names) <= shown:
            parts.append(f"{reason.group}: {', '.join(names)}")
            shown.update(names)
    return " · ".join(parts)


_LATIN = frozenset(string.ascii_letters + string.digits)


TITLE_MAX_CHARS = 200


def split_title(text: str) -> tuple[str, str]:
    """A document's first line is its title if it is short and more text follows."""
    lines = text.strip().splitlines()
    if len(lines) > 1 and len(lines[0].strip()) <= TITLE_MAX_CHARS:
        return lines[0].strip(), "\n".join(lines[1:])
    return "", text


@dataclass
class _Zones:
    """Where the title ends, the body starts, and which body spans are boilerplate."""

    title_end: int
    body_start: int
    # (start, end) spans of boilerplate inside the body
    boilerplate: list[tuple[int, int]]


class Matcher:
    """Built once per keyword set (the automaton), then pure and reusable."""

    def __init__(self, keywords: KeywordSet) -> None:
        self.keywords = keywords
        # One automaton over the folded needles; a needle shared by several terms (the same
        # word in two groups, or in two cases) maps to all of them.
        by_needle: dict[str, list[int]] = {}
        for index, term in enumerate(keywords.terms):
            by_needle.setdefault(fold(term.needle), []).append(index)
        self._needles = list(by_needle)
        self._needle_terms = [tuple(by_needle[n]) for n in self._needles]
        self.automaton = ahocorasick_rs.AhoCorasick(self._needles) if self._needles else None
        self._containable, self._coverers = self._containment()
        inline = [re.escape(fold(normalize(m))) for m in keywords.boilerplate.inline_markers]
        self._inline = re.compile("|".join(inline)) if inline else None
        self._block = tuple(fold(normalize(m)) for m in keywords.boilerplate.block_markers)
        # id(rule) -> (rule, compiled); holding the rule keeps its id from being reused
        self._compiled: dict[int, tuple[Node, Compiled]] = {}
        self._topics = tuple(g for g, spec in keywords.groups.items() if spec.kind == "topic")

    def _containment(self) -> tuple[frozenset[int], frozenset[int]]:
        """Which terms can be covered by a longer one (its own group's, an exclusion phrase,
        or a group it yields to), and which terms can cover. Only these need the
        containment check per hit; for every other hit the answer is known in advance."""
        groups = self.keywords.groups
        terms = self.keywords.terms
        covered: set[int] = set()
        covering: set[int] = set()
        if self.automaton is None:
            return frozenset(), frozenset()
        # The automaton finds every needle inside each longer needle in one pass over it
        # (comparing every pair of terms was quadratic: 35 million pairs, 1.6 s at start).
        for other_index, other in enumerate(terms):
            longer = fold(other.needle)
            for needle_index, _start, _end in self.automaton.find_matches_as_indexes(
                longer, overlapping=True
            ):
                if len(self._needles[needle_index]) >= len(longer):
                    continue
                for index in self._needle_terms[needle_index]:
                    term = terms[index]
                    if other.group == term.group or other.group in groups[term.group].yields_to:
                        covered.add(index)
                        covering.add(other_index)
        return frozenset(covered), frozenset(covering)

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
                folded.startswith(self._block) or not any(c.isalnum() for c in line)
            ):
                in_block = True
            if in_block:
                spans.append((offset, offset + len(line)))
            elif self._inline is not None:
                marker = self._inline.search(folded)
                if marker:
                    spans.append((offset + marker.start(), offset + len(line)))
            parts += [line, "\n"]
            offset += len(line) + 1
        return "".join(parts), _Zones(len(title_n), body_start, spans)

    # -- matching ----------------------------------------------------------------------

    def _hits(self, text: str) -> list[tuple[str, str, float, int]]:
        """(group, term label, weight, start offset) for every hit that counts."""
        terms = self.keywords.terms
        containable = self._containable
        folded = fold(text)
        n = len(text)
        raw: list[tuple[int, int, int]] = []  # (term index, start, stop)
        found = (
            self.automaton.find_matches_as_indexes(folded, overlapping=True)
            if self.automaton is not None
            else []
        )
        for needle, start, stop in found:
            for index in self._needle_terms[needle]:
                term = terms[index]
                if term.latin_start and start > 0 and text[start - 1] in _LATIN:
                    continue
                if term.latin_end and stop < n and text[stop] in _LATIN:
                    continue
                if term.exact_case and text[start:stop] != term.needle:
                    continue
                raw.append((index, start, stop))
        out: list[tuple[str, str, float, int]] = []
        # Hits of the (few) terms that can cover another; usually none in a given text.
        coverers = [h for h in raw if h[0] in self._coverers]
        for index, start, stop in raw:
            term = terms[index]
            if term.exclude:
                continue
            if coverers and index in containable and self._covered(coverers, index, start, stop):
                continue
            out.append((term.group, term.text, term.weight, start))
        for rx in self.keywords.regexes:
            for m in rx.pattern.finditer(text):
                if m.end() > m.start():
                    out.append((rx.group, rx.text, rx.weight, m.start()))
        return out

    def _covered(
        self, coverers: list[tuple[int, int, int]], index: int, start: int, stop: int
    ) -> bool:
        """True if the hit lies inside a longer hit of its own group, of one of its group's
        exclusion phrases, or of a group it yields to."""
        terms = self.keywords.terms
        group = terms[index].group
        yields = self.keywords.groups[group].yields_to
        for other_index, ostart, ostop in coverers:
            if ostart <= start and stop <= ostop and (ostop - ostart) > (stop - start):
                other = terms[other_index].group
                if other == group or other in yields:
                    return True
        return False

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
        # Zone boundaries as plain numbers: this loop runs for every hit of every article.
        title_end = zones.title_end
        lede_end = zones.body_start + settings.lede_chars
        tail_start = zones.body_start + settings.tail_after_chars
        spans = zones.boilerplate
        title_w, lede_w = settings.title_weight, settings.lede_weight
        body_w, tail_w = settings.body_weight, settings.tail_weight
        # (group, term) -> [best contribution, where, count, sum of the others]
        found: dict[tuple[str, str], list[Any]] = {}
        for group, label, weight, start in self._hits(text):
            if start < title_end:
                where, zone_weight = "title", title_w
            elif spans and any(a <= start < b for a, b in spans):
                where, zone_weight = "boilerplate", 0.0
            elif start < lede_end:
                where, zone_weight = "lede", lede_w
            elif start < tail_start:
                where, zone_weight = "body", body_w
            else:
                where, zone_weight = "tail", tail_w
            value = weight * zone_weight
            entry = found.get((group, label))
            if entry is None:
                found[(group, label)] = [value, where, 1, 0.0]
            elif value > entry[0]:
                entry[3] += entry[0]
                entry[0], entry[1] = value, where
                entry[2] += 1
            else:
                entry[3] += value
                entry[2] += 1
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
        groups = kw.groups
        # Absent groups are simply missing: the rule reads them as false / 0.
        present = {g: v > 0 and v >= groups[g].min_score for g, v in scores.items()}
        strengths = {g: 1 - math.exp(-s / settings.strength_scale) for g, s in scores.items()}
        node = rule if rule is not None else kw.rule(None)
        decision, strength = self._compiled_rule(node)(present, scores, strengths)
        if kw.model is not None and not decision and any(present.get(g) for g in self._topics):
            # The rules said no but a technology is there: ask the second opinion (only
            # now: it is the costly part, and could not change a yes or a no-topic entry).
            opinion = kw.model.opinion(features(title, summary, scores, feed_tags))
            score = opinion.probability * SCORE_SCALE
            scores[MODEL_GROUP] = score
            present[MODEL_GROUP] = score >= groups[MODEL_GROUP].min_score
            strengths[MODEL_GROUP] = opinion.probability
            details[MODEL_GROUP] = [
                TermHit(name, "model", 1, contribution) for name, contribution in opinion.top
            ]
            decision, strength = self._compiled_rule(node)(present, scores, strengths)
        reasons = tuple(
            GroupReason(
                group=g,
                label=kw.groups[g].label,
                kind=kw.groups[g].kind,
                score=scores[g],
                present=present.get(g, False),
                terms=tuple(sorted(details[g], key=lambda t: -t.contribution)),
            )
            for g in sorted(scores, key=lambda g: -scores[g])
        )
        topics = tuple(r.group for r in reasons if r.present and r.kind == "topic")
        return MatchResult(
            flagged=decision,
            score=round(100 * rule_score(strength, decision)),
            topics=topics,
            reasons=reasons,
            trace=tuple(trace(node, present=present, scores=scores, macros=kw.rules))
            if explain
            else (),
        )

    def _compiled_rule(self, rule: Node) -> Compiled:
        cached = self._compiled.get(id(rule))
        if cached is None or cached[0] is not rule:
            cached = self._compiled[id(rule)] = (rule, compile_rule(rule, self.keywords.rules))
        return cached[1]

    def decide(self, rule: Node, reasons: Sequence[GroupScore]) -> tuple[bool, int]:
        """Apply ``rule`` to a stored match without matching the text again: a
        subscription's own rule over the same group scores."""
        scores = {r.group: r.score for r in reasons}
        present = {r.group: r.present for r in reasons}
        scale = self.keywords.settings.strength_scale
        strengths = {g: 1 - math.exp(-v / scale) for g, v in scores.items()}
        decision, strength = self._compiled_rule(rule)(present, scores, strengths)
        return decision, round(100 * rule_score(strength, decision))
