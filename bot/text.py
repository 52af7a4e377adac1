"""Plain text from feed HTML: tags stripped, entities decoded, whitespace collapsed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe"})
_BLOCK = frozenset(
    {
        "p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "section", "article", "header", "footer", "hr", "dd", "dt",
        "table", "figure", "figcaption", "pre",
    }
)  # fmt: skip
_SPACE = re.compile(r"\s+")


class _Stripper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data)


def collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (or plain text, which passes through decoded)."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return collapse(html)
    stripper = _Stripper()
    stripper.feed(html)
    stripper.close()
    return collapse("".join(stripper.parts))


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, on a word boundary where there is one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ellipsis
