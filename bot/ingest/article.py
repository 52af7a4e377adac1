"""The main text of an article page, and what kind of page it turned out to be.

:func:`extract_article` is pure (bytes or text in, a record out, no I/O), so it can run in a
worker process beside feed parsing; its arguments and its result pickle. It:

1. refuses what is not HTML (a PDF, an image, JSON, plain text) as ``not_html``;
2. decodes bytes by the HTTP header's charset, else the page's ``<meta>`` charset, with the
   same strict trials as a feed body (:mod:`bot.ingest.encoding`: Shift_JIS read as CP932,
   EUC-JP, undeclared Japanese);
3. extracts the main text with trafilatura, favouring precision (no comments, no tables):
   the matcher judges an entry by this text, so a sidebar headline that lands in it is a
   false match. Only when that finds nothing (a page whose content is a table, as
   vulnerability databases are) does it try again favouring recall, tables included;
4. tells a wall from an article: a paywall or registration teaser, or a cookie-consent
   interstitial, is classified and its banner kept out of ``text`` (a teaser's lead stays:
   it is still the best text there is for matching).

Numbers behind the choices are in ``bench/extract_compare.py`` (fixtures: tests/data/articles).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Final, Literal

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import Document

from bot.ingest.encoding import detect, header_charset, html_charset, kana_share

# trafilatura warns ("discarding data") on every page without a main text: an outcome here
# ("empty"), recorded on the entry, not a condition for the operator's log.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

Outcome = Literal["ok", "empty", "paywall", "cookie_wall", "not_html"]

#: Longest main text kept. The matcher needs the lead, not the whole of a 40-page white paper
#: or a Diet record; 20,000 characters is about ten printed pages of Japanese, keeps a stored
#: row and the record a worker pickles back to the parent small, and keeps matching time flat.
MAX_TEXT_CHARS: Final = 20_000
#: A wall sentence beside a main text longer than this is a footer or a sidebar promotion,
#: not a wall: a teaser is the lead and a few paragraphs at most.
TEASER_MAX_CHARS: Final = 1_500
#: A main text this short that itself speaks of membership or cookies is the promotion or
#: the banner, picked as main text because the page had nothing else.
BANNER_MAX_CHARS: Final = 400

# Sentences that say *this* article continues behind a wall. Searched in the whole visible
# page, so they must not be the generic labels every site's navigation carries ("会員登録",
# "Subscribe", "Sign in"). Japanese ones from real pages: Asahi's 「有料会員になると続きを
# お読みいただけます」 and 「無料登録して全文を読む」, Nikkei's 「この記事は会員限定です」.
_PAYWALL = re.compile(
    r"この記事は(?:有料|会員|読者会員|プレミアム)"
    r"|有料会員(?:限定|記事|になると|登録すると|の方は)|有料記事です"
    r"|続きを(?:読む|お読み|ご覧)(?:いただく)?(?:には|いただけます)|全文を(?:読む|お読み)(?:には|いただけます)"
    r"|(?:無料|会員)登録(?:して|すると|で)(?:全文|続き)|ログイン(?:して|すると)(?:全文|続き)"
    r"|残り\s*\d[\d,]*\s*文字"
    r"|subscribe (?:now )?to (?:continue|keep) reading|subscribe to read|to continue reading,"
    r"|subscribers? only|for subscribers|exclusive(?:ly)? for (?:subscribers|members)"
    r"|already (?:a subscriber|have an account)\?|(?:create|register for) a free account to"
    r"|(?:register|sign in|log in) to (?:continue|read the (?:full|rest))"
    r"|you(?:'|’)ve reached your (?:free )?(?:article|story) limit|reached the limit of free",
    re.IGNORECASE,
)
# Generic membership words: only a wall when the extracted text is short and says them.
_MEMBERSHIP = re.compile(
    r"会員登録|会員限定|有料会員|ユーザー登録|購読(?:する|のお申し込み|手続き)|ログインして"
    r"|subscribe (?:now|today|for|to)|become a (?:member|subscriber)|create (?:a free|an) account"
    r"|(?:sign|log) in to|register (?:now|for free|to)",
    re.IGNORECASE,
)
# A consent banner's own words; "cookie" alone is in every footer ("Cookie Policy").
_COOKIE = re.compile(
    r"(?:we|site|website) uses? cookies|use of cookies|accept (?:all )?cookies|reject all"
    r"|cookie (?:settings|preferences|consent)|consent preferences|before you continue to"
    r"|manage (?:options|preferences)|クッキー|Cookie(?:の|を)(?:使用|利用|受け入れ|許可)"
    r"|Cookie(?:\s*|の)設定|同意して(?:続行|続ける|閉じる|進む)|すべて許可",
    re.IGNORECASE,
)
#: A recall pass that finds less than this found a menu, not a table of content.
MIN_RECALL_CHARS: Final = 200
#: A page whose whole visible text is shorter than this and talks of cookies is the banner.
COOKIE_PAGE_MAX_CHARS: Final = 2_000

_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types that say nothing about the body; anything else not HTML is believed.
_UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_MARKUP = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|meta|div|p|article|main|h1|table|script)[\s>/]",
    re.I,
)
# Markup that is not a page: a feed, a sitemap, an image (the XML declaration already gone).
_NOT_PAGE = re.compile(
    r"\A\s*(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF|urlset|sitemapindex|svg)[\s>]", re.S | re.I
)
_BINARY_MAGIC = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")
_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg")
_SPACES = re.compile(r"[ \t\r\f\v\u3000]+")
_LANG = re.compile(r"[A-Za-z]{2,3}")


@dataclass(frozen=True)
class ArticleText:
    """What :func:`extract_article` found. ``text`` is the main text, paragraphs joined by a
    blank line, at most :data:`MAX_TEXT_CHARS`; it may be empty, and for a wall it holds only
    the teaser (never the wall's own message)."""

    text: str
    title: str | None
    language: str | None
    outcome: Outcome


def extract_article(html: bytes | str, url: str, *, content_type: str | None = None) -> ArticleText:
    """Extract the main text of the page ``html`` fetched from ``url``.

    ``content_type`` is the response's Content-Type header, if any: its charset outranks the
    page's ``<meta>``, and a type that is neither HTML nor unknown gives ``not_html``. Never
    raises for any input; every page is one of the outcomes.
    """
    if isinstance(html, bytes):
        if html.lstrip().startswith(_BINARY_MAGIC):
            return ArticleText("", None, None, "not_html")
        markup = decode_html(html, content_type)
    else:
        markup = html
    markup = _XML_DECLARATION.sub("", markup, count=1)
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _HTML_TYPES:
        is_page = not _NOT_PAGE.match(markup)
    else:  # an unknown type is sniffed; a known other type is believed
        is_page = media_type in _UNKNOWN_TYPES and bool(_MARKUP.search(markup[:4096]))
        is_page = is_page and not _NOT_PAGE.match(markup)
    if not is_page:
        return ArticleText("", None, None, "not_html")

    page = _parse(markup)
    head, og = _page_titles(page)
    visible = _visible_text(page)  # strips the tree: titles first
    document = _extract(markup, url, recall=False)
    text = _paragraphs(document)
    outcome = _wall(text, visible)
    # Only when precision found nothing: on a short article, recall brings the menu back.
    if outcome is None and not text:
        recalled = _extract(markup, url, recall=True)
        if len(_paragraphs(recalled)) >= MIN_RECALL_CHARS:
            document, text = recalled, _paragraphs(recalled)
            outcome = _wall(text, visible)
    if outcome == "paywall":
        text = _without(text, (_PAYWALL, _MEMBERSHIP))
    elif outcome == "cookie_wall":
        text = _without(text, (_COOKIE,))
    elif outcome is None:
        outcome = "ok" if text else "empty"
    return ArticleText(
        _capped(text), _title(document, head, og), _language(page, text or visible), outcome
    )


def _wall(text: str, visible: str) -> Outcome | None:
    """``paywall`` or ``cookie_wall`` if the page is one (see the limits above), else None."""
    if len(text) <= TEASER_MAX_CHARS and (_PAYWALL.search(visible) or _PAYWALL.search(text)):
        return "paywall"
    if len(text) <= BANNER_MAX_CHARS and _MEMBERSHIP.search(text):
        return "paywall"
    if len(text) <= BANNER_MAX_CHARS and (
        _COOKIE.search(text) or (len(visible) < COOKIE_PAGE_MAX_CHARS and _COOKIE.search(visible))
    ):
        return "cookie_wall"
    return None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page: the header's charset first (as a browser does), then the ``<meta>``
    one, each checked by the strict trials of :func:`bot.ingest.encoding.detect`."""
    label = header_charset(content_type) or html_charset(body)
    codec, _ = detect(body, f"text/html; charset={label}" if label else None)
    return body.decode(codec, errors="replace")


def _parse(markup: str) -> etree._Element | None:
    try:
        return lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return None


def _extract(markup: str, url: str, *, recall: bool) -> Document | None:
    document = trafilatura.bare_extraction(
        markup,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=recall,
        favor_precision=not recall,
        favor_recall=recall,
    )
    return document if isinstance(document, Document) else None


def _paragraphs(document: Document | None) -> str:
    """trafilatura's text has one block a line; we hand out one paragraph per blank line.
    A table row comes as ``| cell | cell |``: the outer bars go, empty rows with them."""
    if document is None or not document.text:
        return ""
    lines = (_SPACES.sub(" ", line).strip(" |") for line in document.text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def _page_titles(page: etree._Element | None) -> tuple[str, str]:
    """The page's ``<title>`` and ``og:title`` (either may be empty)."""
    if page is None:
        return "", ""
    titles = page.xpath("/html/head/title") or page.xpath("//title")
    head = _SPACES.sub(" ", titles[0].text_content()).strip() if titles else ""
    og = page.xpath("//meta[@property='og:title']/@content")
    return head, _SPACES.sub(" ", og[0]).strip() if og else ""


def _title(document: Document | None, head: str, og: str) -> str | None:
    """trafilatura's title when it is how the page's ``<title>`` begins (it drops the site's
    name well, but sometimes takes a logo's alt text), else ``og:title``, else ``<title>``."""
    found = _SPACES.sub(" ", document.title).strip() if document and document.title else ""
    if found and (not head or head.startswith(found)):
        return found
    return og or head or found or None


def _visible_text(page: etree._Element | None) -> str:
    if page is None:
        return ""
    etree.strip_elements(page, *_INVISIBLE, with_tail=False)
    return _SPACES.sub(" ", page.text_content())  # type: ignore[attr-defined]


def _language(page: etree._Element | None, text: str) -> str | None:
    """The page's own ``lang``, else Japanese if the text is kana-rich; else unknown."""
    if page is not None:
        declared = _LANG.match((page.get("lang") or page.get("xml:lang") or "").strip())
        if declared:
            return declared.group(0).lower()
    return "ja" if kana_share(text) > 0.2 else None


def _without(text: str, markers: tuple[re.Pattern[str], ...]) -> str:
    """The text up to its first paragraph that carries a wall's message (a teaser's lead
    comes first; what follows the message is the wall's buttons and small print)."""
    kept: list[str] = []
    for paragraph in text.split("\n\n"):
        if any(marker.search(paragraph) for marker in markers):
            break
        kept.append(paragraph)
    return "\n\n".join(kept)


def _capped(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut = text.rfind("\n\n", 0, MAX_TEXT_CHARS)
    return text[: cut if cut > MAX_TEXT_CHARS // 2 else MAX_TEXT_CHARS]
