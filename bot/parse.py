"""Parse a fetched feed body into :class:`~bot.models.Article` records.

Pure and CPU-bound: the poller runs it in worker processes. feedparser gets the raw bytes
and the response headers (never decoded text), with a charset chosen by
:mod:`bot.encoding`; RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 go through feedparser, JSON Feed is
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
from urllib.parse import urljoin

import feedparser

from bot import dates, encoding
from bot.canonical import canonicalize
from bot.errors import ParseError
from bot.models import Article, DateSource, ParsedFeed
from bot.text import collapse, html_to_text, truncate

MAX_SUMMARY_CHARS = 4000
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


def _make_article(
    *,
    feed: str,
    entry_id: str | None,
    title: str,
    link: str,
    summary: str,
    published: datetime | None,
    updated: datetime | None,
    now: datetime,
    language: str,
    authors: tuple[str, ...],
    tags: tuple[str, ...],
    published_raw: str,
) -> Article:
    summary = truncate(summary, MAX_SUMMARY_CHARS)
    if not entry_id:
        # No guid and no link: a title+date hash is the best identity left.
        entry_id = link or "sha1:" + hashlib.sha1(f"{title}\0{published_raw}".encode()).hexdigest()
    source: DateSource = "published"
    when = published
    if when is None:
        when, source = updated, "updated"
    if when is None or when > now + FUTURE_TOLERANCE:
        when, source = now, "first_seen"
    canonical = canonicalize(link) if link else ""
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


def _text_of(detail: Mapping[str, Any] | None, value: str) -> str:
    kind = (detail or {}).get("type", "text/plain")
    if kind in _HTML_TYPES:
        return html_to_text(value)
    # Plain-text titles still arrive double-escaped ("&amp;#165;") from many publishers;
    # decode entities but keep a literal "<update>" as text.
    return collapse(html.unescape(value))


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
        link = urljoin(base, link)
    html = entry.get("summary", "")
    if not html and entry.get("content"):
        html = entry["content"][0].get("value", "")
    summary = html_to_text(html)
    published_raw = _raw(entry, "published") or ""
    published = dates.entry_datetime(published_raw, _raw(entry, "published_parsed"), local)
    updated_raw = _raw(entry, "updated") or ""
    updated = dates.entry_datetime(updated_raw, _raw(entry, "updated_parsed"), local)
    authors = tuple(
        a["name"].strip() for a in entry.get("authors", []) if a.get("name", "").strip()
    )
    if not authors and entry.get("author"):
        authors = (entry["author"].strip(),)
    tags = tuple(t["term"].strip() for t in entry.get("tags", []) if (t.get("term") or "").strip())
    return _make_article(
        feed=feed,
        entry_id=(entry.get("id") or "").strip() or None,
        title=title,
        link=link,
        summary=summary,
        published=published,
        updated=updated,
        now=now,
        language=detect_language(f"{title} {summary[:300]}", language_hint),
        authors=authors,
        tags=tags,
        published_raw=published_raw or updated_raw,
    )


def _looks_like_json(body: bytes, content_type: str) -> bool:
    return "json" in content_type or body.lstrip()[:1] == b"{"


def _parse_json_feed(
    body: bytes, *, feed: str, now: datetime, local: tzinfo, language_hint: str | None, url: str
) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ParseError(url, f"invalid JSON: {e}", "not_a_feed") from e
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        raise ParseError(
            url, "JSON document is not a JSON Feed (no jsonfeed.org version)", "not_a_feed"
        )
    articles = []
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        title = collapse(str(item.get("title") or ""))
        html = item.get("summary") or item.get("content_html") or item.get("content_text") or ""
        summary = html_to_text(str(html))
        raw = item.get("date_published")
        authors_raw = item.get("authors") or ([item["author"]] if item.get("author") else [])
        articles.append(
            _make_article(
                feed=feed,
                entry_id=str(item.get("id") or "").strip() or None,
                title=title,
                link=str(item.get("url") or item.get("external_url") or "").strip(),
                summary=summary,
                published=dates.entry_datetime(raw, None, local) if raw else None,
                updated=dates.entry_datetime(item.get("date_modified"), None, local)
                if item.get("date_modified")
                else None,
                now=now,
                language=item.get("language")
                or detect_language(f"{title} {summary[:300]}", language_hint),
                authors=tuple(
                    str(a.get("name")) for a in authors_raw if isinstance(a, dict) and a.get("name")
                ),
                tags=tuple(str(t) for t in item.get("tags") or []),
                published_raw=str(raw or ""),
            )
        )
    return ParsedFeed(
        title=collapse(str(data.get("title") or "")),
        version="json1",
        encoding="utf-8",
        articles=_first_wins(articles),
    )


def _first_wins(articles: list[Article]) -> tuple[Article, ...]:
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
    content_type = headers.get("content-type", "")
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
    if media_type and "xml" not in media_type and media_type not in ("text/plain",):
        warnings.append(f"served as {media_type}, not an XML feed type")
    parsed = feedparser.parse(
        data,
        # No content-location: feedparser would then resolve every link and guid of every
        # entry (a quarter of its time); we resolve the one link we keep, if it is relative.
        response_headers={"content-type": f"application/xml; charset={prepared.charset}"},
        # We reduce HTML to plain text ourselves; both passes would cost 2x CPU for nothing.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.get("version") and not parsed.entries:
        snippet = collapse(data[:80].decode(prepared.charset, "replace"))
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
    articles = [
        _feedparser_entry(e, feed=feed, base=url, now=now, local=local, language_hint=hint)
        for e in parsed.entries
    ]
    return ParsedFeed(
        title=collapse(parsed.feed.get("title", "") or ""),
        version=parsed.get("version", "") or "unknown",
        encoding=prepared.codec,
        articles=_first_wins(articles),
        warnings=tuple(warnings),
    )


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
