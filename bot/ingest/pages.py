"""Entries from a web page that has no feed (``kind: page`` in feeds.yaml).

Pure and CPU-bound like :mod:`bot.ingest.parse`, and run in the same worker processes with
the same protections::

    decode the bytes        the charset of the header, else of the page's <meta> (or XML
                            declaration), checked as a feed's label is (bot.ingest.encoding)
    parse the HTML          lxml; links resolved against <base href>, else the final URL
    selectors               each match of page.items is an entry; within it the link
                            (page.link, default a[href]; the item itself may be the link),
                            the title (page.title, default the link's text) and the date
                            (page.date: its datetime attribute, else its text)
    auto                    the links of the main content (header, nav, footer, aside left
                            out) whose list item, table row, dt/dd pair or paragraph
                            carries a date; the title is the link's text
    entries                 identified by their canonical link; an entry without a link
                            (or a title) is skipped and counted in the warnings

A page that yields no entry at all is a :class:`~bot.errors.ParseError` that says so: a
redesigned site must show up in ``python -m bot feeds``, not as days of "no news".
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urldefrag, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from bot.config import DEFAULT_LINK_SELECTOR, PageConfig, compile_selector
from bot.errors import ParseError
from bot.ingest import dates, encoding
from bot.ingest.canonical import canonicalize
from bot.ingest.encoding import html_charset
from bot.ingest.parse import MAX_TITLE_CHARS, first_wins, make_article
from bot.models import ParsedFeed
from bot.text import clean_text, collapse

#: what a page source asks for (a feed's Accept prefers XML feed types)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

# RFC 3986 does not allow these in a URL; pages still put them in hrefs
_UNSAFE_IN_URL = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')
_INVISIBLE_TAGS = ("script", "style", "noscript", "template")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Auto mode: what is not the page's content. Whole elements, ARIA roles, and class or id
# tokens that name a site's navigation (gnav, global-nav, side-menu, footer, pankuzu ...).
_CHROME_TAGS = frozenset({"header", "nav", "footer", "aside", "form", "menu"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_CHROME_TOKEN = re.compile(
    r"^(?:(?:g|global|local|sub|side|site|main|page|common|header|footer)[-_]?)?"
    r"(?:nav|navi|navigation|menu|header|footer|breadcrumbs?|pankuzu|topicpath|sidebar"
    r"|side|skip|sns|share|utility)(?:[-_]\w*)?$",
    re.I,
)
_MAIN_XPATHS = (
    "//main",
    "//*[@role='main']",
    "//*[@id='main']",
    "//*[@id='contents']",
    "//*[@id='content']",
    "//*[@id='main-contents' or @id='mainContents' or @id='main_contents']",
)
# An entry of a list: the nearest of these around a link holds its date.
_RECORD_TAGS = frozenset({"li", "tr", "dt", "dd", "p"})
# Generic boxes are an entry only when they hold this one link and a date.
_BOX_TAGS = frozenset({"div", "article", "section", "span"})
_MAX_BOX_CHARS = 300
# A link in this many records is a label (a category, "詳細"), not an entry
_LABEL_RECORDS = 3
# A date heading above a list ("2024年4月9日" then the day's links)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "dt", "strong"})
_MAX_HEADING_CHARS = 40
_HEADING_LOOKBACK = 3
# What separates a date written inside a link's text from the title
_DATE_SEPARATORS = " \t:：|｜-－–—/・,、　()（）[]［］【】"


@dataclass
class _Tally:
    """What was skipped or not understood, for the feed's warnings."""

    no_link: int = 0
    no_title: int = 0
    bad_date: int = 0
    bad_date_example: str = ""
    no_date_element: int = 0
    no_title_element: int = 0
    duplicates: int = 0

    def warnings(self, page: PageConfig) -> list[str]:
        out = []
        if self.no_link:
            link = page.link_selector
            out.append(f"{self.no_link} item(s) without a link ({link!r} with an http(s) href)")
        if self.no_title:
            out.append(f"{self.no_title} item(s) without a title skipped")
        if self.no_title_element:
            out.append(
                f"title selector {page.title!r} matched nothing in {self.no_title_element} "
                "item(s); the link's text was used"
            )
        if self.no_date_element:
            out.append(
                f"date selector {page.date!r} matched nothing in {self.no_date_element} "
                "item(s); dated when first seen"
            )
        if self.bad_date:
            how = f"date_format {page.date_format!r}" if page.date_format else "any known format"
            out.append(
                f"{self.bad_date} date(s) not understood with {how} "
                f"(e.g. {self.bad_date_example!r}); dated when first seen"
            )
        if self.duplicates:
            out.append(f"{self.duplicates} item(s) repeat an earlier item's link (first kept)")
        return out


