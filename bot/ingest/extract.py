"""The readable text of a web page, for ``explain --url``.

Keeps the article: prefers ``<article>`` (then ``<main>``, then ``<body>``), drops navigation,
headers, footers, asides, forms and any element whose class or id says it is a sidebar,
related-links box, share bar or newsletter sign-up. Block elements become line breaks so
the matcher's boilerplate rules (teaser blocks, "関連記事" lines) still apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside",
     "form", "iframe", "button", "select", "figure"}
)  # fmt: skip
_VOID = frozenset({"br", "img", "meta", "link", "input", "hr", "source", "wbr", "area", "col"})
_BLOCK = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
     "section", "article", "main", "br", "hr", "dd", "dt", "table", "pre"}
)  # fmt: skip
_BOILERPLATE_ATTR = re.compile(
    r"related|sidebar|side-bar|recommend|newsletter|share|social|comment|breadcrumb|footer"
    r"|header|\bnav|menu|widget|promo|advert|\bads?\b|popular|ranking|subscribe|signup|cookie",
    re.I,
)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_SPACES = re.compile(r"[ \t\r\f\v]+")


@dataclass(frozen=True)
class Page:
    title: str
    text: str


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.og_title = ""
        self.in_title = False
        self.skip: list[str] = []  # tag names of the elements being skipped, innermost last
        self.containers: dict[str, list[str]] = {"article": [], "main": [], "body": []}
        self.open: list[str] = []  # containers currently open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and values.get("property") == "og:title":
            self.og_title = values.get("content") or ""
        if tag == "title":
            self.in_title = True
        if tag in _VOID:
            if tag in _BLOCK and not self.skip:
                self._emit("\n")
            return
        if self.skip:
            self.skip.append(tag)
            return
        marker = f"{values.get('class') or ''} {values.get('id') or ''}"
        if tag in _SKIP_TAGS or (marker.strip() and _BOILERPLATE_ATTR.search(marker)):
            self.skip.append(tag)
            return
        if tag in self.containers:
            self.open.append(tag)
        if tag in _BLOCK:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.skip:
            # Pop back to the matching start tag (HTML is not always balanced).
            if tag in self.skip:
                while self.skip and self.skip.pop() != tag:
                    pass
            return
        if tag in _BLOCK:
            self._emit("\n")
        if tag in self.open:
            self.open.remove(tag)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
            return
        if not self.skip:
            self._emit(data)

    def _emit(self, text: str) -> None:
        for name in self.open:
            self.containers[name].append(text)


def _clean(parts: list[str]) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def extract(html: str) -> Page:
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    text = ""
    for name in ("article", "main", "body"):
        text = _clean(parser.containers[name])
        if len(text) >= 200:
            break
    if not text:
        text = _clean(parser.containers["body"])
    title = _SPACES.sub(" ", parser.og_title or parser.title).strip()
    return Page(title=title, text=text)


def html_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None
