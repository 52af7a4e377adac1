"""Rules over keyword groups: ``japan AND policy AND (semiconductors OR ai) AND japan >= foreign``.

Grammar (keywords are case-insensitive)::

    rule    := or
    or      := and ("OR" and)*
    and     := not ("AND" not)*
    not     := "NOT" not | atom
    atom    := "(" rule ")" | NAME op (sum | NUMBER) | NAME
    sum     := NAME ("+" NAME)*
    op      := ">" | ">=" | "<" | "<="

A NAME is a keyword group (true when the group's score reaches its ``min_score``) or a named
rule from ``keywords.yaml``. A comparison compares group scores (``japan >= foreign``), a
score with the sum of others (``business > policy + jpgov``) or with a number (``ai >= 4``).
A syntax error names the position.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.errors import RuleSyntaxError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<op>>=|<=|>|<|\+|\(|\)))"
)
_KEYWORDS = {"and", "or", "not"}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    left: Name
    op: str
    #: the groups whose scores are summed, or a number
    right: tuple[Name, ...] | float


Node = Name | Not | And | Or | Compare


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, name, op, kw, end
    text: str
    position: int


class _Parser:
    def __init__(self, text: str, path: str, key: str) -> None:
        self.text, self.path, self.key = text, path, key
        self.tokens = self._tokenize()
        self.index = 0

    def error(self, position: int, reason: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.path, self.key, self.text, position, reason)

    def _tokenize(self) -> list[_Tok]:
        tokens, position = [], 0
        while position < len(self.text):
            if self.text[position:].strip() == "":
                break
            match = _TOKEN.match(self.text, position)
            if not match:
                start = len(self.text) - len(self.text[position:].lstrip())
                raise self.error(start, f"unexpected character {self.text[start]!r}")
            kind = match.lastgroup or ""
            value = match.group(kind)
            start = match.start(kind)
            if kind == "name" and value.lower() in _KEYWORDS:
                kind, value = "kw", value.upper()
            tokens.append(_Tok(kind, value, start))
            position = match.end()
        tokens.append(_Tok("end", "", len(self.text)))
        return tokens

    @property
    def current(self) -> _Tok:
        return self.tokens[self.index]

    def take(self) -> _Tok:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error(0, "empty rule")
        node = self.parse_or()
        if self.current.kind != "end":
            raise self.error(
                self.current.position, f"expected AND, OR or the end, found {self.current.text!r}"
            )
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.current.kind == "kw" and self.current.text == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.current.kind == "kw" and self.current.text == "AND":
            self.take()
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_not(self) -> Node:
        if self.current.kind == "kw" and self.current.text == "NOT":
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.take()
        if token.kind == "op" and token.text == "(":
            node = self.parse_or()
            if self.current.text != ")":
                raise self.error(self.current.position, "missing closing parenthesis")
            self.take()
            return node
        if token.kind != "name":
            found = repr(token.text) if token.text else "the end of the rule"
            raise self.error(token.position, f"expected a group name or '(', found {found}")
        name = Name(token.text, token.position)
        if self.current.kind == "op" and self.current.text in _COMPARE:
            op = self.take().text
            right = self.take()
            if right.kind == "num":
                return Compare(name, op, float(right.text))
            if right.kind != "name":
                raise self.error(right.position, f"expected a group name or a number after {op!r}")
            terms = [Name(right.text, right.position)]
            while self.current.kind == "op" and self.current.text == "+":
                self.take()
                term = self.take()
                if term.kind != "name":
                    raise self.error(term.position, "expected a group name after '+'")
                terms.append(Name(term.text, term.position))
            return Compare(name, op, tuple(terms))
        return name


def parse_rule(text: str, *, path: str = "rule", key: str = "") -> Node:
    """Parse ``text``; raises RuleSyntaxError pointing at the offending position."""
    return _Parser(text, path, key).parse()


def names_in(node: Node) -> list[Name]:
    if isinstance(node, Name):
        return [node]
    if isinstance(node, Not):
        return names_in(node.child)
    if isinstance(node, And | Or):
        return [n for child in node.children for n in names_in(child)]
    right = list(node.right) if isinstance(node.right, tuple) else []
    return [node.left, *right]


def render(node: Node) -> str:
    """The rule as text (for explanations)."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Not):
        return f"NOT {render(node.child)}"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return joiner.join(
            f"({render(c)})" if isinstance(c, And | Or) else render(c) for c in node.children
        )
    right = (
        " + ".join(n.name for n in node.right)
        if isinstance(node.right, tuple)
        else f"{node.right:g}"
    )
    return f"{node.left.name} {node.op} {right}"


