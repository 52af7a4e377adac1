"""Parse a fetched feed body into :class:`~bot.models.Article` records.

Pure and CPU-bound: the poller runs it in worker processes. feedparser gets the raw bytes
and the response headers (never decoded text), with a charset chosen by
:mod:`bot.ingest.encoding`; RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 go through feedparser, JSON Feed is
read here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.errors import ParseError
from bot.ingest import dates, encoding, xmlrepair
from bot.ingest.canonical import canonicalize
from bot.models import Article, DateSource, ParsedFeed
from bot.text import clean_text, strip_html

#: Caps on what one entry can put in front of a reader (after HTML is reduced to text).
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 4000
MAX_NAME_CHARS = 200  # one author or tag
#: published times further ahead than this are a publisher's clock or zone error
FUTURE_TOLERANCE = timedelta(minutes=15)
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
_LEADING_SPACE_DECL = re.compile(rb"^\s+<\?xml")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def detect_language(text: str, fallback: str | None) -> str:
    """``ja`` if a real share of the letters are Japanese, else ``en`` (or ``fallback``)."""
    japanese = len(_JAPANESE.findall(text))
    latin = len(_LATIN.findall(text))
    if japanese and japanese * 3 >= latin * 0.3:
        return "ja"
    if latin:
        return "en"
    return fallback or "en"


def _content_hash(title: str, summary: str, link: str) -> str:
    return hashlib.sha256(f"{title}\0{summary}\0{link}".encode()).hexdigest()[:32]


def make_article(
    *,
    feed: str,
    entry_id: str | None,
    title: str,
    link: str,
    summary: str,
    published: datetime | None,
    updated: datetime | None,
    now: datetime,
    language: str | None,
    language_hint: str | None,
    authors: tuple[str, ...],
    tags: tuple[str, ...],
    published_raw: str,
) -> Article:
    """One entry as an Article, from a feed or a page (bot.ingest.pages): text cleaned and
    capped, the link canonicalised, the date chosen (published, updated, else first seen)."""
    # Every field a reader sees goes through clean_text, here and only here.
    title = clean_text(title, MAX_TITLE_CHARS)
    summary = clean_text(summary, MAX_SUMMARY_CHARS)
    link, canonical = _link_and_canonical(clean_text(link))
    authors = tuple(a for a in (clean_text(a, MAX_NAME_CHARS) for a in authors) if a)
    tags = tuple(t for t in (clean_text(t, MAX_NAME_CHARS) for t in tags) if t)
    if not entry_id:
        entry_id = link or _fallback_id(title, published_raw, summary)
    # Kept as the feed wrote it (it is an identity), except NUL, which PostgreSQL text
    # cannot hold: one such id would otherwise refuse the whole batch on every poll.
    entry_id = entry_id.replace("\x00", "\ufffd")
    language = language or detect_language(f"{title} {summary[:300]}", language_hint)
    source: DateSource = "published"
    when = published
    if when is None:
        when, source = updated, "updated"
    if when is None or when > now + FUTURE_TOLERANCE:
        when, source = now, "first_seen"
    return Article(
        feed=feed,
        entry_id=entry_id,
        title=title,
        link=link,
        canonical_link=canonical,
        summary=summary,
        published=when,
        date_source=source,
        updated=updated,
        language=language,
        authors=authors,
        tags=tags,
        content_hash=_content_hash(title, summary, canonical),
    )


def _link_and_canonical(link: str) -> tuple[str, str]:
    """The link and its canonical form. A link no URL parser reads (an unclosed IPv6
    bracket) is dropped: every later stage that opens it would raise."""
    if not link:
        return "", ""
    try:
        urlsplit(link)
    except ValueError:
        return "", ""
    try:
        return link, canonicalize(link)
    except ValueError:  # a redirector wrapping such a link: keep the link as it is
        return link, link


def _fallback_id(title: str, date: str, summary: str) -> str:
    """No guid and no link: the entry is what it says. Two entries are one only if title,
    date and summary all agree (items with only a description, or a generic title such as
    お知らせ on the same day, stay apart). The summary joins the key only when there is one,
    so entries without one keep the ids earlier versions gave them."""
    key = f"{title}\0{date}" + (f"\0{summary}" if summary else "")
    return "sha1:" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()


def _text_of(detail: Mapping[str, Any] | None, value: str) -> str:
    kind = (detail or {}).get("type", "text/plain")
    if kind in _HTML_TYPES:
        return strip_html(value)
    # Plain-text titles still arrive double-escaped ("&amp;#165;") from many publishers;
    # decode entities but keep a literal "<update>" as text.
    return html.unescape(value) if "&" in value else value


def _raw(entry: Any, key: str) -> Any:
    # dict.get, not FeedParserDict.get: the latter maps a missing "updated" to "published"
    # (with a DeprecationWarning), which would blur the two dates.
    return dict.get(entry, key)


def _feedparser_entry(
    entry: Any, *, feed: str, base: str, now: datetime, local: tzinfo, language_hint: str | None
) -> Article:
    title = _text_of(entry.get("title_detail"), entry.get("title", ""))
    link = (entry.get("link") or "").strip()
    if not link and entry.get("guidislink"):
        link = entry.get("id", "")
    if link and not _ABSOLUTE.match(link):
        try:
            link = urljoin(base, link)
        except ValueError:
            link = ""  # "//[zz/x": not a URL any stage could read
    html = entry.get("summary", "")
    if not html and entry.get("content"):
        html = entry["content"][0].get("value", "")
    summary = strip_html(html) if html else ""
    published_raw = _raw(entry, "published") or ""
    published = dates.entry_datetime(published_raw, _raw(entry, "published_parsed"), local)
    updated_raw = _raw(entry, "updated") or ""
    updated = dates.entry_datetime(updated_raw, _raw(entry, "updated_parsed"), local)
    created_raw = ""
    if published is None and updated is None:
        # Atom 0.3 <created> (feedparser keeps it apart from <issued>, its "published"): the
        # entry's own date is better than the time we first saw it.
        created_raw = _raw(entry, "created") or ""
        published = dates.entry_datetime(created_raw, _raw(entry, "created_parsed"), local)
    # Empty author and category elements come back as None; make_article drops blanks.
    authors = tuple(a.get("name") or "" for a in entry.get("authors") or ())
    if not any(authors) and entry.get("author"):
        authors = (entry["author"],)
    tags = tuple(t.get("term") or "" for t in entry.get("tags") or ())
    return make_article(
        feed=feed,
        entry_id=(entry.get("id") or "").strip() or None,
        title=title,
        link=link,
        summary=summary,
        published=published,
        updated=updated,
        now=now,
        language=None,
        language_hint=language_hint,
        authors=authors,
        tags=tags,
        published_raw=published_raw or updated_raw or created_raw,
    )


def _looks_like_json(body: bytes, content_type: str) -> bool:
    return "json" in content_type or body.lstrip()[:1] == b"{"


def _json_str(value: Any) -> str:
    """A JSON value that should be a string: numbers are accepted, anything else is not."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _json_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse_json_feed(
    body: bytes, *, feed: str, now: datetime, local: tzinfo, language_hint: str | None, url: str
) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        # ValueError: JSONDecodeError, and integers too long to convert; RecursionError:
        # arrays nested thousands deep.
        raise ParseError(url, f"invalid JSON: {e}", "not_a_feed") from e
    if not isinstance(data, dict) or "jsonfeed.org" not in _json_str(data.get("version")):
        raise ParseError(
            url, "JSON document is not a JSON Feed (no jsonfeed.org version)", "not_a_feed"
        )
    items = data.get("items")
    if items is not None and not isinstance(items, list):
        raise ParseError(url, "JSON Feed whose items are not a list", "not_a_feed")
    articles = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        title = _json_str(item.get("title"))
        html = (
            _json_str(item.get("summary"))
            or _json_str(item.get("content_html"))
            or _json_str(item.get("content_text"))
        )
        summary = strip_html(html)
        raw = _json_str(item.get("date_published"))
        modified = _json_str(item.get("date_modified"))
        authors_raw = _json_list(item.get("authors")) or [item.get("author")]
        language = clean_text(_json_str(item.get("language")))[:16]
        articles.append(
            make_article(
                feed=feed,
                entry_id=_json_str(item.get("id")).strip() or None,
                title=title,
                link=(_json_str(item.get("url")) or _json_str(item.get("external_url"))).strip(),
                summary=summary,
                published=dates.entry_datetime(raw, None, local) if raw else None,
                updated=dates.entry_datetime(modified, None, local) if modified else None,
                now=now,
                language=language,
                language_hint=language_hint,
                authors=tuple(_json_str(a.get("name")) for a in authors_raw if isinstance(a, dict)),
                tags=tuple(_json_str(t) for t in _json_list(item.get("tags"))),
                published_raw=raw,
            )
        )
    return ParsedFeed(
        title=clean_text(_json_str(data.get("title")), MAX_TITLE_CHARS),
        version="json1",
        encoding="utf-8",
        articles=first_wins(articles),
    )


