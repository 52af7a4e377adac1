"""Main-text extractors compared on tests/data/articles (``python bench/extract_compare.py``).

Three extractors, each given the same decoded page:

- **trafilatura**, as the bot runs it: :func:`bot.ingest.article.extract_article`;
- **readability-lxml**: ``readability.Document(page).summary()``, then the summary's text
  (skipped, with a message, when the ``bench`` extra is not installed);
- **hand-written**: the extractor ``explain --url`` used before (bot/ingest/extract.py until
  it was replaced), kept here verbatim as the baseline.

For each page: must-include recall (phrases of the article found), must-exclude leaks
(navigation, sidebar, related or wall text found), text length, and milliseconds per page
(median of several runs, after a warm-up: trafilatura's first call loads its data). Phrases
are matched with whitespace collapsed on both sides, so line breaks do not count against
anyone. Rows per fixture, then per group (Japanese articles, English articles, walls).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.ingest.article import decode_html, extract_article  # noqa: E402

ARTICLES = ROOT / "tests" / "data" / "articles"
RUNS = 5


# -- the baseline: the hand-written extractor, as it was ------------------------------------

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


# -- the comparison -------------------------------------------------------------------------


def lxml_text(fragment: str) -> str:
    import lxml.html

    tree = lxml.html.fromstring(fragment)
    for block in tree.iter("p", "div", "li", "h1", "h2", "h3", "h4", "br", "tr", "blockquote"):
        block.tail = "\n" + (block.tail or "")
    return tree.text_content()


def extractors() -> dict[str, Callable[[str, str], str]]:
    found: dict[str, Callable[[str, str], str]] = {
        "trafilatura": lambda page, url: extract_article(page, url).text,
    }
    try:
        import readability  # type: ignore[import-untyped]
    except ImportError:
        print(
            "readability-lxml is not installed: its column is skipped "
            '(pip install -e ".[bench]" to compare with it)\n'
        )
    else:
        found["readability"] = lambda page, url: lxml_text(readability.Document(page).summary())
    found["hand-written"] = lambda page, url: extract(page).text
    return found


@dataclass
class Row:
    fixture: str
    group: str
    extractor: str
    found: int
    wanted: int
    leaks: int
    excluded: int
    length: int
    ms: float


def flat(text: str) -> str:
    return " ".join(text.split())


def measure(entry: dict[str, object], name: str, run: Callable[[str, str], str]) -> Row:
    page = decode_html((ARTICLES / str(entry["file"])).read_bytes())
    url = str(entry["url"])
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        text = run(page, url)
        times.append(time.perf_counter() - start)
    got = flat(text)
    include = [flat(p) for p in entry["must_include"]]  # type: ignore[attr-defined]
    exclude = [flat(p) for p in entry["must_exclude"]]  # type: ignore[attr-defined]
    group = "walls" if entry["outcome"] != "ok" else f"{entry['language']} articles"
    return Row(
        fixture=str(entry["file"]).removesuffix(".html"),
        group=group,
        extractor=name,
        found=sum(p in got for p in include),
        wanted=len(include),
        leaks=sum(p in got for p in exclude),
        excluded=len(exclude),
        length=len(text),
        ms=statistics.median(times) * 1000,
    )


def main() -> None:
    entries = json.loads((ARTICLES / "manifest.json").read_text(encoding="utf-8"))["articles"]
    absent = [e["file"] for e in entries if not (ARTICLES / e["file"]).is_file()]
    if absent:
        # Pages marked "committed": false were only fetched and are kept out of the repository
        # (tests/data/articles/.gitignore); the bench uses them when they are on the machine.
        print(f"skipped, not on this machine: {', '.join(absent)}\n")
    entries = [e for e in entries if e["file"] not in absent]
    runners = extractors()
    warm = decode_html((ARTICLES / entries[0]["file"]).read_bytes())
    for run in runners.values():
        run(warm, "https://example.com/")
    rows = [measure(e, name, run) for e in entries for name, run in runners.items()]

    print(f"{'fixture':<36} {'extractor':<13} {'recall':>7} {'leaks':>6} {'chars':>7} {'ms':>7}")
    for row in rows:
        print(
            f"{row.fixture:<36} {row.extractor:<13} {row.found:>3}/{row.wanted:<3} "
            f"{row.leaks:>2}/{row.excluded:<3} {row.length:>7} {row.ms:>7.1f}"
        )
    print()
    print(
        f"{'group':<14} {'extractor':<13} {'recall':>8} {'leaks':>8} {'mean chars':>11} {'ms/page':>8}"
    )
    for group in ("ja articles", "en articles", "walls"):
        for name in runners:
            mine = [r for r in rows if r.group == group and r.extractor == name]
            if not mine:
                continue
            found, wanted = sum(r.found for r in mine), sum(r.wanted for r in mine)
            leaks, excluded = sum(r.leaks for r in mine), sum(r.excluded for r in mine)
            recall = f"{found / wanted:.0%}" if wanted else "-"
            print(
                f"{group:<14} {name:<13} {recall:>8} {f'{leaks}/{excluded}':>8} "
                f"{statistics.mean(r.length for r in mine):>11.0f} "
                f"{statistics.mean(r.ms for r in mine):>8.1f}"
            )


if __name__ == "__main__":
    main()
