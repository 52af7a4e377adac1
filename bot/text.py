"""Plain text from feed HTML: tags stripped, entities decoded, whitespace collapsed, and
everything a reader cannot see or a terminal would obey removed (:func:`clean_text`).

Regular expressions rather than an HTML parser: summaries are small fragments, we only need
their visible text, and this runs for every entry of every feed (an ``html.parser`` pass cost
as much CPU as feedparser itself).
"""

from __future__ import annotations

import html
import re

# The inside of a tag, after its name: attribute values in quotes may hold ">" (alt="a>b"),
# so a quote right after "=" opens a value that runs to its closing quote. Any other quote is
# an ordinary character (href=x'y), and so is an unclosed one. An unquoted "<" is not part of
# a tag, so an unterminated "<a" fails at the next "<" instead of scanning the rest of the
# text once per "<". Possessive quantifiers: no backtracking, linear time on hostile input.
_TAG_BODY = r"""(?:[^<>"'=]++|=\s*+(?:"[^"]*+"|'[^']*+')?|["'])*+"""
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template|head|svg|iframe)\b" + _TAG_BODY + r">.*?</\1\s*>|<!--.*?-->",
    re.S | re.I,
)
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|section|article|header|footer|hr|dd"
    r"|dt|table|figure|figcaption|pre)\b" + _TAG_BODY + ">",
    re.I,
)
# A tag starts with a letter, "/", "!" or "?": "a <3 b" and "x < y" stay text.
_TAG = re.compile(r"</?[A-Za-z!?]" + _TAG_BODY + ">")
_SPACE = re.compile(r"\s+")

# What clean_text removes. Terminal control sequences go whole, so that no parameter bytes
# are left behind as text: CSI (ESC [ or its 8-bit form U+009B) with its parameters,
# intermediates and final byte; OSC, DCS, SOS, PM and APC strings (ESC ] P X ^ _ or their
# 8-bit forms) up to BEL or ST, or to the end of the text if unterminated (a terminal would
# swallow the rest as well); any other ESC with its intermediates and final byte.
_TERMINAL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Emoji (and the variation selector that makes one) on either side of a zero-width joiner.
_EMOJI_BEFORE = "\u2190-\u2bff\ufe0f\U0001f000-\U0001faff"
_EMOJI_AFTER = "\u2190-\u2bff\U0001f000-\U0001faff"
# Then, character by character:
# - C0 and C1 controls and DEL, but not the whitespace ones (tab, newlines, FS..US, NEL):
#   those become a space with the rest of the whitespace;
# - bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder
#   what follows them ("Trojan Source", CVE-2021-42574). The marks LRM/RLM/ALM stay: they
#   cannot move text around and Arabic or Hebrew titles use them;
# - characters that only hide text or split words so that keywords stop matching: zero-width
#   space and non-joiner, word joiner and the invisible operators (U+2060-U+2064), the BOM
#   used as a zero-width no-break space (U+FEFF), the soft hyphen and the Mongolian vowel
#   separator. Neither Japanese nor English needs any of them;
# - the zero-width joiner (U+200D) except between two emoji: there it builds one emoji from
#   several (👩‍💻, 🏳️‍🌈) and removing it would split the picture. Elsewhere it only hides.
_HIDDEN = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u180e\u200b\u200c\u2060-\u2064"
    "\u202a-\u202e\u2066-\u2069\ufeff]+"
    f"|(?<![{_EMOJI_BEFORE}])\u200d|\u200d(?![{_EMOJI_AFTER}])"
)
# Lone surrogates (from a JSON "\ud83d" or a bad reference) cannot even be encoded as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")
# One cheap search tells whether any of the above is present (it almost never is).
_SUSPECT = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u180e\u200b-\u200d\u2060-\u2064"
    "\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)


def collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def clean_text(text: str, limit: int | None = None) -> str:
    """``text`` as one clean line: terminal control sequences, control characters, bidi
    overrides and invisible characters removed (see ``_HIDDEN``), lone surrogates replaced
    by U+FFFD, whitespace collapsed, and cut to ``limit`` characters with an ellipsis.

    Every field the parser produces goes through here, so digests and terminals downstream
    only ever see text that renders as what it says."""
    if _SUSPECT.search(text):
        text = _TERMINAL.sub("", text)
        text = _HIDDEN.sub("", text)
        text = _SURROGATE.sub("\ufffd", text)
    text = collapse(text)
    return truncate(text, limit) if limit is not None else text


def strip_html(fragment: str) -> str:
    """An HTML fragment's text with tags and invisible elements removed and entities
    decoded, not yet cleaned: for callers that pass it through :func:`clean_text` anyway."""
    if "<" in fragment:
        fragment = _INVISIBLE.sub(" ", fragment)
        fragment = _BLOCK_TAG.sub(" ", fragment)
        fragment = _TAG.sub("", fragment)
    if "&" in fragment:
        fragment = html.unescape(fragment)
    return fragment


def html_to_text(fragment: str, limit: int | None = None) -> str:
    """Visible text of an HTML fragment (or plain text, which passes through decoded), as
    :func:`clean_text` leaves it."""
    return clean_text(strip_html(fragment), limit) if fragment else ""


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, on a word boundary where there is one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ellipsis