def first_wins(articles: list[Article]) -> tuple[Article, ...]:
    """A feed that lists an entry twice: the first occurrence wins."""
    seen: set[str] = set()
    out = []
    for article in articles:
        if article.entry_id not in seen:
            seen.add(article.entry_id)
            out.append(article)
    return tuple(out)


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    feed: str,
    url: str,
    now: datetime,
    language_hint: str | None = None,
) -> ParsedFeed:
    """Parse ``body`` (as fetched from ``url``) into articles.

    Raises :class:`ParseError` when the body is not a feed at all (an HTML page, an error
    document, an empty body). A feed that is malformed but yields entries is returned with
    its problems in ``warnings``.
    """
    content_type = _header(headers, "content-type")
    media_type = content_type.split(";")[0].strip().lower()
    if not body.strip():
        raise ParseError(url, "empty response body", "empty")
    if _looks_like_json(body, media_type):
        return _parse_json_feed(
            body,
            feed=feed,
            now=now,
            local=_zone(language_hint),
            language_hint=language_hint,
            url=url,
        )

    warnings: list[str] = []
    prepared = encoding.prepare(body, content_type)
    warnings.extend(f"encoding: {note}" for note in prepared.notes)
    data = prepared.data
    if _LEADING_SPACE_DECL.match(data):
        # Whitespace before <?xml is not well-formed; stripping it keeps the fast parser.
        data = data.lstrip()
        warnings.append("whitespace before the XML declaration (ignored)")
    try:
        data, note = xmlrepair.strip_internal_subset(data)
    except ValueError as e:
        raise ParseError(url, f"not an RSS/Atom feed: {e}", "not_a_feed") from e
    if note:
        warnings.append(note)
    data, note = xmlrepair.rewrite_char_refs(data)
    if note:
        warnings.append(note)
    if media_type and "xml" not in media_type and media_type not in ("text/plain",):
        warnings.append(f"served as {media_type}, not an XML feed type")
    try:
        parsed = feedparser.parse(
            data,
            # No content-location: feedparser would then resolve every link and guid of
            # every entry (a quarter of its time); we resolve the one link we keep.
            response_headers={"content-type": f"application/xml; charset={prepared.charset}"},
            # We reduce HTML to plain text ourselves; both passes would cost 2x CPU.
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except MemoryError:
        raise
    except Exception as e:
        # feedparser's lenient parser raises on input we did not foresee (it raised
        # UnicodeEncodeError and OverflowError on character references before
        # bot.ingest.xmlrepair); that is this document's problem, not the poll's.
        raise ParseError(
            url, f"the feed parser failed on this document: {type(e).__name__}: {e}", "unparseable"
        ) from e
    if not parsed.get("version") and not parsed.entries:
        snippet = clean_text(data[:80].decode(prepared.charset, "replace"))
        problem = parsed.get("bozo_exception")
        kind = "HTML page" if b"<html" in data[:2048].lower() else "document"
        raise ParseError(
            url,
            f"not an RSS/Atom feed: got an {kind} ({media_type or 'no content type'}), "
            f"starting {snippet!r}" + (f"; parser said: {problem}" if problem else ""),
            "not_a_feed",
        )
    warnings.extend(feedparser_warnings(parsed, prepared.charset))
    feed_lang = str(parsed.feed.get("language", "") or "")[:2].lower() or None
    hint = language_hint or feed_lang
    local = _zone(hint)
    base = _base_url(url, headers)
    articles = [
        _feedparser_entry(e, feed=feed, base=base, now=now, local=local, language_hint=hint)
        for e in parsed.entries
    ]
    feed_title = _text_of(parsed.feed.get("title_detail"), parsed.feed.get("title", "") or "")
    return ParsedFeed(
        title=clean_text(feed_title, MAX_TITLE_CHARS),
        version=parsed.get("version", "") or "unknown",
        encoding=prepared.codec,
        articles=first_wins(articles),
        warnings=tuple(warnings),
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or ""


def _base_url(url: str, headers: Mapping[str, str]) -> str:
    """What relative entry links are resolved against: the response's Content-Location
    (itself resolved against the request URL) when it names an http(s) URL, else the URL
    the body came from. An entry's xml:base has been applied by feedparser already."""
    location = _header(headers, "content-location").strip()
    if not location:
        return url
    try:
        base = urljoin(url, location)
    except ValueError:  # a malformed IPv6 host, say
        return url
    return base if base.lower().startswith(("http://", "https://")) else url


def feedparser_warnings(parsed: Any, charset: str) -> list[str]:
    """What feedparser's ``bozo`` says about a document we handed it in ``charset``.

    feedparser reports one exception only, and a later XML error replaces an encoding
    override, so the encoding it settled on is compared with ours as well: a feed it read in
    another charset (CharacterEncodingOverride) or in none (CharacterEncodingUnknown) is
    never a silent success."""
    warnings = []
    problem = parsed.get("bozo_exception")
    name = type(problem).__name__ if parsed.get("bozo") else ""
    used = str(parsed.get("encoding") or "")
    if name in ("CharacterEncodingOverride", "CharacterEncodingUnknown") or (
        codec_name(used) != codec_name(charset)
    ):
        read_as = f"read it as {used}" if used else "could not decode it"
        warnings.append(f"encoding: handed over as {charset}, but feedparser {read_as}")
    ignored = ("CharacterEncodingOverride", "CharacterEncodingUnknown", "NonXMLContentType")
    if name and name not in ignored:
        warnings.append(f"not well-formed ({problem}); entries read by the lenient parser")
    return warnings


def codec_name(label: str) -> str:
    """One spelling per codec (feedparser reports ``windows-1252``, Python says ``cp1252``)."""
    return encoding.codec_for(label) or label.lower()


def _zone(language: str | None) -> tzinfo:
    return dates.TOKYO if language == "ja" else UTC