@dataclass(frozen=True)
class _Entry:
    link: str
    title: str
    published: datetime | None


def decode_page(body: bytes, headers: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """``(text, codec, notes)``: the page as text. The charset is the header's, else the
    page's own ``<meta>`` (or its XML declaration), with the same strict checks and
    fallbacks as a feed's label (Shift_JIS read as CP932, a wrong label detected)."""
    content_type = _header(headers, "content-type")
    label = encoding.header_charset(content_type) or html_charset(body)
    prepared = encoding.prepare(body, f"text/html; charset={label}" if label else None)
    text = prepared.data.decode(prepared.charset, "replace")
    return text, prepared.codec, [f"encoding: {note}" for note in prepared.notes]


def parse_page(
    body: bytes,
    headers: Mapping[str, str],
    *,
    feed: str,
    url: str,
    page: PageConfig,
    now: datetime,
    language_hint: str | None = None,
) -> ParsedFeed:
    """The entries of the page ``body`` (fetched from ``url``, the final URL) as ``page``
    describes them. Raises :class:`ParseError` when the body is not an HTML page or when
    nothing on it is an entry (kind ``no_items``)."""
    if not body.strip():
        raise ParseError(url, "empty response body", "empty")
    text, codec, warnings = decode_page(body, headers)
    root = _parse_html(text, url)
    base = _base_url(root, url)
    tally = _Tally()
    if page.auto:
        found = list(_auto_entries(root, base))
        if not found:
            raise ParseError(
                url,
                "auto: no dated link in the page's main content (a list item, table row, "
                "dt/dd pair or paragraph with a date and a link); the page may have changed "
                "or be filled in by a script: check with python -m bot preview-page",
                "no_items",
            )
        version = "html-auto"
    else:
        found = list(_selected_entries(root, base, page, tally, url))
        version = "html-selectors"
    articles = []
    seen: set[str] = set()
    for entry in found:
        canonical = canonicalize(clean_text(entry.link))
        if canonical in seen:
            tally.duplicates += 1
            continue
        seen.add(canonical)
        articles.append(
            make_article(
                feed=feed,
                entry_id=canonical,
                title=entry.title,
                link=entry.link,
                summary="",
                published=entry.published,
                updated=None,
                now=now,
                language=None,
                language_hint=language_hint,
                authors=(),
                tags=(),
                published_raw="",
            )
        )
    if not articles:
        raise ParseError(
            url,
            f"the items selector {page.items!r} matched {len(found) + tally.no_link} item(s) "
            "but none had a link and a title; the page may have changed: check with "
            "python -m bot preview-page",
            "no_items",
        )
    warnings += tally.warnings(page)
    title = root.findtext(".//title") or ""
    return ParsedFeed(
        title=clean_text(title, MAX_TITLE_CHARS),
        version=version,
        encoding=codec,
        articles=first_wins(articles),
        warnings=tuple(warnings),
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or ""


def _parse_html(text: str, url: str) -> lxml_html.HtmlElement:
    # A parser per call: lxml parsers must not be shared between threads, and one-shot
    # polls parse in threads. The text goes in as UTF-8 with the encoding stated, so no
    # <meta> or XML declaration can make libxml2 read it in another charset.
    parser = lxml_html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    try:
        root = lxml_html.document_fromstring(
            _XML_DECLARATION.sub("", text, count=1).encode("utf-8", "replace"), parser=parser
        )
    except (etree.ParserError, ValueError) as e:
        raise ParseError(url, f"not an HTML page: {e}", "not_a_page") from e
    etree.strip_elements(root, *_INVISIBLE_TAGS, with_tail=False)
    return root


def _base_url(root: lxml_html.HtmlElement, url: str) -> str:
    """Links resolve against the document's <base href> (itself resolved against the URL
    the page came from), else that URL."""
    for element in root.iter("base"):
        href = (element.get("href") or "").strip()
        if not href:
            continue
        try:
            base = urljoin(url, href)
        except ValueError:
            break
        if base.lower().startswith(("http://", "https://")):
            return base
        break
    return url


def resolve_link(base: str, href: str | None) -> str:
    """``href`` as an absolute http(s) URL without its fragment, or "" for what is not a
    page to open: an in-page anchor, ``javascript:``, ``mailto:``, a malformed address.
    Characters that may not stand in a URL (a space left in an href by a CMS, quotes,
    angle brackets, ``|``) are percent-encoded, so the link works when it is shown."""
    href = (href or "").strip()
    if not href or href.startswith("#"):
        return ""
    try:
        link = urldefrag(urljoin(base, href)).url
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return ""
    if scheme not in ("http", "https"):
        return ""
    return _UNSAFE_IN_URL.sub(lambda m: quote(m.group(), safe=""), link)


def _text(element: lxml_html.HtmlElement) -> str:
    return collapse(element.text_content())


def _link_title(element: lxml_html.HtmlElement) -> str:
    """A link's text, else its title attribute, else its image's alt text."""
    text = _text(element)
    if text:
        return text
    title = collapse(element.get("title") or "")
    if title:
        return title
    for image in element.iter("img"):
        alt = collapse(image.get("alt") or "")
        if alt:
            return alt
    return ""


# -- selectors -------------------------------------------------------------------------------


Select = Callable[[etree._Element], list[etree._Element]]


def _pair(item: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """Where an item's parts are: the item, or for a dt or dd the dt/dd pair (a what's-new
    list as <dl><dt>date</dt><dd>link</dd>... has the date outside the dd, and CSS cannot
    select a previous sibling)."""
    if item.tag == "dd":
        previous = item.getprevious()
        if previous is not None and previous.tag == "dt":
            return [previous, item]
    if item.tag == "dt":
        following = item.getnext()
        if following is not None and following.tag == "dd":
            return [item, following]
    return [item]


def _select(scope: list[lxml_html.HtmlElement], select: Select) -> list[lxml_html.HtmlElement]:
    return [e for part in scope for e in select(part) if isinstance(e, lxml_html.HtmlElement)]


def _first_link(
    scope: list[lxml_html.HtmlElement], select: Select, base: str
) -> tuple[lxml_html.HtmlElement, str] | None:
    for element in _select(scope, select):
        link = resolve_link(base, element.get("href"))
        if link:
            return element, link
    return None


def _selected_entries(
    root: lxml_html.HtmlElement, base: str, page: PageConfig, tally: _Tally, url: str
) -> Iterator[_Entry]:
    assert page.items is not None
    items = [e for e in compile_selector(page.items)(root) if isinstance(e, lxml_html.HtmlElement)]
    if not items:
        raise ParseError(
            url,
            f"the items selector {page.items!r} matched nothing on the page: the site may "
            "have changed; check with python -m bot preview-page",
            "no_items",
        )
    select_link = compile_selector(page.link or DEFAULT_LINK_SELECTOR)
    select_title = compile_selector(page.title) if page.title else None
    select_date = compile_selector(page.date) if page.date else None
    for item in items:
        scope = _pair(item)
        found = _first_link(scope, select_link, base)
        if found is None:
            tally.no_link += 1
            continue
        anchor, link = found
        title = ""
        if select_title is not None:
            matches = _select(scope, select_title)
            if matches:
                title = _text(matches[0])
            else:
                tally.no_title_element += 1
        title = title or _link_title(anchor)
        if not title:
            tally.no_title += 1
            continue
        published = None
        if select_date is not None:
            published = _selected_date(scope, select_date, page.date_format, tally)
        yield _Entry(link, title, published)


def _selected_date(
    scope: list[lxml_html.HtmlElement], select: Select, date_format: str | None, tally: _Tally
) -> datetime | None:
    matches = _select(scope, select)
    if not matches:
        tally.no_date_element += 1
        return None
    element = matches[0]
    raw = element.get("datetime") or element.get("content") or _text(element)
    when = dates.parse_page_date(raw, date_format)
    if when is None and date_format:
        # The page's text around the date changed (a weekday added, say): the date may
        # still be readable, but say that the format no longer matches.
        when = dates.parse_page_date(raw)
        tally.bad_date += 1
        tally.bad_date_example = tally.bad_date_example or raw[:60]
    elif when is None:
        tally.bad_date += 1
        tally.bad_date_example = tally.bad_date_example or raw[:60]
    return when


# -- auto --------------------------------------------------------------------------------------


def _is_chrome(element: etree._Element) -> bool:
    if not isinstance(element.tag, str):
        return False
    if element.tag.lower() in _CHROME_TAGS:
        return True
    if (element.get("role") or "").lower() in _CHROME_ROLES:
        return True
    tokens = (element.get("class") or "").split() + (element.get("id") or "").split()
    return any(_CHROME_TOKEN.match(token) for token in tokens)


def _without_chrome(scope: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """A copy of ``scope`` without the site's header, navigation, footer and sidebars."""
    kept = copy.deepcopy(scope)
    chrome = [e for e in kept.iter() if e is not kept and _is_chrome(e)]
    for element in chrome:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)  # its tail text goes with it: it is chrome too
    return kept


def _scopes(root: lxml_html.HtmlElement) -> Iterator[lxml_html.HtmlElement]:
    """Where the main content may be: the first landmark the page has, then the body."""
    for xpath in _MAIN_XPATHS:
        for element in root.xpath(xpath):
            if isinstance(element, lxml_html.HtmlElement):
                yield element
                break
    body = root.find("body")
    yield body if body is not None else root


def _auto_entries(root: lxml_html.HtmlElement, base: str) -> Iterator[_Entry]:
    tried: set[int] = set()
    for scope in _scopes(root):
        if id(scope) in tried:
            continue
        tried.add(id(scope))
        entries = list(_dated_links(_without_chrome(scope), base))
        if entries:
            yield from entries
            return


def _dated_links(scope: lxml_html.HtmlElement, base: str) -> Iterator[_Entry]:
    """One entry per dated record, in page order. A record with several links (a category
    label, the entry, a PDF icon) gives the link with the longest text; a link found in
    several records (the same category label or "詳細" page in each) is a label, never an
    entry."""
    records: dict[int, tuple[lxml_html.HtmlElement, list[tuple[str, str]]]] = {}
    for anchor in scope.iter("a"):
        link = resolve_link(base, anchor.get("href"))
        if not link:
            continue
        record = _record_of(anchor, scope)
        if record is None:
            continue
        title = _without_date(_link_title(anchor))
        if title:
            records.setdefault(id(record), (record, []))[1].append((link, title))
    spread = Counter(link for _, links in records.values() for link in {lk for lk, _ in links})
    for record, links in records.values():
        candidates = [(link, title) for link, title in links if spread[link] < _LABEL_RECORDS]
        if not candidates:
            continue
        found = dates.find_page_date(_record_text(record)) or _heading_date(record)
        if found is None:
            continue
        link, title = max(candidates, key=lambda pair: len(pair[1]))
        yield _Entry(link, title, found.when)


def _record_of(
    anchor: lxml_html.HtmlElement, scope: lxml_html.HtmlElement
) -> lxml_html.HtmlElement | None:
    """The entry a link belongs to: its nearest list item, table row, dt, dd or paragraph;
    or a box (div, article, section, span) that holds only this link and a date."""
    element = anchor.getparent()
    while element is not None and element is not scope:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _RECORD_TAGS:
            return element
        if tag in _BOX_TAGS:
            links = {e.get("href") for e in element.iter("a") if e.get("href")}
            if len(links) > 1:
                return None
            text = _text(element)
            if len(text) <= _MAX_BOX_CHARS and dates.find_page_date(text):
                return element
        element = element.getparent()
    return None


def _record_text(record: lxml_html.HtmlElement) -> str:
    """A dd's date is in its dt (and a dt's link may sit in its dd)."""
    return " ".join(_text(part) for part in _pair(record))


def _heading_date(record: lxml_html.HtmlElement) -> dates.PageDate | None:
    """A list under a date heading: 2024年4月9日, then that day's links."""
    if record.tag != "li":
        return None
    listing = record.getparent()
    if listing is None:
        return None
    sibling = listing.getprevious()
    for _ in range(_HEADING_LOOKBACK):
        if sibling is None:
            return None
        if sibling.tag in _HEADING_TAGS:
            text = _text(sibling)
            if len(text) <= _MAX_HEADING_CHARS:
                found = dates.find_page_date(text)
                if found:
                    return found
        sibling = sibling.getprevious()
    return None


def _without_date(title: str) -> str:
    """A link text that starts or ends with its date ("2024年4月9日 ○○を公表") without it."""
    found = dates.find_page_date(title)
    if found is None:
        return title
    if found.start == 0 or not title[: found.start].strip(_DATE_SEPARATORS):
        rest = title[found.end :].strip(_DATE_SEPARATORS)
    elif not title[found.end :].strip(_DATE_SEPARATORS):
        rest = title[: found.start].strip(_DATE_SEPARATORS)
    else:
        return title
    return rest or title
