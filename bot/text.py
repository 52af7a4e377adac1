"""Plain text from feed HTML: tags stripped, entities decoded, whitespace collapsed.

Regular expressions rather than an HTML parser: summaries are small fragments, we only need
their visible text, and this runs for every entry of every feed (an ``html.parser`` pass cost
as much CPU as feedparser itself).
"""

from __future__ import annotations

import html
import re

_INVISIBLE = re.compile(
    r"<(script|style|noscript|template|head|svg|iframe)\b[^>]*>.*?</\1\s*>|<!--.*?-->",
    re.S | re.I,
)
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|section|article|header|footer|hr|dd"
    r"|dt|table|figure|figcaption|pre)\b[^>]*>",
    re.I,
)
# A tag starts with a letter, "/", "!" or "?": "a <3 b" and "x < y" stay text.
_TAG = re.compile(r"</?[A-Za-z!?][^>]*>")
_SPACE = re.compile(r"\s+")


def collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment (or plain text, which passes through decoded)."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _INVISIBLE.sub(" ", fragment)
        fragment = _BLOCK_TAG.sub(" ", fragment)
        fragment = _TAG.sub("", fragment)
    if "&" in fragment:
        fragment = html.unescape(fragment)
    return collapse(fragment)


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, on a word boundary where there is one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ellipsis
