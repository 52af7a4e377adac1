"""Byte-level repairs of a feed body before feedparser parses it.

Both take and return bytes in an ASCII-compatible encoding whose multibyte sequences never
contain ASCII bytes (what :func:`bot.ingest.encoding.prepare` hands over), so ``&``, ``#``, digits,
``<`` and quotes found here are real characters.

- :func:`rewrite_char_refs`: a numeric character reference no XML parser accepts (a UTF-16
  surrogate as real CMSs emit for emoji, a NUL, a number past U+10FFFF) makes expat give up,
  and feedparser's lenient parser then raises on it (``chr()`` of a surrogate cannot even be
  encoded), so one bad reference failed the whole feed on every poll.
- :func:`strip_internal_subset`: internal entities are expanded by both of feedparser's
  parsers, so a 40 KB document that defines one 10,000-character entity and uses it 10,000
  times becomes a 100-million-character title. Feeds never need internal entities (the HTML
  named ones, which feedparser knows without a declaration, are all they use).
"""

from __future__ import annotations

import re

_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_REPLACEMENT = b"&#xFFFD;"
# XML 1.0's Char production (section 2.2): anything else is refused even as a reference.
_MAX_DIGITS = 8  # more than any code point needs, before int() of a hostile digit string
# Longer references are valid when their digits are zeros, but feedparser's lenient parser
# int()s the raw digits and fails past 4,300 of them: they are shortened.
_MAX_REF_LENGTH = 12


def _value(match: re.Match[bytes]) -> int | None:
    hex_digits, digits = match.group(1), match.group(2)
    text = (hex_digits or digits).lstrip(b"0") or b"0"
    if len(text) > _MAX_DIGITS:
        return None
    return int(text, 16 if hex_digits else 10)


def _allowed(value: int) -> bool:
    return (
        value in (0x9, 0xA, 0xD)
        or 0x20 <= value <= 0xD7FF
        or 0xE000 <= value <= 0xFFFD
        or 0x10000 <= value <= 0x10FFFF
    )


def _shown(raw: bytes) -> str:
    text = raw.decode("ascii")
    return text if len(text) <= 16 else text[:12] + "...;"


def rewrite_char_refs(body: bytes) -> tuple[bytes, str | None]:
    """Rewrite the numeric character references XML forbids: a high and a low surrogate
    next to each other become the one character they encode (``&#55357;&#56832;`` -> 😀),
    and every other forbidden reference (a lone surrogate, NUL and the other C0 controls
    but tab and newlines, U+FFFE/U+FFFF, anything past U+10FFFF) becomes U+FFFD. Returns the
    body (the same object when nothing needed rewriting) and a note saying what changed."""
    if b"&#" not in body:
        return body, None
    bad = [
        (match, value)
        for match in _CHAR_REF.finditer(body)
        if (value := _value(match)) is None
        or not _allowed(value)
        or match.end() - match.start() > _MAX_REF_LENGTH
    ]
    if not bad:
        return body, None
    pieces: list[bytes] = []
    start = joined = replaced = shortened = 0
    i = 0
    while i < len(bad):
        match, value = bad[i]
        pieces.append(body[start : match.start()])
        if value is not None and 0xD800 <= value <= 0xDBFF and i + 1 < len(bad):
            low, low_value = bad[i + 1]
            adjacent = low.start() == match.end()
            if adjacent and low_value is not None and 0xDC00 <= low_value <= 0xDFFF:
                code = 0x10000 + ((value - 0xD800) << 10) + (low_value - 0xDC00)
                pieces.append(b"&#x%X;" % code)
                start = low.end()
                joined += 1
                i += 2
                continue
        if value is not None and _allowed(value):
            pieces.append(b"&#x%X;" % value)
            shortened += 1
        else:
            pieces.append(_REPLACEMENT)
            replaced += 1
        start = match.end()
        i += 1
    pieces.append(body[start:])
    examples = [_shown(match.group()) for match, _ in bad[:3]]
    done = []
    if joined:
        done.append(f"{joined} surrogate pair(s) joined into one character each")
    if replaced:
        done.append(f"{replaced} replaced by U+FFFD")
    if shortened:
        done.append(f"{shortened} zero-padded one(s) shortened")
    more = ", ..." if len(bad) > len(examples) else ""
    note = (
        f"numeric character references XML forbids or feedparser cannot read"
        f" ({', '.join(examples)}{more}): {'; '.join(done)}"
    )
    return b"".join(pieces), note


# The prolog before a DOCTYPE: a declaration, processing instructions, comments, whitespace
# (atomic groups and possessive repeats: linear on hostile input).
_PROLOG = rb"""\A(?:\xef\xbb\xbf)?(?:(?><\?.*?\?>)|(?><!--.*?-->)|\s++)*+"""
_QUOTED = rb"""(?:"[^"]*+"|'[^']*+')"""
_DOCTYPE_WITH_SUBSET = re.compile(
    _PROLOG
    + rb"<!DOCTYPE\s++[^\s\[>]++(?:\s++(?:SYSTEM|PUBLIC)(?:\s*+"
    + _QUOTED
    + rb")++)?+\s*+(\[)",
    re.S | re.I,
)
# The internal subset after its "[": declarations with quoted literals (which may hold "]"
# and ">"), comments and processing instructions, up to the "]" that closes it.
_SUBSET_REST = re.compile(
    rb"(?:" + _QUOTED + rb"""|(?><!--.*?-->)|(?><\?.*?\?>)|[^\]"'<]++|<)*+\]""", re.S
)
_ENTITY_NAME = re.compile(rb"<!ENTITY\s++(%\s++)?([^\s\"'>]++)")


def strip_internal_subset(body: bytes) -> tuple[bytes, str | None]:
    """Remove the DOCTYPE's internal subset (``<!DOCTYPE rss [ ... ]>`` becomes
    ``<!DOCTYPE rss>``; a public or system identifier stays, so RSS 0.91's Netscape DOCTYPE
    still names its version). Returns the body (the same object when there was no subset)
    and a note naming the entities it declared.

    Raises ValueError when the subset never closes: nothing after it could be a feed."""
    match = _DOCTYPE_WITH_SUBSET.match(body)
    if match is None:
        return body, None
    opened = match.start(1)
    rest = _SUBSET_REST.match(body, opened + 1)
    if rest is None:
        raise ValueError("the DOCTYPE's internal subset never closes")
    subset = body[opened : rest.end()]
    names = [(b"%" if percent else b"") + name for percent, name in _ENTITY_NAME.findall(subset)]
    shown = ", ".join(name.decode("ascii", "replace")[:40] for name in names[:5])
    if len(names) > 5:
        shown += f" and {len(names) - 5} more"
    what = f"declaring entities {shown}" if names else "declaring no entities"
    note = (
        f"DOCTYPE internal subset removed ({len(subset):,} bytes, {what}): feeds need no"
        " internal entities, and their expansion is unbounded"
    )
    return body[:opened] + body[rest.end() :], note
