"""Load and validate ``keywords.yaml``: groups of terms, feed tags, named rules, boilerplate.

Term syntax (see config/keywords.yaml for the full guide):

- ``semiconductor``: a word or phrase, any case; Latin terms match whole words only
  (letter/digit boundaries), Japanese terms match anywhere;
- ``chip*``: a prefix (chips, chipmaker, ...);
- ``{term: AI, case: exact}``: only in this exact case (``AI``, not ``ai`` or ``Ai``);
- ``{term: 政府, weight: 1.5}``: counts more (default 1);
- ``{regex: 'H3\\s?rocket'}``: a regular expression, checked at load;
- ``{product: [[Japan, Tokyo], [to, will, approves]]}``: every phrase made of one word from
  each list, joined by a space (``joiner`` to change it): "Japan to", "Tokyo approves"...
  Many phrases cost the matcher nothing (one Aho-Corasick pass), where one regex with the
  same alternatives is scanned over every article.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.errors import ConfigError, RuleSyntaxError
from bot.match.model import LinearModel
from bot.match.normalize import fold, normalize
from bot.match.rules import Node, names_in, parse_rule
from bot.yamlio import read_yaml, validate_file

KEYWORDS_FILE = "keywords.yaml"
DEFAULT_RULE = "default"
#: the pseudo-group whose score is the learned model's probability x 10
MODEL_GROUP = "model"
GroupKind = Literal["topic", "actor", "action", "foreign", "other"]

_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
_MAX_REGEX_LEN = 300


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductSpec(_Model):
    #: every combination of one word from each list, joined by ``joiner``
    product: tuple[tuple[str, ...], ...] = Field(min_length=1)
    joiner: str = " "

    def phrases(self) -> list[str]:
        return [self.joiner.join(parts) for parts in itertools.product(*self.product)]


class TermSpec(_Model):
    term: str | None = Field(None, min_length=1)
    regex: str | None = Field(None, min_length=1)
    product: tuple[tuple[str, ...], ...] | None = None
    joiner: str = " "
    case: Literal["any", "exact"] = "any"
    weight: float = Field(1.0, gt=0, le=10)

    @model_validator(mode="after")
    def _one_of(self) -> TermSpec:
        if [self.term, self.regex, self.product].count(None) != 2:
            raise ValueError("give one of 'term', 'regex' or 'product'")
        if self.product is not None and (
            not self.product or any(not words for words in self.product)
        ):
            raise ValueError("'product' needs lists of words, none of them empty")
        if self.regex is not None:
            check_regex(self.regex)
        if self.term is not None and not normalize(self.term.rstrip("*")):
            raise ValueError("a term needs at least one character besides '*'")
        return self


def check_regex(pattern: str) -> None:
    """Reject invalid regexes and the shapes that backtrack catastrophically."""
    if len(pattern) > _MAX_REGEX_LEN:
        raise ValueError(f"regex longer than {_MAX_REGEX_LEN} characters")
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"invalid regex {pattern!r}: {e}") from e
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(
            f"regex {pattern!r} repeats a repeated group (like (a+)+), which can take "
            "exponential time on some texts; rewrite it without the nested repetition"
        )


class GroupSpec(_Model):
    kind: GroupKind = "other"
    label: str | None = None
    #: the group is "present" (true in rules) when its score reaches this
    min_score: float = Field(1.0, ge=0)
    terms: tuple[TermSpec, ...] = ()
    #: other groups whose terms this group also has
    include: tuple[str, ...] = ()
    #: phrases inside which this group's terms do not count (中国 in 中国地方)
    exclude: tuple[str | ProductSpec, ...] = ()
    #: a match of this group's term inside a longer match of these groups' terms does not
    #: count (政府 inside 米国政府)
    yields_to: tuple[str, ...] = ()

    @field_validator("terms", mode="before")
    @classmethod
    def _terms(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"term": v} if isinstance(v, str) else v for v in value]
        return value


class ZoneSettings(_Model):
    title_weight: float = Field(3.0, ge=0)
    lede_weight: float = Field(1.5, ge=0)
    lede_chars: int = Field(400, ge=0)
    body_weight: float = Field(1.0, ge=0)
    #: beyond this many characters of body, matches weigh tail_weight (sidebars, footers)
    tail_after_chars: int = Field(3000, ge=0)
    tail_weight: float = Field(0.5, ge=0)
    #: repeats of a term add this share of its weight, at most doubling it
    repeat_share: float = Field(0.2, ge=0, le=1)
    #: a group's strength is 1 - exp(-score / strength_scale); the article score is built
    #: from the strengths of the groups its rule uses
    strength_scale: float = Field(2.5, gt=0)


class BoilerplateSpec(_Model):
    #: text after one of these, to the end of its line, counts for nothing ("関連記事：...")
    inline_markers: tuple[str, ...] = ()
    #: a line that starts with one of these begins a block of links and teasers: it and the
    #: short lines after it count for nothing, until a long paragraph
    block_markers: tuple[str, ...] = ()
    #: lines at least this long end a boilerplate block
    paragraph_chars: int = Field(250, ge=1)


class KeywordsFile(_Model):
    settings: ZoneSettings = ZoneSettings()
    boilerplate: BoilerplateSpec = BoilerplateSpec()
    groups: dict[str, GroupSpec]
    #: feed tag -> {group: score added to every article of feeds with that tag}
    feed_tags: dict[str, dict[str, float]] = {}
    #: named rules; "default" is used by subscriptions that name none
    rules: dict[str, str] = {}
    #: a learned second opinion (bot/match/model.py): its file, beside keywords.yaml; its
    #: probability is the score of the group ``model`` (x10), which rules may use
    model_file: str | None = None


@dataclass(frozen=True)
class Term:
    """A compiled term: what to look for and how to check a hit."""

    group: str
    text: str  # as written in the config
    needle: str  # normalised (and folded unless exact case) form searched for
    weight: float
    exact_case: bool
    prefix: bool
    latin_start: bool  # needs a word boundary before it
    latin_end: bool  # needs a word boundary after it
    exclude: bool = False  # an exclusion phrase, not a scoring term


@dataclass(frozen=True)
class RegexTerm:
    group: str
    text: str
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True)
class Group:
    name: str
    kind: GroupKind
    label: str
    min_score: float
    yields_to: frozenset[str]


@dataclass(frozen=True)
class KeywordSet:
    """Everything the matcher needs, validated and normalised once at load."""

    groups: dict[str, Group]
    terms: tuple[Term, ...]
    regexes: tuple[RegexTerm, ...]
    feed_tags: dict[str, dict[str, float]]
    rules: dict[str, Node]
    rule_texts: dict[str, str]
    settings: ZoneSettings
    boilerplate: BoilerplateSpec
    path: str
    #: the learned second opinion, if keywords.yaml names one
    model: LinearModel | None = None

    def rule(self, text: str | None, *, key: str = "rule", path: str | None = None) -> Node:
        """A rule by name, or parsed from ``text``; names are checked against the groups.
        Errors name ``path`` (default: keywords.yaml) and ``key``."""
        if text is None:
            return self.rules[DEFAULT_RULE]
        if text in self.rules:
            return self.rules[text]
        node = parse_rule(text, path=path or self.path, key=key)
        self._check_names(node, text, key, path)
        return node

    def _check_names(self, node: Node, text: str, key: str, path: str | None = None) -> None:
        for name in names_in(node):
            if name.name not in self.groups and name.name not in self.rules:
                known = ", ".join(sorted([*self.groups, *self.rules]))
                raise RuleSyntaxError(
                    path or self.path,
                    key,
                    text,
                    name.position,
                    f"unknown group or rule {name.name!r} (known: {known})",
                )


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _compile_term(group: str, spec: TermSpec) -> Term:
    assert spec.term is not None
    raw = spec.term.strip()
    prefix = raw.endswith("*")
    text = normalize(raw.rstrip("*"))
    exact = spec.case == "exact"
    return Term(
        group=group,
        text=raw,
        needle=text if exact else fold(text),
        weight=spec.weight,
        exact_case=exact,
        prefix=prefix,
        latin_start=_is_latin(text[0]),
        latin_end=_is_latin(text[-1]) and not prefix,
    )


def build_keywords(data: KeywordsFile, path: str) -> KeywordSet:
    names = set(data.groups)
    for gname, spec in data.groups.items():
        for ref in (*spec.include, *spec.yields_to):
            if ref not in names:
                raise ConfigError(path, f"groups.{gname}", f"refers to unknown group {ref!r}")
    for tag, boosts in data.feed_tags.items():
        for gname in boosts:
            if gname not in names:
                raise ConfigError(path, f"feed_tags.{tag}.{gname}", "no such group")

    def own_and_included(gname: str, seen: frozenset[str] = frozenset()) -> list[TermSpec]:
        if gname in seen:
            raise ConfigError(path, f"groups.{gname}.include", "includes itself (a cycle)")
        spec = data.groups[gname]
        out = list(spec.terms)
        for ref in spec.include:
            out += own_and_included(ref, seen | {gname})
        return out

    terms: list[Term] = []
    regexes: list[RegexTerm] = []
    groups: dict[str, Group] = {}
    for gname, spec in data.groups.items():
        groups[gname] = Group(
            name=gname,
            kind=spec.kind,
            label=spec.label or gname,
            min_score=spec.min_score,
            yields_to=frozenset(spec.yields_to),
        )
        for term_spec in own_and_included(gname):
            if term_spec.product is not None:
                expanded = ProductSpec(product=term_spec.product, joiner=term_spec.joiner)
                terms += [
                    _compile_term(
                        gname, TermSpec(term=p, case=term_spec.case, weight=term_spec.weight)
                    )
                    for p in expanded.phrases()
                ]
            elif term_spec.regex is not None:
                flags = 0 if term_spec.case == "exact" else re.IGNORECASE
                regexes.append(
                    RegexTerm(
                        gname, term_spec.regex, re.compile(term_spec.regex, flags), term_spec.weight
                    )
                )
            else:
                terms.append(_compile_term(gname, term_spec))
        for item in spec.exclude:
            for phrase in item.phrases() if isinstance(item, ProductSpec) else [item]:
                base = _compile_term(gname, TermSpec(term=phrase))
                terms.append(Term(**{**base.__dict__, "exclude": True}))

    keywords = KeywordSet(
        groups=groups,
        terms=_dedupe(terms),
        regexes=tuple(regexes),
        feed_tags=data.feed_tags,
        rules={},
        rule_texts=dict(data.rules),
        settings=data.settings,
        boilerplate=data.boilerplate,
        path=path,
    )
    # Named rules may use each other: parse all, then check names and cycles.
    for rname, text in data.rules.items():
        if rname in names:
            raise ConfigError(path, f"rules.{rname}", "a rule cannot have the name of a group")
        keywords.rules[rname] = parse_rule(text, path=path, key=f"rules.{rname}")
    for rname, node in keywords.rules.items():
        keywords._check_names(node, data.rules[rname], f"rules.{rname}")
        _check_cycle(keywords.rules, rname, path)
    if DEFAULT_RULE not in keywords.rules:
        raise ConfigError(path, "rules.default", "a default rule is required")
    return keywords


def _dedupe(terms: list[Term]) -> tuple[Term, ...]:
    """One entry per distinct term in a group (a term listed twice, or reached through
    ``include`` as well, would otherwise count twice); the highest weight wins."""
    best: dict[tuple[str, str, bool, bool, bool], Term] = {}
    for term in terms:
        key = (term.group, term.needle, term.exact_case, term.prefix, term.exclude)
        if key not in best or term.weight > best[key].weight:
            best[key] = term
    return tuple(best.values())


def _check_cycle(rules: dict[str, Node], start: str, path: str) -> None:
    stack: list[tuple[str, tuple[str, ...]]] = [(start, (start,))]
    while stack:
        name, trail = stack.pop()
        for ref in names_in(rules[name]):
            if ref.name == start:
                raise ConfigError(
                    path, f"rules.{start}", f"rule refers to itself: {' -> '.join((*trail, start))}"
                )
            if ref.name in rules and ref.name not in trail:
                stack.append((ref.name, (*trail, ref.name)))


def load_keywords(directory: Path) -> KeywordSet:
    """Load ``keywords.yaml`` from the config folder (ConfigError on any problem)."""
    path = directory / KEYWORDS_FILE
    if not path.exists():
        raise ConfigError(
            str(path),
            "",
            "file not found; copy config/keywords.yaml from the project into this folder",
        )
    data = validate_file(KeywordsFile, path, read_yaml(path, required=True))
    keywords = build_keywords(data, str(path))
    if data.model_file is None:
        return keywords
    if MODEL_GROUP not in keywords.groups:
        raise ConfigError(
            str(path),
            "model_file",
            f"a model needs a group named {MODEL_GROUP!r} (with no terms) for its score",
        )
    return dataclasses.replace(keywords, model=LinearModel.load(directory / data.model_file))