def trace(
    node: Node,
    *,
    present: Mapping[str, bool],
    scores: Mapping[str, float],
    macros: Mapping[str, Node],
) -> list[tuple[str, bool, str]]:
    """The rule's top-level AND parts (named rules expanded once), each with its truth and,
    for comparisons, the scores compared: what ``explain`` shows."""
    while isinstance(node, Name) and node.name in macros:
        node = macros[node.name]
    parts = node.children if isinstance(node, And) else (node,)
    out = []
    for part in parts:
        value = compile_rule(part, macros)(present, scores, {})[0]
        detail = ""
        if isinstance(part, Compare):
            right = (
                part.right
                if isinstance(part.right, float)
                else sum(scores.get(n.name, 0.0) for n in part.right)
            )
            detail = f"{scores.get(part.left.name, 0.0):.1f} vs {right:.1f}"
        elif isinstance(part, Name) and part.name in macros:
            detail = render(macros[part.name])
        out.append((render(part), value, detail))
    return out


Compiled = Callable[
    [Mapping[str, bool], Mapping[str, float], Mapping[str, float]], tuple[bool, float]
]
#: the strength of a condition that is not evidence: a comparison, or the absence of
#: something (NOT). The article's score measures the evidence for it, so such conditions
#: decide but do not raise the score (a story scores no higher for having no company news).
NEUTRAL = -1.0


def rule_score(strength: float, value: bool) -> float:
    """A rule's strength as a score: a rule made only of neutral conditions scores by its
    truth."""
    if strength == NEUTRAL:
        return 1.0 if value else 0.0
    return strength


def compile_rule(node: Node, macros: Mapping[str, Node]) -> Compiled:
    """The rule as nested closures: same results as :func:`evaluate`, without walking the
    tree for every article (matching runs this once per article)."""
    if isinstance(node, Name):
        if node.name in macros:
            return compile_rule(macros[node.name], macros)
        name = node.name
        return lambda p, sc, st: (p.get(name, False), st.get(name, 0.0))
    if isinstance(node, Not):
        child = compile_rule(node.child, macros)

        def not_(
            p: Mapping[str, bool], sc: Mapping[str, float], st: Mapping[str, float]
        ) -> tuple[bool, float]:
            value, _ = child(p, sc, st)
            return not value, NEUTRAL

        return not_
    if isinstance(node, And | Or):
        parts = [compile_rule(c, macros) for c in node.children]
        is_and = isinstance(node, And)

        def combine(
            p: Mapping[str, bool], sc: Mapping[str, float], st: Mapping[str, float]
        ) -> tuple[bool, float]:
            results = [f(p, sc, st) for f in parts]
            value = all(v for v, _ in results) if is_and else any(v for v, _ in results)
            evidence = [s for _, s in results if s != NEUTRAL]
            if not evidence:
                return value, NEUTRAL
            if is_and:
                return value, math.prod(evidence) ** (1 / len(evidence))
            return value, max(evidence)

        return combine
    compare = _COMPARE[node.op]
    left = node.left.name
    right = node.right if isinstance(node.right, float) else tuple(n.name for n in node.right)

    def cmp(
        p: Mapping[str, bool], sc: Mapping[str, float], st: Mapping[str, float]
    ) -> tuple[bool, float]:
        other = right if isinstance(right, float) else sum(sc.get(n, 0.0) for n in right)
        return compare(sc.get(left, 0.0), other), NEUTRAL

    return cmp
